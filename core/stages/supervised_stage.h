#pragma once
// Supervised fine-tuning: a pre-trained backbone plus a small head predicting one catalog
// column (redshift, stellar mass, a morphology class...) from the object's vector:
//   ViT        g,r,z cutouts from the snapshot (the whole cutout, as core/embed/encode.h
//              sees it), normalised with normalizeNanomaggies and optionally augmented with
//              the exact symmetries and photometric jitter of image_augment.h → CLS token
//   SpecFormer spectra from the snapshot → final-norm tokens averaged (statistics token too)
// These are the vectors encode.h defines, so a head trained with a frozen backbone ("all") is
// a probe of the same embeddings search and the analysis tools use.
//
// Tasks:
//   regression      MSE on the target standardised with the training rows' mean and std
//                   (both in config(), so predictions can be un-standardised by anyone);
//   classification  cross-entropy over the distinct values of the column (classes sorted
//                   ascending, listed in config()); at most kMaxClasses of them.
// Rows whose target is NaN (null in the catalog) are skipped, in training and in evaluation.
// Held-out objects (stage_data.h's trainingSplit) never enter training; evaluateHeldOut()
// scores them (R² or accuracy).
//
// Checkpoint names: "backbone.<backbone parameter>" and "head.<layer>". The backbone's groups
// come from finetune.h (freezing, layer decay, scaled by backboneLrScale); the head is one
// group at the full rate.
//
// Usage (what `astroclip train supervised` does):
//   auto snapshot = std::make_shared<DatasetSnapshot>(buildSnapshot(catalog, {.., columns={"truth_z"}}));
//   SupervisedStageOptions o;
//   o.target = "truth_z";
//   o.task = SupervisedTask::Regression;
//   o.finetune = FineTuneOptions::parseFreeze("last:2");
//   SupervisedStage stage(snapshot, vit /* loaded weights */, o);
//   auto result = train::train(stage, supervisedTrainParams(o.finetune));
//   auto score = stage.evaluateHeldOut();           // {"r2", 0.87, 412}
//   auto predicted = stage.predict(rows);            // target units
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/stages/batching.h"
#include "core/stages/finetune.h"
#include "core/stages/image_augment.h"
#include "core/stages/stage_data.h"
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::stages {

enum class SupervisedTask { Regression, Classification };
const char* supervisedTaskName(SupervisedTask task);                     // "regression", "classification"
SupervisedTask parseSupervisedTask(const std::string& text);              // UsageError for others

enum class SupervisedHead { Linear, Mlp };
const char* supervisedHeadName(SupervisedHead head);                      // "linear", "mlp"
SupervisedHead parseSupervisedHead(const std::string& text);              // UsageError for others

// More distinct values than this is a continuous column: regress it instead.
inline constexpr int64_t kMaxClasses = 256;

struct SupervisedStageOptions {
    std::string target;                    // snapshot column (SnapshotParams::columns)
    SupervisedTask task = SupervisedTask::Regression;
    SupervisedHead head = SupervisedHead::Linear;
    int64_t mlpHidden = 256;               // hidden width of the MLP head (Linear, GELU, Linear)
    int64_t batchSize = 32;
    FineTuneOptions finetune;              // default: every backbone parameter trains
    double backboneLrScale = 1.0;          // backbone groups' rate relative to the head's
    bool augment = false;                  // images only; the spectrum path has no augmentation
    AugmentParams augmentParams;
    ImageNormalization normalization;
    double heldOutFraction = 0.1;          // objects kept out of training (split.h)
    uint64_t splitSeed = 0;
    uint64_t samplerSeed = 0;              // data order, and the augmentations' seed
    double embeddingStdFloor = 1e-4;       // health guard: backbone vectors all alike
};

// AdamW settings: a frozen backbone ("all") trains a probe at 1e-3; fine-tuning a pre-trained
// backbone needs a gentler 1e-4. Weight decay 0.05, warm-up 5 % of the default steps.
train::TrainParams supervisedTrainParams(const FineTuneOptions& finetune);

// 1 − Σ(y − ŷ)² / Σ(y − ȳ)² over finite pairs; NaN when fewer than two or y is constant.
double coefficientOfDetermination(const std::vector<double>& predicted, const std::vector<double>& truth);
// Fraction of equal pairs; NaN for none.
double classificationAccuracy(const std::vector<double>& predicted, const std::vector<double>& truth);

struct HeldOutScore {
    std::string metric;   // "r2" or "accuracy"
    double value = 0;
    int64_t objects = 0;  // rows scored (finite target)
};

class SupervisedStage : public train::Stage {
public:
    // The snapshot needs the backbone's modality (images whose side is a multiple of the
    // patch size, or spectra that fit the SpecFormer) and the target column with at least one
    // finite value among the training rows (UsageError naming what is missing otherwise).
    SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::VisionTransformer backbone,
                    SupervisedStageOptions options);
    SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::SpecFormer backbone,
                    SupervisedStageOptions options);

    std::string name() const override;  // "supervised-regression", "supervised-classification"
    nlohmann::json config() const override;
    nlohmann::json provenance() const override;
    std::vector<train::NamedModule> modules() override;
    std::vector<train::ParamGroup> parameterGroups() override;
    std::vector<train::HealthGuard> healthGuards() const override;
    train::LossTerms step(int64_t globalStep, const train::StepContext& ctx) override;
    nlohmann::json dataState() const override;
    void loadDataState(const nlohmann::json& state) override;

    // Predictions for snapshot rows (no augmentation, eval mode, no gradient, on the device the
    // modules are on; training modes are restored afterwards). Regression: [n] float64 in the
    // target's units. Classification: [n, classes] float64 probabilities, columns in classes()
    // order. Any rows, including ones with a NaN target.
    at::Tensor predict(const std::vector<int64_t>& rows, int64_t batchSize = 64);
    // Regression: the predictions; classification: the most probable class's value.
    std::vector<double> predictValues(const std::vector<int64_t>& rows, int64_t batchSize = 64);
    // R² (regression) or accuracy (classification) over the rows with a finite target.
    HeldOutScore evaluate(const std::vector<int64_t>& rows, int64_t batchSize = 64);
    HeldOutScore evaluateHeldOut(int64_t batchSize = 64) { return evaluate(heldOutRows_, batchSize); }

    const TrainingSplit& split() const { return split_; }
    const std::vector<int64_t>& trainRows() const { return trainRows_; }     // split ∩ finite target
    const std::vector<int64_t>& heldOutRows() const { return heldOutRows_; } // held out ∩ finite target
    const std::vector<double>& classes() const { return classes_; }          // classification only
    double targetMean() const { return targetMean_; }                         // regression only
    double targetStd() const { return targetStd_; }
    std::shared_ptr<torch::nn::Module> backbone() const;
    torch::nn::Sequential head() const { return head_; }
    bool isImageBackbone() const { return static_cast<bool>(vit_); }

private:
    SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, SupervisedStageOptions options, int64_t embedDim);
    void prepareTargets();
    at::Tensor inputs(const std::vector<int64_t>& rows, bool augment, const c10::Device& device);
    at::Tensor embed(const at::Tensor& inputs);
    at::Tensor targetsFor(const std::vector<int64_t>& rows, const c10::Device& device) const;

    std::shared_ptr<const DatasetSnapshot> snapshot_;
    SupervisedStageOptions options_;
    models::VisionTransformer vit_{nullptr};
    models::SpecFormer specformer_{nullptr};
    torch::nn::Sequential head_{nullptr};
    int64_t embedDim_ = 0;
    const std::vector<double>* column_ = nullptr;
    TrainingSplit split_;
    std::vector<int64_t> trainRows_;
    std::vector<int64_t> heldOutRows_;
    std::vector<double> classes_;
    double targetMean_ = 0;
    double targetStd_ = 1;
    std::optional<EpochSampler> sampler_;
    ImageAugmenter augmenter_;
};

} // namespace astroclip::stages
