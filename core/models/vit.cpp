#include "core/models/vit.h"

#include "core/common/error.h"
#include "core/models/attention.h"

#include <torch/torch.h>

#include <cmath>

namespace astroclip::models {

namespace {

torch::nn::LayerNorm makeLayerNorm(int64_t dim, double eps) {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

std::string shapeText(const torch::Tensor& t) {
    std::string text = "[";
    for (int64_t i = 0; i < t.dim(); ++i) text += (i ? "," : "") + std::to_string(t.size(i));
    return text + "]";
}

} // namespace

ViTConfig ViTConfig::preset(std::string_view name) {
    ViTConfig c;
    c.name = std::string(name);
    if (name == "tiny") return c;  // the defaults
    c.imageSize = 144;
    c.patchSize = 12;
    if (name == "small") {
        c.embedDim = 384; c.depth = 12; c.numHeads = 6;
    } else if (name == "base") {
        c.embedDim = 768; c.depth = 12; c.numHeads = 12;
    } else if (name == "large") {
        c.embedDim = 1024; c.depth = 24; c.numHeads = 16;
    } else {
        std::string known;
        for (const auto& n : presetNames()) known += (known.empty() ? "" : ", ") + n;
        throw UsageError("unknown ViT preset '" + std::string(name) + "' (known: " + known + ")");
    }
    return c;
}

std::vector<std::string> ViTConfig::presetNames() { return {"tiny", "small", "base", "large"}; }

void ViTConfig::validate() const {
    const auto fail = [this](const std::string& what) {
        throw UsageError("ViT configuration '" + name + "': " + what);
    };
    if (imageSize <= 0 || patchSize <= 0 || inChannels <= 0 || embedDim <= 0 || depth <= 0 ||
        numHeads <= 0)
        fail("sizes must be positive");
    if (imageSize % patchSize != 0)
        fail("image size " + std::to_string(imageSize) + " is not a multiple of the patch size " +
             std::to_string(patchSize));
    if (embedDim % numHeads != 0)
        fail("width " + std::to_string(embedDim) + " is not divisible by " +
             std::to_string(numHeads) + " heads");
    if (numRegisterTokens < 0) fail("register token count is negative");
    if (dropPathRate < 0.0 || dropPathRate >= 1.0) fail("drop-path rate must be in [0, 1)");
    if (mlpRatio <= 0.0) fail("MLP ratio must be positive");
}

torch::Tensor interpolatePosEmbed(const torch::Tensor& posEmbed, int64_t gridH, int64_t gridW,
                                  double offset, bool antialias) {
    if (posEmbed.dim() != 3 || posEmbed.size(0) != 1 || posEmbed.size(1) < 2)
        throw UsageError("position table has shape " + shapeText(posEmbed) +
                         ", expected [1, 1 + grid cells, width]");
    const int64_t cells = posEmbed.size(1) - 1;
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cells))));
    if (side * side != cells)
        throw UsageError("position table of " + std::to_string(cells) +
                         " patches is not a square grid");
    if (gridH <= 0 || gridW <= 0)
        throw UsageError("cannot interpolate a position table to an empty grid");
    if (gridH == side && gridW == side) return posEmbed;

    const int64_t dim = posEmbed.size(2);
    const auto table = posEmbed.to(torch::kFloat);
    const auto classPart = table.slice(1, 0, 1);
    const auto grid = table.slice(1, 1).reshape({1, side, side, dim}).permute({0, 3, 1, 2});
    // With an offset DINOv2 passes a scale factor rather than a size, which changes where
    // the source samples fall; the output size is floor(side · scale) = grid either way.
    c10::optional<double> scaleH, scaleW;
    if (offset > 0.0) {
        scaleH = (static_cast<double>(gridH) + offset) / static_cast<double>(side);
        scaleW = (static_cast<double>(gridW) + offset) / static_cast<double>(side);
    }
    const auto resized =
        antialias ? at::_upsample_bicubic2d_aa(grid, {gridH, gridW}, false, scaleH, scaleW)
                  : at::upsample_bicubic2d(grid, {gridH, gridW}, false, scaleH, scaleW);
    const auto patchPart = resized.permute({0, 2, 3, 1}).reshape({1, gridH * gridW, dim});
    return torch::cat({classPart, patchPart}, 1).to(posEmbed.scalar_type());
}

PatchEmbedImpl::PatchEmbedImpl(int64_t inChannels, int64_t embedDim, int64_t patchSize) {
    proj = register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(inChannels, embedDim, patchSize)
                                      .stride(patchSize)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& images) {
    return proj->forward(images).flatten(2).transpose(1, 2);
}

ViTAttentionImpl::ViTAttentionImpl(int64_t dim, int64_t heads, bool qkvBias) : numHeads(heads) {
    qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim)
                                                       .bias(qkvBias)));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
    // Feature layout of qkv's output is [q | k | v], each split into heads.
    const auto parts =
        qkv->forward(x).reshape({batch, tokens, 3, numHeads, dim / numHeads}).permute({2, 0, 3, 1, 4});
    const auto out = scaledDotProductAttention(parts[0], parts[1], parts[2]);
    return proj->forward(out.transpose(1, 2).reshape({batch, tokens, dim}));
}

