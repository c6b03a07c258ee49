#include "core/analysis/ridge.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <limits>
#include <string>

namespace astroclip::analysis {

at::Tensor RidgeModel::predict(const at::Tensor& x) const {
    torch::NoGradGuard noGrad;
    return x.to(torch::kCPU, torch::kDouble).matmul(coef) + intercept.unsqueeze(0);
}

RidgeModel fitRidgeCV(const at::Tensor& xIn, const at::Tensor& yIn, const RidgeOptions& options) {
    if (xIn.dim() != 2) throw UsageError("ridge regression needs samples [N, D], got " + c10::str(xIn.sizes()));
    if (yIn.dim() != 1 && yIn.dim() != 2) throw UsageError("ridge targets must be [N] or [N, T], got " + c10::str(yIn.sizes()));
    if (yIn.size(0) != xIn.size(0))
        throw UsageError("ridge regression got " + std::to_string(yIn.size(0)) + " targets for " +
                         std::to_string(xIn.size(0)) + " samples");
    if (xIn.size(0) < 2) throw UsageError("ridge regression needs at least 2 samples, got " + std::to_string(xIn.size(0)));
    if (options.alphas.empty()) throw UsageError("ridge regression needs at least one alpha");
    for (const double a : options.alphas)
        if (!(a > 0)) throw UsageError("ridge alphas must be positive, got " + std::to_string(a));
    torch::NoGradGuard noGrad;
    const auto x = xIn.to(torch::kCPU, torch::kDouble);
    const auto y = (yIn.dim() == 1 ? yIn.unsqueeze(1) : yIn).to(torch::kCPU, torch::kDouble);
    if (!torch::isfinite(x).all().item<bool>() || !torch::isfinite(y).all().item<bool>())
        throw UsageError("ridge regression got a value that is not finite: drop objects without one first");

    const double n = double(x.size(0));
    const auto xMean = x.mean(0, true), yMean = y.mean(0, true);
    const auto xc = x - xMean, yc = y - yMean;
    // xc = U diag(s) Vᵀ (thin). The hat matrix of the centred problem is U diag(s²/(s²+α)) Uᵀ;
    // the unpenalised intercept adds 1/n to every diagonal element.
    const auto svd = torch::linalg::svd(xc, /*full_matrices=*/false, c10::nullopt);
    const auto& u = std::get<0>(svd);
    const auto& s = std::get<1>(svd);
    const auto& vt = std::get<2>(svd);
    const auto s2 = s.pow(2);
    const auto uty = u.t().matmul(yc);  // [r, T]
    const auto u2 = u.pow(2);           // [N, r]

    RidgeModel model;
    double best = std::numeric_limits<double>::infinity();
    for (const double alpha : options.alphas) {
        const auto shrink = s2 / (s2 + alpha);                        // [r]
        const auto fitted = u.matmul(shrink.unsqueeze(1) * uty);     // [N, T] centred predictions
        const auto hii = u2.matmul(shrink) + 1.0 / n;                // [N]
        const auto loo = (yc - fitted) / (1.0 - hii).unsqueeze(1);   // leave-one-out residuals
        const double mse = loo.pow(2).mean().item<double>();
        model.looMse.push_back(mse);
        // The first of equal scores wins, as numpy's argmin does in scikit-learn.
        if (mse < best) {
            best = mse;
            model.alpha = alpha;
        }
    }
    const auto coefFactor = s / (s2 + model.alpha);  // [r]
    model.coef = vt.t().matmul(coefFactor.unsqueeze(1) * uty);   // [D, T]
    model.intercept = (yMean - xMean.matmul(model.coef)).squeeze(0);
    return model;
}

} // namespace astroclip::analysis
