#include "core/maps/pca.h"

#include "core/common/error.h"

#include <Eigen/Eigenvalues>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace astroclip::maps {

namespace {

constexpr int64_t kRowBlock = 4096;

void checkInput(const float* x, int64_t n, int64_t d, int k) {
    if (!x || n < 2 || d < 1)
        throw UsageError("PCA needs at least 2 rows of at least 1 value (got " + std::to_string(n) + " × " +
                         std::to_string(d) + ")");
    if (k < 1 || k > std::min(n, d))
        throw UsageError("PCA components must be between 1 and min(rows, dims) = " +
                         std::to_string(std::min(n, d)) + " (got " + std::to_string(k) + ")");
    for (int64_t i = 0; i < n * d; ++i)
        if (!std::isfinite(x[i]))
            throw UsageError("PCA input row " + std::to_string(i / d) + " holds NaN or Inf");
}

// Rows [begin, end) of x minus the mean, in double, row-major.
std::vector<double> centredRows(const float* x, int64_t d, int64_t begin, int64_t end, const std::vector<double>& mean) {
    std::vector<double> out((end - begin) * d);
    for (int64_t i = begin; i < end; ++i)
        for (int64_t j = 0; j < d; ++j) out[(i - begin) * d + j] = double(x[i * d + j]) - mean[j];
    return out;
}

} // namespace

PcaModel fitPca(const float* x, int64_t n, int64_t d, int k, const ProgressFn& progress) {
    checkInput(x, n, d, k);
    PcaModel model;
    model.dims = d;
    model.components = k;
    model.mean.assign(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) model.mean[j] += x[i * d + j];
    for (auto& m : model.mean) m /= double(n);

    const int64_t m = std::min(n, d);  // size of the matrix we decompose
    Eigen::MatrixXd scatter = Eigen::MatrixXd::Zero(m, m);
    std::vector<double> centred;  // kept when n < d: the components come back through it
    if (d <= n) {
        // Scatter matrix XcᵀXc, upper triangle, accumulated block by block.
        for (int64_t begin = 0; begin < n; begin += kRowBlock) {
            const int64_t end = std::min(n, begin + kRowBlock);
            const auto block = centredRows(x, d, begin, end, model.mean);
            cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, int(d), int(end - begin), 1.0, block.data(), int(d), 1.0,
                        scatter.data(), int(d));
            report(progress, {"pca", end, n, {}});
        }
    } else {
        // Gram matrix XcXcᵀ (n × n); row-major Xc is column-major Xcᵀ.
        centred = centredRows(x, d, 0, n, model.mean);
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, int(n), int(d), 1.0, centred.data(), int(d), 0.0,
                    scatter.data(), int(n));
        report(progress, {"pca", n, n, {}});
    }
    const Eigen::MatrixXd full = scatter.selfadjointView<Eigen::Upper>();
    model.totalVariance = full.trace() / double(n - 1);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(full);
    if (eig.info() != Eigen::Success) throw Error("PCA: the eigen-decomposition of the covariance failed");

    model.axes.assign(k * d, 0.0);
    for (int c = 0; c < k; ++c) {
        const int64_t col = m - 1 - c;  // eigenvalues come in increasing order
        const double lambda = std::max(0.0, eig.eigenvalues()(col));
        model.explainedVariance.push_back(lambda / double(n - 1));
        model.explainedVarianceRatio.push_back(model.totalVariance > 0 ? lambda / double(n - 1) / model.totalVariance : 0.0);
        double* axis = model.axes.data() + c * d;
        if (d <= n) {
            for (int64_t j = 0; j < d; ++j) axis[j] = eig.eigenvectors()(j, col);
        } else {
            // v = Xcᵀ u / |Xcᵀ u|
            double norm = 0;
            for (int64_t j = 0; j < d; ++j) {
                double s = 0;
                for (int64_t i = 0; i < n; ++i) s += centred[i * d + j] * eig.eigenvectors()(i, col);
                axis[j] = s;
                norm += s * s;
            }
            norm = std::sqrt(norm);
            for (int64_t j = 0; j < d; ++j) axis[j] = norm > 0 ? axis[j] / norm : 0.0;
        }
        const auto largest = std::max_element(axis, axis + d, [](double a, double b) { return std::fabs(a) < std::fabs(b); });
        if (*largest < 0)
            for (int64_t j = 0; j < d; ++j) axis[j] = -axis[j];
    }
    return model;
}

std::vector<float> PcaModel::transform(const float* x, int64_t n) const {
    std::vector<float> out(n * components);
    for (int64_t begin = 0; begin < n; begin += kRowBlock) {
        const int64_t end = std::min(n, begin + kRowBlock);
        const auto block = centredRows(x, dims, begin, end, mean);
        std::vector<double> scores((end - begin) * components);
        // scores (rows × k) = block (rows × d) · axesᵀ (d × k), row-major.
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(end - begin), components, int(dims), 1.0, block.data(),
                    int(dims), axes.data(), int(dims), 0.0, scores.data(), components);
        std::transform(scores.begin(), scores.end(), out.begin() + begin * components, [](double v) { return float(v); });
    }
    return out;
}

std::vector<float> pcaMap(const float* x, int64_t n, int64_t d, int k, const ProgressFn& progress, PcaModel* model) {
    PcaModel fitted = fitPca(x, n, d, k, progress);
    auto out = fitted.transform(x, n);
    if (model) *model = std::move(fitted);
    return out;
}

} // namespace astroclip::maps
