#include "core/models/specformer.h"

#include "core/common/error.h"
#include "core/models/attention.h"
#include "core/models/layers.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace astroclip::models {

SpecFormerConfig SpecFormerConfig::preset(std::string_view name) {
    SpecFormerConfig c;
    c.name = std::string(name);
    if (name == "tiny") {
        c.maxTokens = 1 + c.numPatches(c.inputLength);
        return c;
    }
    if (name == "full") {
        c.patchLength = 20;
        c.patchStride = 10;
        c.embedDim = 768;
        c.depth = 6;
        c.numHeads = 6;
        c.maxTokens = 800;  // AstroCLIP's max_len
        return c;
    }
    throw UsageError("unknown SpecFormer preset '" + std::string(name) + "' (known: tiny, full)");
}

std::vector<std::string> SpecFormerConfig::presetNames() { return {"tiny", "full"}; }

int64_t SpecFormerConfig::numPatches(int64_t length) const {
    if (length < patchLength) return 0;
    return (length - patchLength) / patchStride + 1;
}

void SpecFormerConfig::validate() const {
    const auto fail = [this](const std::string& what) {
        throw UsageError("SpecFormer configuration '" + name + "': " + what);
    };
    if (inputLength <= 0 || patchLength <= 0 || patchStride <= 0 || embedDim <= 0 || depth <= 0 ||
        numHeads <= 0 || maxTokens <= 0)
        fail("sizes must be positive");
    if (patchStride > patchLength) fail("patch stride exceeds the patch length (pixels would be skipped)");
    if (embedDim % numHeads != 0)
        fail("width " + std::to_string(embedDim) + " is not divisible by " +
             std::to_string(numHeads) + " heads");
    if (numPatches(inputLength) == 0) fail("input length is shorter than one patch");
    if (1 + numPatches(inputLength) > maxTokens)
        fail("position table of " + std::to_string(maxTokens) + " rows is too short for " +
             std::to_string(1 + numPatches(inputLength)) + " tokens");
    if (dropout < 0.0 || dropout >= 1.0) fail("dropout must be in [0, 1)");
    if (minStd <= 0.0) fail("minimum std must be positive");
}

torch::Tensor foldOverlappingPatches(const torch::Tensor& patches, int64_t stride, int64_t length) {
    TORCH_CHECK(patches.dim() == 3, "foldOverlappingPatches: patches must be [B, P, len]");
    const int64_t batch = patches.size(0), count = patches.size(1), width = patches.size(2);
    if (count > 0 && (count - 1) * stride + width > length)
        throw UsageError("patches reach pixel " + std::to_string((count - 1) * stride + width) +
                         " but the spectrum has " + std::to_string(length));
    const auto longs = torch::TensorOptions().dtype(torch::kLong).device(patches.device());
    const auto index = (torch::arange(count, longs) * stride).unsqueeze(1) +
                       torch::arange(width, longs).unsqueeze(0);
    const auto flat = index.flatten();
    const auto sums = torch::zeros({batch, length}, patches.options())
                          .index_add(1, flat, patches.reshape({batch, count * width}));
    const auto counts = torch::zeros({length}, patches.options())
                            .index_add(0, flat, torch::ones({count * width}, patches.options()));
    // where() keeps gradients finite: uncovered pixels take no part in the division.
    const auto nan = torch::full({}, std::numeric_limits<float>::quiet_NaN(), patches.options());
    return torch::where(counts > 0, sums / counts.clamp_min(1.0), nan);
}

SpecAttentionImpl::SpecAttentionImpl(int64_t dim, int64_t heads, double dropoutRate)
    : numHeads(heads), dropout(dropoutRate) {
    attention = register_module("attention", torch::nn::Linear(dim, 3 * dim));
    projection = register_module("projection", torch::nn::Linear(dim, dim));
}

torch::Tensor SpecAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
    const auto parts =
        attention->forward(x).reshape({batch, tokens, 3, numHeads, dim / numHeads}).permute({2, 0, 3, 1, 4});
    const auto out = scaledDotProductAttention(parts[0], parts[1], parts[2],
                                               is_training() ? dropout : 0.0);
    const auto projected = projection->forward(out.transpose(1, 2).reshape({batch, tokens, dim}));
    return torch::dropout(projected, dropout, is_training());
}

SpecBlockImpl::SpecBlockImpl(const SpecFormerConfig& config) {
    const int64_t dim = config.embedDim;
    const auto norm = [&] {
        return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(config.layerNormEps));
    };
    layernorm1 = register_module("layernorm1", norm());
    attention = register_module("attention", SpecAttention(dim, config.numHeads, config.dropout));
    layernorm2 = register_module("layernorm2", norm());
    mlp = register_module("mlp", TwoLayerMlp(dim, static_cast<int64_t>(dim * config.mlpRatio),
                                         config.dropout));
}

torch::Tensor SpecBlockImpl::forward(torch::Tensor x) {
    x = x + attention->forward(layernorm1->forward(x));
    x = x + mlp->forward(layernorm2->forward(x));
    return x;
}

