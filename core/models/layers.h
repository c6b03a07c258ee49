#pragma once
// Small pieces shared by the encoders: initialisers as the reference code uses them,
// stochastic depth and DINOv2's LayerScale.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace astroclip::models {

// Fills `tensor` in place from a normal(mean, std) truncated to [a, b] (inverse-CDF sampling,
// as torch.nn.init.trunc_normal_ does). Runs without recording gradients.
void truncNormal_(torch::Tensor& tensor, double mean, double std, double a, double b);

// Stochastic depth: in training, zeroes each sample's residual branch with probability
// `rate` and scales the survivors by 1 / (1 − rate); identity otherwise.
torch::Tensor dropPath(const torch::Tensor& branch, double rate, bool training);

// DINOv2's LayerScale: a learned per-channel gain on a residual branch (parameter "gamma").
class LayerScaleImpl : public torch::nn::Module {
public:
    LayerScaleImpl(int64_t dim, double initValue);
    torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
    torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

// AstroCLIP's MLP: encoder (expand), GELU, decoder (back to the input width), dropout.
class TwoLayerMlpImpl : public torch::nn::Module {
public:
    TwoLayerMlpImpl(int64_t dim, int64_t hidden, double dropout);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear encoder{nullptr};
    torch::nn::Linear decoder{nullptr};
    double dropout;
};
TORCH_MODULE(TwoLayerMlp);

} // namespace astroclip::models
