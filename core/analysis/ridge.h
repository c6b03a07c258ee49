#pragma once
// Ridge regression with the regularisation chosen by efficient leave-one-out cross-validation
// (scikit-learn's RidgeCV with its default generalised-CV mode, fit_intercept=True): the
// linear probe of the AstroCLIP evaluation. One SVD of the centred design matrix gives the
// leave-one-out residuals of every alpha at once; the alpha with the smallest mean squared
// leave-one-out error (over samples and targets) is kept and the model refitted with it.
// Several targets share one alpha (scikit-learn's alpha_per_target=False). float64 throughout.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace astroclip::analysis {

struct RidgeOptions {
    // scikit-learn's RidgeCV default is (0.1, 1, 10); a wider grid suits embeddings of any scale.
    std::vector<double> alphas = {1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4};
};

struct RidgeModel {
    at::Tensor coef;       // [D, T] float64 (CPU)
    at::Tensor intercept;  // [T]
    double alpha = 0;      // the one chosen
    std::vector<double> looMse;  // mean squared leave-one-out error per alpha, in options order

    // x [M, D] → predictions [M, T] float64.
    at::Tensor predict(const at::Tensor& x) const;
};

// x [N, D], y [N] or [N, T] (finite). UsageError for fewer than 2 samples, shapes that do not
// fit, a non-positive alpha or non-finite values.
RidgeModel fitRidgeCV(const at::Tensor& x, const at::Tensor& y, const RidgeOptions& options = {});

} // namespace astroclip::analysis
