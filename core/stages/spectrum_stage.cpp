#include "core/stages/spectrum_stage.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::stages {

namespace {

const DatasetSnapshot& requireSpectra(const std::shared_ptr<const DatasetSnapshot>& snapshot) {
    assert(snapshot);
    if (!snapshot->hasSpectra())
        throw UsageError("the spectrum stage needs spectra, but the snapshot of " + snapshot->catalogPath +
                         " was built without them (use modality 'spectrum' or 'both')");
    return *snapshot;
}

} // namespace

int64_t defaultMaskChunkWidth(const models::SpecFormerConfig& config) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround(50.0 * double(config.patchLength) / 20.0)));
}

torch::Tensor chunkMask(int64_t batch, int64_t length, int64_t coveredLength, int chunks, int64_t width) {
    assert(coveredLength <= length && width >= 1 && width <= coveredLength && chunks >= 1);
    const auto starts = torch::randint(0, coveredLength - width + 1, {batch, chunks, 1}, torch::kLong);
    const auto position = torch::arange(length, torch::kLong).view({1, 1, length});
    return ((position >= starts) & (position < starts + width)).any(1);
}

torch::Tensor maskedMse(const torch::Tensor& reconstruction, const torch::Tensor& target, const torch::Tensor& mask,
                        const torch::Tensor& weight) {
    TORCH_CHECK(reconstruction.sizes() == target.sizes() && target.sizes() == mask.sizes(),
                "maskedMse: reconstruction, target and mask must have one shape");
    auto w = mask.to(reconstruction.scalar_type());
    if (weight.defined()) w = w * weight;
    // where() rather than a product: a NaN outside the mask must neither reach the sum nor
    // its gradient.
    // Selecting before squaring keeps the backward pass finite too.
    const auto error = torch::where(mask, reconstruction - target, torch::zeros_like(reconstruction));
    return (error.pow(2) * w).sum() / w.sum().clamp_min(1e-12);
}

MaskedModellingResult maskedModelling(models::SpecFormerImpl& model, const torch::Tensor& flux,
                                      const torch::Tensor& ivar, const torch::Tensor& mask, bool ivarWeighted) {
    const auto& cfg = model.config();
    const int64_t length = flux.size(1);
    const int64_t patches = cfg.numPatches(length);
    const int64_t covered = (patches - 1) * cfg.patchStride + cfg.patchLength;
    assert(!mask.narrow(1, covered, length - covered).any().item<bool>());

    const auto input = model.tokenize(flux);
    const auto mean = input.mean.unsqueeze(1), std = input.std.unsqueeze(1);
    const auto standardised = ((flux - mean) / std).narrow(1, 0, covered);
    const auto coveredMask = mask.narrow(1, 0, covered);
    // Zero in standardised units = the spectrum's mean; every patch holding a masked pixel
    // sees the zero, so the pixel cannot be read off an overlapping neighbour.
    const auto hidden = standardised.masked_fill(coveredMask, 0.0);
    const auto patchValues = hidden.unfold(1, cfg.patchLength, cfg.patchStride);
    const auto tokens = torch::cat(
        {input.tokens.narrow(1, 0, 1),
         torch::cat({torch::zeros({flux.size(0), patches, 2}, flux.options()), patchValues}, 2)},
        1);
    const auto out = model.encode(tokens);

    MaskedModellingResult result;
    const auto reconPatches = out.reconstruction.narrow(1, 1, patches).narrow(2, 2, cfg.patchLength).to(torch::kFloat);
    result.reconstruction = models::foldOverlappingPatches(reconPatches, cfg.patchStride, covered);
    result.target = standardised.to(torch::kFloat);
    const auto valid = ivar.narrow(1, 0, covered) > 0;
    torch::Tensor weight;
    if (ivarWeighted) weight = (ivar.narrow(1, 0, covered) * std.pow(2)).to(torch::kFloat);
    result.loss = maskedMse(result.reconstruction, result.target, coveredMask & valid, weight);
    result.embedding = out.tokens.mean(1).to(torch::kFloat);
    return result;
}

train::TrainParams spectrumTrainParams(const models::SpecFormerConfig& config) {
    train::TrainParams p;
    p.lr = config.name == "full" ? 1e-5 : 3e-4;
    p.minLr = p.lr / 100.0;
    p.weightDecay = 0.1;
    p.beta1 = 0.9;
    p.beta2 = 0.95;
    return p;
}

