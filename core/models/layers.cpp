#include "core/models/layers.h"

#include <torch/torch.h>

#include <cmath>

namespace astroclip::models {

void truncNormal_(torch::Tensor& tensor, double mean, double std, double a, double b) {
    torch::NoGradGuard noGrad;
    const auto normalCdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
    const double lower = normalCdf((a - mean) / std);
    const double upper = normalCdf((b - mean) / std);
    tensor.uniform_(2.0 * lower - 1.0, 2.0 * upper - 1.0);
    tensor.erfinv_();
    tensor.mul_(std * std::sqrt(2.0));
    tensor.add_(mean);
    tensor.clamp_(a, b);
}

torch::Tensor dropPath(const torch::Tensor& branch, double rate, bool training) {
    if (!training || rate <= 0.0) return branch;
    const double keep = 1.0 - rate;
    std::vector<int64_t> shape(static_cast<size_t>(branch.dim()), 1);
    shape[0] = branch.size(0);
    const auto keepMask = torch::empty(shape, branch.options()).bernoulli_(keep);
    return branch * keepMask / keep;
}

LayerScaleImpl::LayerScaleImpl(int64_t dim, double initValue) {
    gamma = register_parameter("gamma", torch::full({dim}, initValue));
}

TwoLayerMlpImpl::TwoLayerMlpImpl(int64_t dim, int64_t hidden, double dropoutRate)
    : dropout(dropoutRate) {
    encoder = register_module("encoder", torch::nn::Linear(dim, hidden));
    decoder = register_module("decoder", torch::nn::Linear(hidden, dim));
}

torch::Tensor TwoLayerMlpImpl::forward(const torch::Tensor& x) {
    return torch::dropout(decoder->forward(torch::gelu(encoder->forward(x))), dropout, is_training());
}

} // namespace astroclip::models