ViTMlpImpl::ViTMlpImpl(int64_t dim, int64_t hidden) {
    fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor ViTMlpImpl::forward(const torch::Tensor& x) {
    return fc2->forward(torch::gelu(fc1->forward(x)));
}

ViTBlockImpl::ViTBlockImpl(const ViTConfig& config, double rate) : dropPathRate(rate) {
    const int64_t dim = config.embedDim;
    norm1 = register_module("norm1", makeLayerNorm(dim, config.layerNormEps));
    attn = register_module("attn", ViTAttention(dim, config.numHeads, config.qkvBias));
    ls1 = register_module("ls1", LayerScale(dim, config.layerScaleInit));
    norm2 = register_module("norm2", makeLayerNorm(dim, config.layerNormEps));
    mlp = register_module("mlp", ViTMlp(dim, static_cast<int64_t>(dim * config.mlpRatio)));
    ls2 = register_module("ls2", LayerScale(dim, config.layerScaleInit));
}

torch::Tensor ViTBlockImpl::forward(torch::Tensor x) {
    x = x + dropPath(ls1->forward(attn->forward(norm1->forward(x))), dropPathRate, is_training());
    x = x + dropPath(ls2->forward(mlp->forward(norm2->forward(x))), dropPathRate, is_training());
    return x;
}

VisionTransformerImpl::VisionTransformerImpl(ViTConfig config) : config_(std::move(config)) {
    config_.validate();
    const int64_t dim = config_.embedDim;
    patch_embed = register_module("patch_embed",
                                  PatchEmbed(config_.inChannels, dim, config_.patchSize));
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, dim}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + config_.numPatches(), dim}));
    if (config_.numRegisterTokens > 0)
        register_tokens = register_parameter("register_tokens",
                                             torch::zeros({1, config_.numRegisterTokens, dim}));
    mask_token = register_parameter("mask_token", torch::zeros({1, dim}));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < config_.depth; ++i) {
        // Stochastic depth grows linearly with depth (DINOv2's default, drop_path_uniform off).
        const double rate = config_.depth > 1
                                ? config_.dropPathRate * static_cast<double>(i) / (config_.depth - 1)
                                : config_.dropPathRate;
        blocks_.emplace_back(config_, rate);
        blocks->push_back(blocks_.back());
    }
    norm = register_module("norm", makeLayerNorm(dim, config_.layerNormEps));
    initWeights();
}

void VisionTransformerImpl::initWeights() {
    // DINOv2's init: truncated-normal position table and linear layers (σ = 0.02, cut at
    // ±2 absolute), near-zero class and register tokens, zero mask token and biases.
    torch::NoGradGuard noGrad;
    truncNormal_(pos_embed, 0.0, 0.02, -2.0, 2.0);
    cls_token.normal_(0.0, 1e-6);
    if (register_tokens.defined()) register_tokens.normal_(0.0, 1e-6);
    for (auto& module : modules(/*include_self=*/false)) {
        if (auto* linear = module->as<torch::nn::LinearImpl>()) {
            truncNormal_(linear->weight, 0.0, 0.02, -2.0, 2.0);
            if (linear->bias.defined()) linear->bias.zero_();
        }
    }
}

ViTOutput VisionTransformerImpl::forward(const torch::Tensor& images, const torch::Tensor& patchMask) {
    if (images.dim() != 4 || images.size(1) != config_.inChannels)
        throw UsageError("ViT '" + config_.name + "' takes images [batch, " +
                         std::to_string(config_.inChannels) + ", height, width], got " +
                         shapeText(images));
    const int64_t batch = images.size(0);
    const int64_t height = images.size(2), width = images.size(3);
    if (height % config_.patchSize != 0 || width % config_.patchSize != 0)
        throw UsageError("image size " + std::to_string(height) + "×" + std::to_string(width) +
                         " is not a multiple of ViT '" + config_.name + "''s patch size " +
                         std::to_string(config_.patchSize));
    ViTOutput out;
    out.gridH = height / config_.patchSize;
    out.gridW = width / config_.patchSize;

    auto x = patch_embed->forward(images);
    if (patchMask.defined()) {
        if (patchMask.scalar_type() != torch::kBool || patchMask.dim() != 2 ||
            patchMask.size(0) != batch || patchMask.size(1) != x.size(1))
            throw UsageError("patch mask must be bool [" + std::to_string(batch) + ", " +
                             std::to_string(x.size(1)) + "], got " + shapeText(patchMask));
        x = torch::where(patchMask.unsqueeze(-1), mask_token.to(x.scalar_type()).unsqueeze(0), x);
    }
    x = torch::cat({cls_token.expand({batch, -1, -1}), x}, 1);
    x = x + interpolatePosEmbed(pos_embed, out.gridH, out.gridW, config_.interpolateOffset,
                                config_.interpolateAntialias);
    const int64_t registers = config_.numRegisterTokens;
    if (registers > 0)  // registers carry no position (DINOv2 inserts them after pos_embed)
        x = torch::cat({x.slice(1, 0, 1), register_tokens.expand({batch, -1, -1}), x.slice(1, 1)}, 1);
    for (auto& block : blocks_) x = block->forward(x);
    x = norm->forward(x);

    out.tokens = x;
    out.cls = x.select(1, 0);
    out.registers = x.slice(1, 1, 1 + registers);
    out.patches = x.slice(1, 1 + registers);
    return out;
}

} // namespace astroclip::models
