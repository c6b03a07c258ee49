#include "core/stages/clip_stage.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::stages {

namespace {

const DatasetSnapshot& requireBoth(const std::shared_ptr<const DatasetSnapshot>& snapshot) {
    assert(snapshot);
    if (!snapshot->hasImages() || !snapshot->hasSpectra())
        throw UsageError("CLIP alignment needs objects with both an image and a spectrum, but the snapshot of " +
                         snapshot->catalogPath + " holds " + (snapshot->hasImages() ? "images" : "spectra") +
                         " only (build it with modality 'both')");
    return *snapshot;
}

// Std across the batch of the L2-normalised embeddings, averaged over dimensions: 0 when
// every object maps to the same direction.
double normalisedSpread(const torch::Tensor& embedding) {
    return torch::nn::functional::normalize(embedding.detach().to(torch::kFloat),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1))
        .std(0)
        .mean()
        .item<double>();
}

} // namespace

torch::Tensor clipLoss(const torch::Tensor& imageEmb, const torch::Tensor& spectrumEmb, const torch::Tensor& scale) {
    TORCH_CHECK(imageEmb.dim() == 2 && imageEmb.sizes() == spectrumEmb.sizes(),
                "clipLoss: embeddings must both be [B, E]");
    namespace F = torch::nn::functional;
    const auto a = F::normalize(imageEmb, F::NormalizeFuncOptions().dim(1));
    const auto b = F::normalize(spectrumEmb, F::NormalizeFuncOptions().dim(1));
    const auto logits = scale * a.matmul(b.t());
    const auto labels = torch::arange(imageEmb.size(0), torch::TensorOptions().dtype(torch::kLong).device(imageEmb.device()));
    return 0.5 * (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels));
}

