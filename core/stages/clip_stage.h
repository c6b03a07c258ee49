#pragma once
// CLIP alignment (AstroCLIP's second stage): a pre-trained image ViT and a pre-trained
// SpecFormer stay frozen (eval mode, no gradient, no optimizer state); one alignment head per
// modality (alignment_head.h) is trained so that an object's image and spectrum embeddings
// agree, with the symmetric InfoNCE loss on logits = scale · cos(image_i, spectrum_j).
// The scale is fixed (AstroCLIP: 15.5) or learned as log(scale).
//
// Tensor names: "image.backbone.*", "spectrum.backbone.*", "image.head.*", "spectrum.head.*",
// "clip.log_scale"; load pre-trained backbones with train::InitOptions{allowSubset, filePrefix,
// stagePrefix "image.backbone."} or build the modules from their weights before constructing.
//
// Batches come from objects with both modalities; held-out objects (split.h) never enter.
// The ViT gets the snapshot's g,r,z cutouts as the image stage gave them to it: pass the
// image stage's preprocessing as `imagePreprocess` (identity when unset).
#include "core/models/alignment_head.h"
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/stages/batching.h"
#include "core/stages/stage_data.h"
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <memory>

namespace astroclip::stages {

struct ClipStageOptions {
    int64_t batchSize = 256;            // AstroCLIP: 256
    int64_t embedDim = 1024;            // shared embedding width (AstroCLIP: 1024)
    int64_t headNumHeads = 4;
    double headDropout = 0.0;           // AstroCLIP trains the heads with 0.1
    double logitScale = 15.5;           // initial (or fixed) scale
    bool learnLogitScale = false;
    double heldOutFraction = 0.1;
    uint64_t splitSeed = 0;
    uint64_t samplerSeed = 0;
    uint64_t initSeed = 0;              // initialises the heads
    // Applied to each image batch [B, 3, S, S] (on the run's device) before the ViT.
    std::function<torch::Tensor(const torch::Tensor&)> imagePreprocess;
    std::string imagePreprocessName = "none";  // recorded in config()
    double embeddingStdFloor = 1e-4;    // health guard on both modalities
};

// Symmetric InfoNCE: with a, b the L2-normalised rows of imageEmb and spectrumEmb [B, E] and
// logits = scale · a bᵀ, the mean of the cross-entropies of the rows (image → spectrum) and of
// the columns (spectrum → image) against the diagonal. `scale` is a scalar tensor.
torch::Tensor clipLoss(const torch::Tensor& imageEmb, const torch::Tensor& spectrumEmb, const torch::Tensor& scale);

// Median over the batch of the rank (1 = best) of each image's own spectrum among all the
// batch's spectra by cosine similarity.
double medianMatchRank(const torch::Tensor& imageEmb, const torch::Tensor& spectrumEmb);

// Holds log(scale) so a learned scale stays positive ("log_scale").
struct LogitScaleImpl : torch::nn::Module {
    explicit LogitScaleImpl(double scale);
    torch::Tensor scale() const { return log_scale.exp(); }
    torch::Tensor log_scale;
};
TORCH_MODULE(LogitScale);

// AdamW after AstroCLIP: lr 1e-4, weight decay 0.05, cosine over 10k steps with 1k warm-up.
train::TrainParams clipTrainParams();

class ClipStage : public train::Stage {
public:
    // UsageError when the snapshot lacks a modality, its crop is not a multiple of the ViT's
    // patch, or its spectra do not fit the SpecFormer.
    ClipStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::VisionTransformer imageBackbone,
              models::SpecFormer spectrumBackbone, ClipStageOptions options = {});

    std::string name() const override { return "clip-alignment"; }
    nlohmann::json config() const override;
    nlohmann::json provenance() const override;
    std::vector<train::NamedModule> modules() override;
    std::vector<train::ParamGroup> parameterGroups() override;
    std::vector<train::HealthGuard> healthGuards() const override;
    train::LossTerms step(int64_t globalStep, const train::StepContext& ctx) override;
    nlohmann::json dataState() const override { return sampler_.state(); }
    void loadDataState(const nlohmann::json& state) override { sampler_.load(state); }

    models::AlignmentHead imageHead() const { return imageHead_; }
    models::AlignmentHead spectrumHead() const { return spectrumHead_; }
    LogitScale logitScale() const { return logitScale_; }
    const TrainingSplit& split() const { return split_; }

private:
    std::shared_ptr<const DatasetSnapshot> snapshot_;
    models::VisionTransformer imageBackbone_;
    models::SpecFormer spectrumBackbone_;
    ClipStageOptions options_;
    TrainingSplit split_;
    EpochSampler sampler_;
    models::AlignmentHead imageHead_{nullptr};
    models::AlignmentHead spectrumHead_{nullptr};
    LogitScale logitScale_{nullptr};
};

} // namespace astroclip::stages