SpecFormerImpl::SpecFormerImpl(SpecFormerConfig config) : config_(std::move(config)) {
    config_.validate();
    const int64_t dim = config_.embedDim;
    data_embed = register_module("data_embed", torch::nn::Linear(config_.tokenWidth(), dim));
    position_embed = register_module("position_embed", torch::nn::Embedding(config_.maxTokens, dim));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < config_.depth; ++i) {
        blocks_.emplace_back(config_);
        blocks->push_back(blocks_.back());
    }
    final_layernorm = register_module(
        "final_layernorm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(config_.layerNormEps)));
    head = register_module("head", torch::nn::Linear(dim, config_.tokenWidth()));
    initWeights();
}

void SpecFormerImpl::initWeights() {
    // AstroCLIP's init: embeddings ~ N(0, 1/D) cut at ±3σ; every linear layer of the
    // blocks ~ N(0, 1/(2·fan_in·depth)) and the head ~ N(0, 1/fan_in), cut at ±3σ, zero bias.
    torch::NoGradGuard noGrad;
    const double embedStd = 1.0 / std::sqrt(static_cast<double>(config_.embedDim));
    truncNormal_(data_embed->weight, 0.0, embedStd, -3 * embedStd, 3 * embedStd);
    truncNormal_(position_embed->weight, 0.0, embedStd, -3 * embedStd, 3 * embedStd);
    const auto initByDepth = [](torch::nn::LinearImpl& linear, double depth) {
        const double std = 1.0 / std::sqrt(2.0 * static_cast<double>(linear.weight.size(1)) * depth);
        truncNormal_(linear.weight, 0.0, std, -3 * std, 3 * std);
        linear.bias.zero_();
    };
    for (auto& module : blocks->modules(/*include_self=*/false))
        if (auto* linear = module->as<torch::nn::LinearImpl>())
            initByDepth(*linear, static_cast<double>(config_.depth));
    initByDepth(*head, 0.5);
}

SpecFormerTokens SpecFormerImpl::tokenize(const torch::Tensor& flux) const {
    if (flux.dim() != 2)
        throw UsageError("SpecFormer '" + config_.name + "' takes flux [batch, pixels], got " +
                         std::to_string(flux.dim()) + " dimensions");
    const int64_t batch = flux.size(0), length = flux.size(1);
    const int64_t patches = config_.numPatches(length);
    if (patches == 0)
        throw UsageError("spectrum of " + std::to_string(length) + " pixels is shorter than one " +
                         std::to_string(config_.patchLength) + "-pixel patch");
    if (1 + patches > config_.maxTokens)
        throw UsageError("spectrum of " + std::to_string(length) + " pixels gives " +
                         std::to_string(1 + patches) + " tokens; SpecFormer '" + config_.name +
                         "' holds at most " + std::to_string(config_.maxTokens));
    SpecFormerTokens out;
    // Unbiased std (torch's default), as AstroCLIP's preprocess().
    const auto mean = flux.mean(1, /*keepdim=*/true);
    const auto std = flux.std(1, /*unbiased=*/true, /*keepdim=*/true).clamp_min(config_.minStd);
    const auto standardised = (flux - mean) / std;
    const auto slices = standardised.unfold(1, config_.patchLength, config_.patchStride);
    const auto patchTokens = torch::cat({torch::zeros({batch, patches, 2}, flux.options()), slices}, 2);
    const auto statsToken = torch::cat({(mean - 2.0) / 2.0, (std - 2.0) / 8.0,
                                        torch::zeros({batch, config_.patchLength}, flux.options())}, 1);
    out.tokens = torch::cat({statsToken.unsqueeze(1), patchTokens}, 1);
    out.mean = mean.squeeze(1);
    out.std = std.squeeze(1);
    return out;
}

SpecFormerOutput SpecFormerImpl::forward(const torch::Tensor& flux) { return encode(tokenize(flux).tokens); }

SpecFormerOutput SpecFormerImpl::encode(const torch::Tensor& tokens) {
    if (tokens.dim() != 3 || tokens.size(2) != config_.tokenWidth() || tokens.size(1) > config_.maxTokens)
        throw UsageError("SpecFormer '" + config_.name + "' takes tokens [batch, ≤ " +
                         std::to_string(config_.maxTokens) + ", " +
                         std::to_string(config_.tokenWidth()) + "]");
    const auto positions = torch::arange(tokens.size(1), torch::TensorOptions()
                                                             .dtype(torch::kLong)
                                                             .device(tokens.device()));
    auto x = data_embed->forward(tokens) + position_embed->forward(positions);
    x = torch::dropout(x, config_.dropout, is_training());
    for (auto& block : blocks_) x = block->forward(x);
    SpecFormerOutput out;
    out.tokens = final_layernorm->forward(x);
    out.reconstruction = head->forward(out.tokens);
    return out;
}

torch::Tensor SpecFormerImpl::reconstructSpectrum(const SpecFormerOutput& output,
                                                  const SpecFormerTokens& input, int64_t length) const {
    const auto patches = output.reconstruction.slice(1, 1).slice(2, 2);
    const auto standardised = foldOverlappingPatches(patches, config_.patchStride, length);
    return standardised * input.std.unsqueeze(1) + input.mean.unsqueeze(1);
}

} // namespace astroclip::models
