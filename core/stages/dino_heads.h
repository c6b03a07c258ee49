#pragma once
// DINO / iBOT projection head as DINOv2 builds it: an MLP (Linear → GELU → Linear → GELU →
// Linear to a bottleneck), L2 normalisation, then a weight-normalised linear layer without
// bias onto K prototypes whose norm is fixed to 1 (DINO's norm_last_layer), so the logits are
// cosine similarities between the bottleneck feature and each prototype. Parameter names
// follow DINOv2 ("mlp.0", "mlp.2", "mlp.4", "last_layer.weight_g", "last_layer.weight_v").
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace astroclip::stages {

struct DinoHeadConfig {
    int64_t hiddenDim = 256;       // DINOv2: 2048
    // DINOv2: 256 (384 for iBOT in some configs). Keep it wide: cosines between random unit
    // vectors spread by 1/√d, so a narrow bottleneck makes the initial softmax (τ = 0.1) far
    // from flat, and flattening it towards a still uniform teacher pulls every image to the
    // same vector (measured: 32-d lost the teacher's image information, 256-d gained it).
    int64_t bottleneckDim = 256;
    int64_t prototypes = 1024;     // DINOv2 / AstroDINO: 65,536; modest for CPU models
    void validate() const;         // UsageError for a non-positive size
};

// The last layer: weight = g · v / ‖v‖ per prototype, g a fixed buffer of ones.
class PrototypeLayerImpl : public torch::nn::Module {
public:
    PrototypeLayerImpl(int64_t inDim, int64_t prototypes);
    torch::Tensor forward(const torch::Tensor& x);  // [N, inDim] → [N, K]
    torch::Tensor weight_g;  // [K, 1], buffer
    torch::Tensor weight_v;  // [K, inDim], parameter
    // While set, forward() uses weight_v without recording a gradient for it (DINOv2's
    // freeze_last_layer: the prototypes hold still while the rest of the student moves), so
    // the optimizer leaves it exactly as it is.
    bool frozen = false;
};
TORCH_MODULE(PrototypeLayer);

class DinoHeadImpl : public torch::nn::Module {
public:
    DinoHeadImpl(int64_t inDim, DinoHeadConfig config);
    torch::Tensor forward(const torch::Tensor& x);  // [N, inDim] → logits [N, K]
    torch::nn::Sequential mlp{nullptr};
    PrototypeLayer last_layer{nullptr};
    DinoHeadConfig config;
};
TORCH_MODULE(DinoHead);

} // namespace astroclip::stages
