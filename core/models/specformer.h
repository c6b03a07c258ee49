#pragma once
// AstroCLIP's SpecFormer: a spectrum is standardised on its own, cut into overlapping
// patches, and encoded by a pre-norm transformer; a linear head reconstructs each token
// (masked-patch pretraining). Parameter names follow AstroCLIP's ("data_embed",
// "position_embed", "blocks.N.{layernorm1, attention.attention, attention.projection,
// layernorm2, mlp.encoder, mlp.decoder}", "final_layernorm", "head") so its checkpoints load.
//
// Token layout, as AstroCLIP's preprocess(): token 0 carries the spectrum's statistics in
// its first two features, ((mean − 2) / 2, (std − 2) / 8), zeros elsewhere; token 1 + p holds
// zeros in its first two features and then patch p of the standardised flux. Tokens are
// therefore patchLength + 2 wide, and the head reconstructs that same token space.
#include "core/models/layers.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <string_view>
#include <vector>

namespace astroclip::models {

struct SpecFormerConfig {
    std::string name = "tiny";
    int64_t inputLength = 7781;  // spectrum pixels the model is built for (DESI grid)
    int64_t patchLength = 80;
    int64_t patchStride = 40;
    int64_t embedDim = 128;
    int64_t depth = 4;
    int64_t numHeads = 4;
    int64_t maxTokens = 194;     // rows of the position table; ≥ 1 + patches(inputLength)
    double mlpRatio = 4.0;
    double dropout = 0.0;        // on embeddings, attention weights and residual branches
    double layerNormEps = 1e-5;
    double minStd = 0.2;         // per-spectrum std is clipped from below before standardising

    // "tiny" (128-d, 4 layers, 4 heads, patches 80/40: 193 patches + 1 on 7781 px) and
    // "full" (AstroCLIP: 768-d, 6 layers, 6 heads, patches 20/10: 777 + 1, table of 800).
    static SpecFormerConfig preset(std::string_view name);
    static std::vector<std::string> presetNames();
    void validate() const;

    // Patches that lie wholly inside a spectrum of `length` pixels; pixels past the last
    // full patch are not seen (one pixel for 7781 px at 20/10, as in AstroCLIP).
    int64_t numPatches(int64_t length) const;
    int64_t tokenWidth() const { return patchLength + 2; }
};

// Overlap-averages patches [B, P, len] placed every `stride` pixels back into [B, length];
// pixels no patch covers are NaN (not reconstructed). Differentiable.
torch::Tensor foldOverlappingPatches(const torch::Tensor& patches, int64_t stride, int64_t length);

class SpecAttentionImpl : public torch::nn::Module {
public:
    SpecAttentionImpl(int64_t dim, int64_t numHeads, double dropout);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear attention{nullptr};   // [q | k | v]
    torch::nn::Linear projection{nullptr};
    int64_t numHeads;
    double dropout;
};
TORCH_MODULE(SpecAttention);

class SpecBlockImpl : public torch::nn::Module {
public:
    explicit SpecBlockImpl(const SpecFormerConfig& config);
    torch::Tensor forward(torch::Tensor x);
    torch::nn::LayerNorm layernorm1{nullptr};
    SpecAttention attention{nullptr};
    torch::nn::LayerNorm layernorm2{nullptr};
    TwoLayerMlp mlp{nullptr};
};
TORCH_MODULE(SpecBlock);

// A batch turned into tokens, with the statistics that undo the standardisation.
struct SpecFormerTokens {
    torch::Tensor tokens;  // [B, 1 + P, patchLength + 2]
    torch::Tensor mean;    // [B]
    torch::Tensor std;     // [B], clipped
};

struct SpecFormerOutput {
    torch::Tensor tokens;          // [B, 1 + P, D] after the final norm ("embedding")
    torch::Tensor reconstruction;  // [B, 1 + P, patchLength + 2], in token space
};

class SpecFormerImpl : public torch::nn::Module {
public:
    explicit SpecFormerImpl(SpecFormerConfig config);

    // flux [B, L] → tokens. UsageError when L is shorter than a patch or gives more
    // tokens than the position table holds.
    SpecFormerTokens tokenize(const torch::Tensor& flux) const;
    // tokenize() then encode().
    SpecFormerOutput forward(const torch::Tensor& flux);
    // Runs the transformer on (possibly masked) tokens [B, T, patchLength + 2].
    SpecFormerOutput encode(const torch::Tensor& tokens);
    // Back to flux units [B, length]: drops the statistics token, folds the patches with
    // overlap averaging and undoes the standardisation; NaN where no patch reaches.
    torch::Tensor reconstructSpectrum(const SpecFormerOutput& output, const SpecFormerTokens& input,
                                      int64_t length) const;

    const SpecFormerConfig& config() const { return config_; }

    torch::nn::Linear data_embed{nullptr};
    torch::nn::Embedding position_embed{nullptr};
    torch::nn::ModuleList blocks{nullptr};
    torch::nn::LayerNorm final_layernorm{nullptr};
    torch::nn::Linear head{nullptr};

private:
    void initWeights();

    SpecFormerConfig config_;
    std::vector<SpecBlock> blocks_;
};
TORCH_MODULE(SpecFormer);

} // namespace astroclip::models
