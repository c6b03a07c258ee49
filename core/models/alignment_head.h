#pragma once
// AstroCLIP's alignment head: one learned query cross-attends (multi-head) over a frozen
// backbone's tokens, a LayerNorm follows, then an MLP with 4× expansion, with a residual
// around the MLP for spectra and none for images (AstroCLIP's two heads). The output is the
// shared embedding [B, E]; L2-normalise it for the CLIP loss and for search. Parameter names
// follow AstroCLIP's ("cross_attention.query", "cross_attention.multihead_attn.*" as
// torch.nn.MultiheadAttention names them, "cross_attention.layernorm", "mlp.encoder",
// "mlp.decoder") so its checkpoints load.
#include "core/models/layers.h"

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>

namespace astroclip::models {

struct AlignmentHeadConfig {
    std::string name = "image";
    int64_t tokenDim = 1024;   // width of the backbone tokens (keys and values)
    int64_t embedDim = 1024;   // shared embedding dimension (query and output)
    int64_t numHeads = 4;
    double mlpRatio = 4.0;
    bool residual = false;     // output = x + mlp(x) instead of mlp(x)
    double dropout = 0.0;      // AstroCLIP trains with 0.1
    double layerNormEps = 1e-5;

    static AlignmentHeadConfig forImages(int64_t tokenDim, int64_t embedDim = 1024);
    static AlignmentHeadConfig forSpectra(int64_t tokenDim, int64_t embedDim = 1024);
    void validate() const;
};

// torch.nn.MultiheadAttention's arithmetic and parameter names for a query of width E over
// keys/values of width kdim: "in_proj_weight" [3E, E] when kdim == E, else "q_proj_weight"
// [E, E], "k_proj_weight" and "v_proj_weight" [E, kdim]; "in_proj_bias" [3E]; "out_proj".
class MultiheadCrossAttentionImpl : public torch::nn::Module {
public:
    MultiheadCrossAttentionImpl(int64_t embedDim, int64_t keyDim, int64_t numHeads, double dropout);
    // query [B, Nq, E], tokens [B, N, kdim] → output [B, Nq, E] and, in `weights`, the
    // per-head attention [B, H, Nq, N].
    torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& tokens,
                          torch::Tensor* weights = nullptr);

    torch::Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
    torch::nn::Linear out_proj{nullptr};
    int64_t embedDim, keyDim, numHeads;
    double dropout;
};
TORCH_MODULE(MultiheadCrossAttention);

class CrossAttentionPoolImpl : public torch::nn::Module {
public:
    explicit CrossAttentionPoolImpl(const AlignmentHeadConfig& config);
    // tokens [B, N, kdim] → [B, 1, E] = layernorm(dropout(attention(query, tokens))).
    torch::Tensor forward(const torch::Tensor& tokens, torch::Tensor* weights = nullptr);

    torch::Tensor query;  // [1, 1, E]
    MultiheadCrossAttention multihead_attn{nullptr};
    torch::nn::LayerNorm layernorm{nullptr};
    double dropout;
};
TORCH_MODULE(CrossAttentionPool);

struct AlignmentOutput {
    torch::Tensor embedding;  // [B, E], not normalised
    torch::Tensor attention;  // [B, H, N]: where each head of the query looked
};

class AlignmentHeadImpl : public torch::nn::Module {
public:
    explicit AlignmentHeadImpl(AlignmentHeadConfig config);
    // tokens [B, N, tokenDim] from a backbone (all of them: class, register and patch
    // tokens of a ViT, or every SpecFormer token).
    AlignmentOutput forward(const torch::Tensor& tokens);
    const AlignmentHeadConfig& config() const { return config_; }

    CrossAttentionPool cross_attention{nullptr};
    TwoLayerMlp mlp{nullptr};

private:
    AlignmentHeadConfig config_;
};
TORCH_MODULE(AlignmentHead);

} // namespace astroclip::models
