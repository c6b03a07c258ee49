#pragma once
// Vision Transformer with DINOv2's structure and parameter names ("patch_embed.proj",
// "cls_token", "pos_embed", "register_tokens", "mask_token", "blocks.N.{norm1, attn.qkv,
// attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}", "norm"), so DINOv2-family
// weights (and AstroCLIP's image encoder, a DINOv2 ViT-L/12) load by name.
#include "core/models/layers.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <string_view>
#include <vector>

namespace astroclip::models {

struct ViTConfig {
    std::string name = "tiny";      // preset it came from; used in messages
    int64_t imageSize = 64;         // side of the square training image, pixels
    int64_t patchSize = 8;
    int64_t inChannels = 3;         // g, r, z
    int64_t embedDim = 192;
    int64_t depth = 6;
    int64_t numHeads = 3;
    double mlpRatio = 4.0;
    bool qkvBias = true;
    double layerScaleInit = 1e-5;   // DINOv2's training value (hub models were saved with 1.0)
    int64_t numRegisterTokens = 0;  // "Vision Transformers need registers" (DINOv2 *_reg)
    double dropPathRate = 0.0;      // stochastic depth of the last block; linear from 0
    // DINOv2's pos-embed interpolation: bicubic with scale (grid + offset) / grid, antialias
    // off. Keep these as they are to reproduce DINOv2 hub models' numbers.
    double interpolateOffset = 0.1;
    bool interpolateAntialias = false;
    double layerNormEps = 1e-6;

    // "tiny" (192/6/3, patch 8, 64 px: a CPU model), "small" (384/12/6), "base" (768/12/12),
    // "large" (1024/24/16). small/base/large use AstroCLIP's image geometry: patch 12 on
    // 144-px g,r,z cutouts (AstroCLIP's image encoder is "large"). UsageError for others.
    static ViTConfig preset(std::string_view name);
    static std::vector<std::string> presetNames();

    // UsageError naming the inconsistent field.
    void validate() const;
    int64_t gridSize() const { return imageSize / patchSize; }
    int64_t numPatches() const { return gridSize() * gridSize(); }
};

// Resamples DINOv2's position table [1, 1 + M·M, D] (class token first, then an M×M grid)
// to a gridH × gridW grid, as DINOv2's interpolate_pos_encoding does: returned unchanged when
// the grid is already M×M; otherwise bicubic, with scale (grid + offset) / M when offset > 0
// and the exact target size when offset == 0.
torch::Tensor interpolatePosEmbed(const torch::Tensor& posEmbed, int64_t gridH, int64_t gridW,
                                  double offset = 0.1, bool antialias = false);

class PatchEmbedImpl : public torch::nn::Module {
public:
    PatchEmbedImpl(int64_t inChannels, int64_t embedDim, int64_t patchSize);
    // [B, C, H, W] → [B, (H/p)·(W/p), D], patches in row-major order.
    torch::Tensor forward(const torch::Tensor& images);
    torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

class ViTAttentionImpl : public torch::nn::Module {
public:
    ViTAttentionImpl(int64_t dim, int64_t numHeads, bool qkvBias);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear qkv{nullptr};
    torch::nn::Linear proj{nullptr};
    int64_t numHeads;
};
TORCH_MODULE(ViTAttention);

class ViTMlpImpl : public torch::nn::Module {
public:
    ViTMlpImpl(int64_t dim, int64_t hidden);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear fc1{nullptr};
    torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(ViTMlp);

// Pre-norm block: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))), each branch under
// stochastic depth.
class ViTBlockImpl : public torch::nn::Module {
public:
    ViTBlockImpl(const ViTConfig& config, double dropPathRate);
    torch::Tensor forward(torch::Tensor x);
    torch::nn::LayerNorm norm1{nullptr};
    ViTAttention attn{nullptr};
    LayerScale ls1{nullptr};
    torch::nn::LayerNorm norm2{nullptr};
    ViTMlp mlp{nullptr};
    LayerScale ls2{nullptr};
    double dropPathRate = 0.0;
};
TORCH_MODULE(ViTBlock);

// Everything after the final norm. Token order inside the model is [CLS, registers, patches].
struct ViTOutput {
    torch::Tensor cls;        // [B, D]
    torch::Tensor registers;  // [B, R, D]; R = 0 without register tokens
    torch::Tensor patches;    // [B, gridH·gridW, D], row-major over the patch grid
    torch::Tensor tokens;     // [B, 1 + R + gridH·gridW, D]: all of the above, in model order
    int64_t gridH = 0;
    int64_t gridW = 0;
};

class VisionTransformerImpl : public torch::nn::Module {
public:
    explicit VisionTransformerImpl(ViTConfig config);

    // images [B, C, H, W] with H and W multiples of the patch size (any size: the position
    // table is interpolated). patchMask, if given, is bool [B, gridH·gridW]: masked patches'
    // embeddings are replaced by mask_token before position embeddings are added (iBOT).
    ViTOutput forward(const torch::Tensor& images, const torch::Tensor& patchMask = {});

    const ViTConfig& config() const { return config_; }
    const std::vector<ViTBlock>& blockList() const { return blocks_; }

    PatchEmbed patch_embed{nullptr};
    torch::Tensor cls_token;        // [1, 1, D]
    torch::Tensor pos_embed;        // [1, 1 + M·M, D]
    torch::Tensor register_tokens;  // [1, R, D]; undefined when R = 0
    torch::Tensor mask_token;       // [1, D]
    torch::nn::ModuleList blocks{nullptr};
    torch::nn::LayerNorm norm{nullptr};

private:
    void initWeights();

    ViTConfig config_;
    std::vector<ViTBlock> blocks_;
};
TORCH_MODULE(VisionTransformer);

} // namespace astroclip::models
