#pragma once
// SpecFormer pre-training by masked modelling (AstroCLIP's spectrum stage). Per batch: flux
// [B, L] from the snapshot (already on the snapshot's grid, downsampled or not), standardised
// per spectrum as the model does; contiguous chunks of pixels are set to zero in standardised
// units (the spectrum's mean) in every patch that holds them; the model reconstructs the token
// sequence, whose patches are folded back to pixels by overlap averaging; the loss is the mean
// squared error over the masked pixels only, in standardised units.
//
// Choices: pixels without data (ivar == 0, flux stored as 0) are left out of the loss, since
// there is nothing to reconstruct; with ivarWeighted the masked pixels are further weighted by
// their inverse variance in standardised units (ivar·std²), which favours high-S/N pixels and
// departs from AstroCLIP's unweighted loss, so it is off by default. The statistics token is
// never masked.
#include "core/models/specformer.h"
#include "core/stages/batching.h"
#include "core/stages/finetune.h"
#include "core/stages/stage_data.h"
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <memory>

namespace astroclip::stages {

struct SpectrumStageOptions {
    int64_t batchSize = 32;
    int maskChunks = 6;                 // AstroCLIP: 6
    int64_t maskChunkWidth = 0;         // pixels of the model's input; 0 = defaultMaskChunkWidth()
    bool ivarWeighted = false;
    double heldOutFraction = 0.1;       // objects kept out of training (split.h)
    uint64_t splitSeed = 0;
    uint64_t samplerSeed = 0;
    double embeddingStdFloor = 1e-4;    // health guard: mean-pooled tokens all alike
    // Continued pre-training of a loaded model: freezing and layer-wise lr decay (finetune.h).
    // The reconstruction head trains with the final norm; "all" leaves nothing to train.
    FineTuneOptions finetune;
};

// AstroCLIP's 50 pixels for 20-pixel patches, scaled with the patch length so a coarse model
// (tiny: 80-pixel patches → 200 pixels) hides a comparable number of whole tokens.
int64_t defaultMaskChunkWidth(const models::SpecFormerConfig& config);

// Bool [batch, length]: `chunks` intervals of `width` pixels per row, starts uniform in
// [0, coveredLength − width] (chunks may overlap), false beyond coveredLength. Draws from
// LibTorch's default CPU generator, which the trainer checkpoints, so resumed runs mask alike.
torch::Tensor chunkMask(int64_t batch, int64_t length, int64_t coveredLength, int chunks, int64_t width);

// Σ w·(r − t)² / Σ w over the pixels where mask is true (w = weight, or 1 when undefined);
// 0 when no pixel is selected. Pixels outside the mask do not enter, even when NaN.
torch::Tensor maskedMse(const torch::Tensor& reconstruction, const torch::Tensor& target, const torch::Tensor& mask,
                        const torch::Tensor& weight = {});

struct MaskedModellingResult {
    torch::Tensor loss;           // scalar
    torch::Tensor embedding;      // [B, D] mean-pooled tokens of the masked input
    torch::Tensor reconstruction; // [B, covered] standardised units
    torch::Tensor target;         // [B, covered] standardised input
};

// One masked-modelling forward pass. flux, ivar [B, L]; mask bool [B, L] (pixels past the
// last full patch must be false).
MaskedModellingResult maskedModelling(models::SpecFormerImpl& model, const torch::Tensor& flux,
                                      const torch::Tensor& ivar, const torch::Tensor& mask, bool ivarWeighted);

// AdamW settings after AstroCLIP (lr 1e-5, weight decay 0.1, betas 0.9/0.95) for "full"; a
// small model tolerates, and on a CPU budget needs, a larger rate (3e-4).
train::TrainParams spectrumTrainParams(const models::SpecFormerConfig& config);

class SpectrumStage : public train::Stage {
public:
    // The snapshot needs spectra; its length must give at least one patch and fit the model's
    // position table (UsageError otherwise).
    SpectrumStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::SpecFormer model,
                  SpectrumStageOptions options = {});

    std::string name() const override { return "spectrum-masked-modelling"; }
    nlohmann::json config() const override;
    nlohmann::json provenance() const override;
    std::vector<train::NamedModule> modules() override;
    std::vector<train::ParamGroup> parameterGroups() override;
    std::vector<train::HealthGuard> healthGuards() const override;
    train::LossTerms step(int64_t globalStep, const train::StepContext& ctx) override;
    nlohmann::json dataState() const override { return sampler_.state(); }
    void loadDataState(const nlohmann::json& state) override { sampler_.load(state); }

    models::SpecFormer model() const { return model_; }
    const TrainingSplit& split() const { return split_; }
    int64_t maskChunkWidth() const { return chunkWidth_; }

private:
    std::shared_ptr<const DatasetSnapshot> snapshot_;
    models::SpecFormer model_;
    SpectrumStageOptions options_;
    TrainingSplit split_;
    EpochSampler sampler_;
    int64_t length_ = 0;
    int64_t covered_ = 0;     // pixels the patches reach
    int64_t chunkWidth_ = 0;
};

} // namespace astroclip::stages
