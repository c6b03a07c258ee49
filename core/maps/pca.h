#pragma once
// PCA of embeddings (centred, no whitening): the fast alternative to UMAP for maps, and
// UMAP's PCA initialisation. Semantics of scikit-learn's PCA: explained variance with n - 1
// degrees of freedom, components as unit rows ordered by decreasing variance. Each component's
// sign is fixed so that its largest-magnitude entry is positive (scikit-learn decides the sign
// from the scores instead; compare up to sign).
//
// Method: eigen-decomposition (Eigen, self-adjoint) of the d × d covariance accumulated in
// double with BLAS (dsyrk) over row blocks, or of the n × n Gram matrix when n < d. Exact; the
// cost is n d² + d³ (or n² d + n³), fine for embeddings (d ≤ a few thousand).
#include "core/common/progress.h"

#include <cstdint>
#include <vector>

namespace astroclip::maps {

struct PcaModel {
    int64_t dims = 0;                          // input dimension d
    int components = 0;                        // k
    std::vector<double> mean;                  // d
    std::vector<double> axes;                  // k × d, row-major, orthonormal rows
    std::vector<double> explainedVariance;     // k, covariance eigenvalues (ddof = 1)
    std::vector<double> explainedVarianceRatio;// k, share of the total variance
    double totalVariance = 0;                  // sum of all d variances (ddof = 1)

    // Projects n rows of `dims` values onto the components: n × k float32, row-major.
    std::vector<float> transform(const float* x, int64_t n) const;
};

// Fits k ≤ min(n, d) components to n rows of d float32 values (row-major). Reports phase
// "pca" (rows accumulated); throws UsageError for k out of range, n < 2, NaN/Inf values.
PcaModel fitPca(const float* x, int64_t n, int64_t d, int k, const ProgressFn& progress = {});

// fitPca then transform of the same rows.
std::vector<float> pcaMap(const float* x, int64_t n, int64_t d, int k, const ProgressFn& progress = {},
                          PcaModel* model = nullptr);

} // namespace astroclip::maps