SpectrumStage::SpectrumStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::SpecFormer model,
                             SpectrumStageOptions options)
    : snapshot_(std::move(snapshot)),
      model_(std::move(model)),
      options_(options),
      split_(trainingSplit(requireSpectra(snapshot_), options.heldOutFraction, options.splitSeed)),
      sampler_(static_cast<int64_t>(split_.trainRows.size()), options.batchSize, options.samplerSeed) {
    const auto& cfg = model_->config();
    length_ = snapshot_->spectrumLength;
    const int64_t patches = cfg.numPatches(length_);
    if (patches == 0 || 1 + patches > cfg.maxTokens)
        throw UsageError("spectra of " + std::to_string(length_) + " pixels do not fit SpecFormer '" + cfg.name +
                         "' (patches of " + std::to_string(cfg.patchLength) + ", at most " +
                         std::to_string(cfg.maxTokens) + " tokens): choose another downsampling factor");
    covered_ = (patches - 1) * cfg.patchStride + cfg.patchLength;
    chunkWidth_ = options_.maskChunkWidth > 0 ? options_.maskChunkWidth : defaultMaskChunkWidth(cfg);
    if (options_.maskChunks < 1)
        throw UsageError("the spectrum stage needs at least one mask chunk per spectrum");
    options_.finetune.validate(cfg.depth);
    if (options_.finetune.freeze == FreezeMode::All)
        throw UsageError("freeze 'all' leaves the spectrum stage nothing to train (its head is the model's own "
                         "reconstruction head): use 'last:N' or 'none'");
    if (chunkWidth_ > covered_)
        throw UsageError("mask chunks of " + std::to_string(chunkWidth_) + " pixels are wider than the " +
                         std::to_string(covered_) + " pixels the model sees");
}

nlohmann::json SpectrumStage::config() const {
    const auto& cfg = model_->config();
    return {{"model", {{"preset", cfg.name},
                       {"input_length", cfg.inputLength},
                       {"patch_length", cfg.patchLength},
                       {"patch_stride", cfg.patchStride},
                       {"embed_dim", cfg.embedDim},
                       {"depth", cfg.depth},
                       {"num_heads", cfg.numHeads},
                       {"max_tokens", cfg.maxTokens}}},
            {"batch_size", options_.batchSize},
            {"mask_chunks", options_.maskChunks},
            {"mask_chunk_width", chunkWidth_},
            {"ivar_weighted", options_.ivarWeighted},
            {"spectrum_length", length_},
            {"sampler_seed", options_.samplerSeed},
            {"finetune", options_.finetune.toJson()}};
}

nlohmann::json SpectrumStage::provenance() const { return snapshotProvenance(*snapshot_, split_); }

std::vector<train::NamedModule> SpectrumStage::modules() { return {{"", model_.ptr()}}; }

std::vector<train::ParamGroup> SpectrumStage::parameterGroups() {
    return backboneParamGroups("", *model_, options_.finetune);
}

std::vector<train::HealthGuard> SpectrumStage::healthGuards() const {
    train::HealthGuard guard;
    guard.metric = "embedding_std";
    guard.floor = options_.embeddingStdFloor;
    guard.patience = 20;
    return {guard};
}

train::LossTerms SpectrumStage::step(int64_t /*globalStep*/, const train::StepContext& ctx) {
    setFrozenPartsToEval(*model_, options_.finetune);
    std::vector<int64_t> rows;
    for (auto i : sampler_.next()) rows.push_back(split_.trainRows[size_t(i)]);
    const bool pinned = pinnedFor(ctx.device);
    const auto flux = toDevice(gatherRows(snapshot_->spectrumFlux, {length_}, rows, pinned), ctx.device);
    const auto ivar = toDevice(gatherRows(snapshot_->spectrumIvar, {length_}, rows, pinned), ctx.device);
    const auto mask =
        chunkMask(int64_t(rows.size()), length_, covered_, options_.maskChunks, chunkWidth_).to(ctx.device);
    const auto result = maskedModelling(*model_, flux, ivar, mask, options_.ivarWeighted);

    train::LossTerms terms;
    terms.terms["loss"] = result.loss;
    terms.health["embedding_std"] = result.embedding.detach().std(0).mean().item<double>();
    terms.health["masked_fraction"] = mask.to(torch::kFloat).mean().item<double>();
    terms.samples = int64_t(rows.size());
    return terms;
}

} // namespace astroclip::stages
