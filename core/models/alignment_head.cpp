#include "core/models/alignment_head.h"

#include "core/common/error.h"
#include "core/models/attention.h"

#include <torch/torch.h>

namespace astroclip::models {

AlignmentHeadConfig AlignmentHeadConfig::forImages(int64_t tokenDim, int64_t embedDim) {
    AlignmentHeadConfig c;
    c.name = "image";
    c.tokenDim = tokenDim;
    c.embedDim = embedDim;
    c.residual = false;
    return c;
}

AlignmentHeadConfig AlignmentHeadConfig::forSpectra(int64_t tokenDim, int64_t embedDim) {
    AlignmentHeadConfig c = forImages(tokenDim, embedDim);
    c.name = "spectrum";
    c.residual = true;
    return c;
}

void AlignmentHeadConfig::validate() const {
    const auto fail = [this](const std::string& what) {
        throw UsageError("alignment head '" + name + "': " + what);
    };
    if (tokenDim <= 0 || embedDim <= 0 || numHeads <= 0 || mlpRatio <= 0.0) fail("sizes must be positive");
    if (embedDim % numHeads != 0)
        fail("embedding dimension " + std::to_string(embedDim) + " is not divisible by " +
             std::to_string(numHeads) + " heads");
    if (dropout < 0.0 || dropout >= 1.0) fail("dropout must be in [0, 1)");
}

MultiheadCrossAttentionImpl::MultiheadCrossAttentionImpl(int64_t embed, int64_t key, int64_t heads,
                                                         double dropoutRate)
    : embedDim(embed), keyDim(key), numHeads(heads), dropout(dropoutRate) {
    // torch.nn.MultiheadAttention's init: Xavier-uniform projections, zero biases.
    if (keyDim == embedDim) {
        in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * embedDim, embedDim}));
        torch::nn::init::xavier_uniform_(in_proj_weight);
    } else {
        q_proj_weight = register_parameter("q_proj_weight", torch::empty({embedDim, embedDim}));
        k_proj_weight = register_parameter("k_proj_weight", torch::empty({embedDim, keyDim}));
        v_proj_weight = register_parameter("v_proj_weight", torch::empty({embedDim, keyDim}));
        for (auto* w : {&q_proj_weight, &k_proj_weight, &v_proj_weight}) torch::nn::init::xavier_uniform_(*w);
    }
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * embedDim}));
    out_proj = register_module("out_proj", torch::nn::Linear(embedDim, embedDim));
    torch::NoGradGuard noGrad;
    out_proj->bias.zero_();
}

torch::Tensor MultiheadCrossAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& tokens,
                                                   torch::Tensor* weights) {
    const int64_t batch = query.size(0), queries = query.size(1), count = tokens.size(1);
    const int64_t headDim = embedDim / numHeads;
    const auto biases = in_proj_bias.chunk(3);
    torch::Tensor q, k, v;
    if (in_proj_weight.defined()) {
        const auto w = in_proj_weight.chunk(3);
        q = torch::nn::functional::linear(query, w[0], biases[0]);
        k = torch::nn::functional::linear(tokens, w[1], biases[1]);
        v = torch::nn::functional::linear(tokens, w[2], biases[2]);
    } else {
        q = torch::nn::functional::linear(query, q_proj_weight, biases[0]);
        k = torch::nn::functional::linear(tokens, k_proj_weight, biases[1]);
        v = torch::nn::functional::linear(tokens, v_proj_weight, biases[2]);
    }
    const auto heads = [&](const torch::Tensor& t, int64_t n) {
        return t.reshape({batch, n, numHeads, headDim}).transpose(1, 2);
    };
    // One query per sample: the weights cost nothing next to the backbone, so they are always
    // computed here and kept for attention maps.
    auto attention = attentionWeights(heads(q, queries), heads(k, count));
    if (weights) *weights = attention;
    attention = torch::dropout(attention, dropout, is_training());
    const auto out = torch::matmul(attention, heads(v, count)).transpose(1, 2).reshape({batch, queries, embedDim});
    return out_proj->forward(out);
}

CrossAttentionPoolImpl::CrossAttentionPoolImpl(const AlignmentHeadConfig& config) : dropout(config.dropout) {
    query = register_parameter("query", torch::randn({1, 1, config.embedDim}));
    multihead_attn = register_module("multihead_attn",
                                     MultiheadCrossAttention(config.embedDim, config.tokenDim,
                                                             config.numHeads, config.dropout));
    layernorm = register_module(
        "layernorm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.embedDim}).eps(config.layerNormEps)));
}

torch::Tensor CrossAttentionPoolImpl::forward(const torch::Tensor& tokens, torch::Tensor* weights) {
    const auto attended = multihead_attn->forward(query.expand({tokens.size(0), -1, -1}), tokens, weights);
    return layernorm->forward(torch::dropout(attended, dropout, is_training()));
}

AlignmentHeadImpl::AlignmentHeadImpl(AlignmentHeadConfig config) : config_(std::move(config)) {
    config_.validate();
    cross_attention = register_module("cross_attention", CrossAttentionPool(config_));
    mlp = register_module("mlp", TwoLayerMlp(config_.embedDim,
                                             static_cast<int64_t>(config_.embedDim * config_.mlpRatio),
                                             config_.dropout));
}

AlignmentOutput AlignmentHeadImpl::forward(const torch::Tensor& tokens) {
    if (tokens.dim() != 3 || tokens.size(2) != config_.tokenDim)
        throw UsageError("alignment head '" + config_.name + "' takes tokens [batch, count, " +
                         std::to_string(config_.tokenDim) + "]");
    torch::Tensor weights;
    auto x = cross_attention->forward(tokens, &weights);
    x = config_.residual ? x + mlp->forward(x) : mlp->forward(x);
    return {x.squeeze(1), weights.squeeze(2)};
}

} // namespace astroclip::models
