#include "core/stages/dino_heads.h"

#include "core/common/error.h"
#include "core/models/layers.h"

#include <torch/torch.h>

#include <cmath>

namespace astroclip::stages {

void DinoHeadConfig::validate() const {
    if (hiddenDim < 1 || bottleneckDim < 1 || prototypes < 1)
        throw UsageError("DINO head sizes must be positive (hidden " + std::to_string(hiddenDim) + ", bottleneck " +
                         std::to_string(bottleneckDim) + ", prototypes " + std::to_string(prototypes) + ")");
}

PrototypeLayerImpl::PrototypeLayerImpl(int64_t inDim, int64_t prototypes) {
    weight_g = register_buffer("weight_g", torch::ones({prototypes, 1}));
    weight_v = register_parameter("weight_v", torch::empty({prototypes, inDim}));
    // nn.Linear's default, as DINOv2's weight_norm(nn.Linear) starts from: uniform in
    // ±1/√inDim. Only the direction enters the forward pass, but the length sets how far one
    // AdamW step (≈ lr per element) turns a prototype.
    torch::NoGradGuard noGrad;
    const double bound = 1.0 / std::sqrt(double(inDim));
    weight_v.uniform_(-bound, bound);
}

torch::Tensor PrototypeLayerImpl::forward(const torch::Tensor& x) {
    const auto v = frozen ? weight_v.detach() : weight_v;
    const auto weight = weight_g * v / v.norm(2, 1, true);
    return torch::matmul(x, weight.t());
}

DinoHeadImpl::DinoHeadImpl(int64_t inDim, DinoHeadConfig config) : config(config) {
    config.validate();
    mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(inDim, config.hiddenDim), torch::nn::GELU(),
                                                        torch::nn::Linear(config.hiddenDim, config.hiddenDim),
                                                        torch::nn::GELU(),
                                                        torch::nn::Linear(config.hiddenDim, config.bottleneckDim)));
    last_layer = register_module("last_layer", PrototypeLayer(config.bottleneckDim, config.prototypes));
    // Truncated normals and zero biases as in DINOv2, but with std 1/√fan_in instead of its
    // fixed 0.02. 0.02 ≈ 1/√2048 is a gain of ~1 per layer only at DINOv2's widths (1024 →
    // 2048 → 2048 → 256); in a narrow head (64 → 256 → 256 → 64) it shrinks the bottleneck to
    // ~1 % of unit length, so within the first AdamW steps (each moving a bias by ≈ lr) the
    // image-independent biases outweigh the image-dependent part, the L2-normalised bottleneck
    // becomes the same vector for every image, centering then flattens the teacher to
    // uniform and the DINO loss climbs to log K. A gain of one keeps ‖z‖ ~ 1 at any width.
    torch::NoGradGuard noGrad;
    for (auto& module : mlp->children())
        if (auto* linear = module->as<torch::nn::Linear>()) {
            const double std = 1.0 / std::sqrt(double(linear->weight.size(1)));
            models::truncNormal_(linear->weight, 0.0, std, -2.0, 2.0);
            linear->bias.zero_();
        }
}

torch::Tensor DinoHeadImpl::forward(const torch::Tensor& x) {
    auto z = mlp->forward(x);
    z = torch::nn::functional::normalize(z, torch::nn::functional::NormalizeFuncOptions().dim(-1).p(2).eps(1e-6));
    return last_layer->forward(z);
}

} // namespace astroclip::stages
