#pragma once
// Image pre-training by DINOv2-style self-distillation (AstroDINO, DESIGN.md), scaled for CPU
// cutouts: a student ViT with DINO (CLS) and iBOT (patch) heads learns to match an EMA teacher
// across multi-crop views of the same galaxy.
//
// Per sample: 2 global crops and N local crops, each a RandomCrop (integer shift, never a
// resampling) of the cutout followed by image_augment's sky-safe augmentations and the shared
// asinh normalisation. The teacher sees the global crops unmasked; the student sees all crops,
// with iBOT masks (random patches, 10–50 %) on half of the global crops, where the patch
// embedding is replaced by the ViT's mask_token. Losses: DINO over all (teacher global,
// student other crop) pairs + iBOT on masked patches + KoLeo (weight 0.1) on the student's
// normalised backbone CLS of each global crop. The teacher's softmax is centred (EMA of its
// logits, momentum 0.9) and sharpened (temperature warm-up 0.04 → 0.07), or Sinkhorn–Knopp
// normalised (DINOv2's alternative); its weights follow the student by EMA with momentum
// rising to 1 on a cosine; at step 0 the teacher is set to the student (DINOv2 does so when
// training starts, which also makes a student loaded by --init the teacher too).
//
// Departures from DINOv2's code:
//   - head MLPs initialised with std 1/√fan_in instead of 0.02 (dino_heads.h: at narrow
//     widths 0.02 shrinks the bottleneck ~100× and the biases then erase image differences);
//   - the center is a bias-corrected EMA (centerBiasCorrection): the first steps are centred
//     by the mean seen so far, not by a center still near its zero start, which in a short run
//     lets the shared assignment of every image through as a sharp target;
//   - prototypes of fixed unit norm (DINO's norm_last_layer; DINOv2 trains weight_g);
//   - iBOT masks random patches rather than blocks;
//   - the trainer clips the global gradient norm (DINOv2 clips each module) and keeps one
//     weight decay (DINOv2 raises it on a cosine);
//   - freezeLastLayerSteps withholds the prototypes' gradient, so AdamW keeps no state for them
//     until they train (DINOv2 sets their lr to 0, its moments still accumulating).
// As in DINOv2, the teacher has no stochastic depth.
//
// The iBOT head is shared with the DINO head (DINOv2's and AstroDINO's default) unless
// ibotSeparateHead; a separate one has its own MLP and prototypes and a teacher copy.
//
// Module names: "student.backbone.", "student.dino_head.", "student.ibot_head." (separate head
// only), and the same under "teacher." (DINOv2's checkpoint layout, so
// selectPrefix("teacher.backbone.") gives the encoder to embed with).
#include "core/dataset/snapshot.h"
#include "core/models/vit.h"
#include "core/stages/batching.h"
#include "core/stages/dino_heads.h"
#include "core/stages/finetune.h"
#include "core/stages/image_augment.h"
#include "core/stages/prefetch.h"
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace astroclip::stages {

enum class TeacherCentering { Center, SinkhornKnopp };

struct ImageStageConfig {
    models::ViTConfig vit = models::ViTConfig::preset("tiny");
    DinoHeadConfig dinoHead;                 // CLS head
    DinoHeadConfig ibotHead;                 // patch head, when ibotSeparateHead
    bool ibotSeparateHead = false;           // false: iBOT uses the DINO head (DINOv2 default)
    int64_t batchSize = 32;                  // images per micro-batch
    int64_t globalCrops = 2;
    int64_t globalCropSize = 56;             // px, a multiple of the patch size, ≤ cutout side
    int64_t localCrops = 8;
    int64_t localCropSize = 24;              // px, a multiple of the patch size
    AugmentParams augment;
    ImageNormalization normalization;
    double studentTemperature = 0.1;
    double teacherTemperatureStart = 0.04;   // linear warm-up …
    double teacherTemperature = 0.07;        // … to this, then constant
    int64_t teacherTemperatureWarmupSteps = 30;
    TeacherCentering centering = TeacherCentering::Center;
    double centerMomentum = 0.9;
    bool centerBiasCorrection = true;        // center = EMA / (1 − m^step); the batch mean at step 0
    double teacherMomentumStart = 0.992;     // cosine to 1 over scheduleSteps
    int64_t scheduleSteps = 1000;            // set to the trainer's TrainParams::steps
    int64_t freezeLastLayerSteps = 0;        // prototypes get no gradient before this step
    double ibotMinFraction = 0.1;
    double ibotMaxFraction = 0.5;
    double ibotSampleProbability = 0.5;      // share of global crops that get a mask
    double dinoWeight = 1.0;
    double ibotWeight = 1.0;
    double koleoWeight = 0.1;
    // Which student backbone parameters train and at what rate (finetune.h); the heads always
    // train at the full rate. patchEmbedLrMultiplier further scales the patch embedding's
    // rate (DINOv2/AstroDINO: 0.2).
    FineTuneOptions finetune;
    double patchEmbedLrMultiplier = 1.0;
    uint64_t seed = 0;                       // data order, augmentations, masks

    // UsageError naming the first inconsistent field (for a cutout of side `imageSide`).
    void validate(int64_t imageSide) const;
    nlohmann::json toJson() const;
};

// Recommended configurations. "tiny": a CPU model (ViT tiny, patch 8, on 64-px cutouts;
// global crops 56 px, local 24 px) that learns within a few hundred steps. "small", "base",
// "large": AstroDINO's geometry (patch 12; cutouts of 152 px, global crops 144 px, 8 local
// crops of 60 px; 65,536 prototypes), "large" being AstroCLIP's image encoder; GPU models.
// `steps` > 0 sets scheduleSteps and scales the teacher-temperature warm-up and the
// prototype freeze to keep their share of the run. UsageError for another name.
ImageStageConfig imageStageConfig(const std::string& preset, int64_t steps = 0);
// The trainer parameters that go with a configuration: steps = config.scheduleSteps, AdamW
// with DINOv2's square-root batch scaling of the learning rate, warm-up, clipping at 3.
train::TrainParams imageTrainParams(const ImageStageConfig& config);

// Momentum of the teacher EMA at optimizer step `step`:
//   1 − (1 − m0) · (cos(π · step / T) + 1) / 2, reaching 1 at step T (and staying there).
double teacherMomentum(const ImageStageConfig& config, int64_t step);
// Teacher temperature at `step`: linear start → final over the warm-up steps, then final.
double teacherTemperatureAt(const ImageStageConfig& config, int64_t step);

// Student or teacher: backbone + DINO head (+ a separate iBOT head).
struct DinoModelImpl : torch::nn::Module {
    // ibot == nullptr: iBOT shares the DINO head.
    DinoModelImpl(const models::ViTConfig& vit, const DinoHeadConfig& dino, const DinoHeadConfig* ibot);
    models::VisionTransformer backbone{nullptr};
    DinoHead dino_head{nullptr};
    DinoHead ibot_head{nullptr};  // null when shared
    DinoHeadImpl& ibotHead() { return ibot_head ? *ibot_head : *dino_head; }
};
TORCH_MODULE(DinoModel);

class ImageStage : public train::Stage {
public:
    // images: [N, 3, S, S] float32 g,r,z in nanomaggies (CPU; copied). N ≥ batchSize.
    ImageStage(ImageStageConfig config, torch::Tensor images, nlohmann::json provenance = {});
    // The snapshot's images at `indices` (e.g. SplitIndices::train).
    static std::unique_ptr<ImageStage> fromSnapshot(const ImageStageConfig& config, const DatasetSnapshot& snapshot,
                                                    const std::vector<size_t>& indices);

    std::string name() const override { return "image-dino"; }
    nlohmann::json config() const override { return config_.toJson(); }
    nlohmann::json provenance() const override { return provenance_; }
    std::vector<train::NamedModule> modules() override;
    std::vector<train::ParamGroup> parameterGroups() override;
    std::vector<train::HealthGuard> healthGuards() const override;
    train::LossTerms step(int64_t globalStep, const train::StepContext& ctx) override;
    void afterOptimizerStep(int64_t globalStep) override;
    std::map<std::string, torch::Tensor> extraState() override;
    void loadExtraState(const std::map<std::string, torch::Tensor>& state) override;
    nlohmann::json dataState() const override;
    void loadDataState(const nlohmann::json& state) override;

    // Copies the student's weights into the teacher (done at construction and before step 0).
    void syncTeacherToStudent();
    // teacher ← m · teacher + (1 − m) · student, parameter by parameter.
    void updateTeacher(double momentum);

    // The crops of one batch, normalised: globals [G·B, 3, g, g] and locals [L·B, 3, l, l],
    // crop-major (crop 0 of every image, then crop 1, ...), made on LibTorch's intra-op threads
    // and the same for any thread count. Advances the augmentation RNG.
    std::pair<torch::Tensor, torch::Tensor> makeCrops(const std::vector<int64_t>& indices);

    // Batches (crops and iBOT masks) are made one ahead on a worker thread on CUDA runs, so the
    // CPU's augmentation overlaps the GPU's step (prefetch.h). `always` does so on CPU runs too
    // (tests; machines with idle cores). The batches drawn are the same either way.
    void setPrefetch(bool always) { prefetchAlways_ = always; }

    const ImageStageConfig& settings() const { return config_; }
    DinoModel student{nullptr};
    DinoModel teacher{nullptr};
    torch::Tensor dinoCenter;  // [1, K_dino], the raw EMA (see centerBiasCorrection)
    torch::Tensor ibotCenter;  // [1, K_ibot]

private:
    // One micro-batch as the CPU made it (page-locked on CUDA runs), with the data state from
    // before it was drawn: what a checkpoint taken while it waits must record.
    struct CropBatch {
        torch::Tensor globals, locals, masks;
        nlohmann::json stateBefore;
    };
    CropBatch makeBatch();
    nlohmann::json liveDataState() const;

    ImageStageConfig config_;
    torch::Tensor images_;
    nlohmann::json provenance_;
    EpochSampler sampler_;
    ImageAugmenter augmenter_;
    // Teacher logits summed since the last optimizer step, for the center update.
    torch::Tensor pendingDinoSum_, pendingIbotSum_;
    int64_t pendingDinoRows_ = 0, pendingIbotRows_ = 0;
    // Σ (1 − m) m^k over the center updates so far: the share of the EMA that is data.
    double dinoCenterWeight_ = 0, ibotCenterWeight_ = 0;
    bool prefetchAlways_ = false;
    std::atomic<bool> pinBatches_{false};  // set by step(), read by makeBatch on the worker
    std::unique_ptr<Prefetcher<CropBatch>> prefetcher_;  // last member: its worker uses the others
};

} // namespace astroclip::stages