double medianMatchRank(const torch::Tensor& imageEmb, const torch::Tensor& spectrumEmb) {
    namespace F = torch::nn::functional;
    const auto a = F::normalize(imageEmb.detach().to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
    const auto b = F::normalize(spectrumEmb.detach().to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
    const auto similarity = a.matmul(b.t());
    // Rank = 1 + number of spectra more similar than the object's own.
    const auto own = similarity.diagonal().unsqueeze(1);
    const auto ranks = (similarity > own).sum(1).to(torch::kDouble) + 1.0;
    auto sorted = std::get<0>(ranks.cpu().sort());
    const int64_t n = sorted.size(0);
    const auto* r = sorted.data_ptr<double>();
    return n % 2 == 1 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
}

LogitScaleImpl::LogitScaleImpl(double scale) {
    if (!(scale > 0.0) || !std::isfinite(scale))
        throw UsageError("the CLIP logit scale must be a positive number, got " + std::to_string(scale));
    log_scale = register_parameter("log_scale", torch::full({}, std::log(scale), torch::kFloat));
}

train::TrainParams clipTrainParams() {
    train::TrainParams p;
    p.steps = 10000;
    p.warmupSteps = 1000;
    p.lr = 1e-4;
    p.minLr = 1e-6;
    p.weightDecay = 0.05;
    return p;
}

ClipStage::ClipStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::VisionTransformer imageBackbone,
                     models::SpecFormer spectrumBackbone, ClipStageOptions options)
    : snapshot_(std::move(snapshot)),
      imageBackbone_(std::move(imageBackbone)),
      spectrumBackbone_(std::move(spectrumBackbone)),
      options_(std::move(options)),
      split_(trainingSplit(requireBoth(snapshot_), options_.heldOutFraction, options_.splitSeed)),
      sampler_(static_cast<int64_t>(split_.trainRows.size()), options_.batchSize, options_.samplerSeed) {
    const auto& vit = imageBackbone_->config();
    if (snapshot_->cropSize % vit.patchSize != 0)
        throw UsageError("cutouts of " + std::to_string(snapshot_->cropSize) + " pixels are not a multiple of ViT '" +
                         vit.name + "' patches (" + std::to_string(vit.patchSize) + " pixels): choose another crop size");
    const auto& spec = spectrumBackbone_->config();
    const int64_t patches = spec.numPatches(snapshot_->spectrumLength);
    if (patches == 0 || 1 + patches > spec.maxTokens)
        throw UsageError("spectra of " + std::to_string(snapshot_->spectrumLength) + " pixels do not fit SpecFormer '" +
                         spec.name + "': choose another downsampling factor");
    if (options_.batchSize < 2)
        throw UsageError("CLIP alignment needs batches of at least 2 objects (the others are the negatives)");

    // Heads initialised from their own seed, so the same options give the same heads whatever
    // ran before (the trainer reseeds LibTorch's generators for the run itself).
    torch::manual_seed(options_.initSeed);
    auto imageConfig = models::AlignmentHeadConfig::forImages(vit.embedDim, options_.embedDim);
    auto spectrumConfig = models::AlignmentHeadConfig::forSpectra(spec.embedDim, options_.embedDim);
    for (auto* c : {&imageConfig, &spectrumConfig}) {
        c->numHeads = options_.headNumHeads;
        c->dropout = options_.headDropout;
    }
    imageHead_ = models::AlignmentHead(imageConfig);
    spectrumHead_ = models::AlignmentHead(spectrumConfig);
    logitScale_ = LogitScale(options_.logitScale);
}

nlohmann::json ClipStage::config() const {
    const auto& vit = imageBackbone_->config();
    const auto& spec = spectrumBackbone_->config();
    return {{"image_backbone", {{"preset", vit.name}, {"embed_dim", vit.embedDim}, {"depth", vit.depth},
                                {"patch_size", vit.patchSize}}},
            {"spectrum_backbone", {{"preset", spec.name}, {"embed_dim", spec.embedDim}, {"depth", spec.depth},
                                   {"patch_length", spec.patchLength}, {"patch_stride", spec.patchStride}}},
            {"embed_dim", options_.embedDim},
            {"head_num_heads", options_.headNumHeads},
            {"head_dropout", options_.headDropout},
            {"logit_scale", options_.logitScale},
            {"learn_logit_scale", options_.learnLogitScale},
            {"batch_size", options_.batchSize},
            {"image_preprocess", options_.imagePreprocessName},
            {"crop_size", snapshot_->cropSize},
            {"spectrum_length", snapshot_->spectrumLength},
            {"sampler_seed", options_.samplerSeed},
            {"init_seed", options_.initSeed}};
}

nlohmann::json ClipStage::provenance() const { return snapshotProvenance(*snapshot_, split_); }

std::vector<train::NamedModule> ClipStage::modules() {
    return {{"image.backbone.", imageBackbone_.ptr()},
            {"spectrum.backbone.", spectrumBackbone_.ptr()},
            {"image.head.", imageHead_.ptr()},
            {"spectrum.head.", spectrumHead_.ptr()},
            {"clip.", logitScale_.ptr()}};
}

std::vector<train::ParamGroup> ClipStage::parameterGroups() {
    return {train::ParamGroup::fromModule("image_backbone", "image.backbone.", *imageBackbone_, 1.0, true),
            train::ParamGroup::fromModule("spectrum_backbone", "spectrum.backbone.", *spectrumBackbone_, 1.0, true),
            train::ParamGroup::fromModule("image_head", "image.head.", *imageHead_),
            train::ParamGroup::fromModule("spectrum_head", "spectrum.head.", *spectrumHead_),
            train::ParamGroup::fromModule("logit_scale", "clip.", *logitScale_, 1.0, !options_.learnLogitScale)};
}

std::vector<train::HealthGuard> ClipStage::healthGuards() const {
    std::vector<train::HealthGuard> guards;
    for (const char* metric : {"embedding_std_image", "embedding_std_spectrum"}) {
        train::HealthGuard guard;
        guard.metric = metric;
        guard.floor = options_.embeddingStdFloor;
        guard.patience = 20;
        guards.push_back(guard);
    }
    return guards;
}

train::LossTerms ClipStage::step(int64_t /*globalStep*/, const train::StepContext& ctx) {
    // The trainer puts every module into training mode; frozen backbones must not run
    // dropout or stochastic depth, so they go back to eval here.
    if (imageBackbone_->is_training()) imageBackbone_->eval();
    if (spectrumBackbone_->is_training()) spectrumBackbone_->eval();

    std::vector<int64_t> rows;
    for (auto i : sampler_.next()) rows.push_back(split_.trainRows[size_t(i)]);
    const int64_t crop = snapshot_->cropSize;
    auto images = toDevice(gatherRows(snapshot_->images, {3, crop, crop}, rows, pinnedFor(ctx.device)), ctx.device);
    if (options_.imagePreprocess) images = options_.imagePreprocess(images);
    const auto flux = toDevice(
        gatherRows(snapshot_->spectrumFlux, {snapshot_->spectrumLength}, rows, pinnedFor(ctx.device)), ctx.device);

    torch::Tensor imageTokens, spectrumTokens;
    {
        torch::NoGradGuard frozen;
        imageTokens = imageBackbone_->forward(images).tokens;
        spectrumTokens = spectrumBackbone_->forward(flux).tokens;
    }
    const auto imageEmb = imageHead_->forward(imageTokens).embedding.to(torch::kFloat);
    const auto spectrumEmb = spectrumHead_->forward(spectrumTokens).embedding.to(torch::kFloat);
    const auto scale = logitScale_->scale();

    train::LossTerms terms;
    terms.terms["loss"] = clipLoss(imageEmb, spectrumEmb, scale);
    terms.health["embedding_std_image"] = normalisedSpread(imageEmb);
    terms.health["embedding_std_spectrum"] = normalisedSpread(spectrumEmb);
    terms.health["median_rank"] = medianMatchRank(imageEmb, spectrumEmb);
    terms.health["logit_scale"] = scale.item<double>();
    terms.samples = int64_t(rows.size());
    return terms;
}

} // namespace astroclip::stages
