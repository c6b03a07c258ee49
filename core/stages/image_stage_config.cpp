// ImageStageConfig: validation, JSON, schedules and the recommended presets (image_stage.h).
#include "core/common/error.h"
#include "core/stages/image_stage.h"

#include <cmath>
#include <numbers>

namespace astroclip::stages {

namespace {

void requirePositive(int64_t value, const char* name) {
    if (value < 1) throw UsageError(std::string("image stage ") + name + " must be >= 1, got " + std::to_string(value));
}

const char* centeringName(TeacherCentering centering) {
    return centering == TeacherCentering::SinkhornKnopp ? "sinkhorn_knopp" : "centering";
}

} // namespace

void ImageStageConfig::validate(int64_t imageSide) const {
    vit.validate();
    dinoHead.validate();
    if (ibotSeparateHead) ibotHead.validate();
    augment.validate();
    finetune.validate(vit.depth);
    requirePositive(batchSize, "batch_size");
    requirePositive(globalCrops, "global_crops");
    requirePositive(scheduleSteps, "schedule_steps");
    if (batchSize < 2) throw UsageError("image stage batch_size must be >= 2 (KoLeo compares samples)");
    if (localCrops < 0) throw UsageError("image stage local_crops must be >= 0");
    if (globalCrops + localCrops < 2) throw UsageError("image stage needs at least two crops per image");
    auto checkCrop = [&](int64_t size, const char* name) {
        if (size < vit.patchSize || size % vit.patchSize != 0 || size > imageSide)
            throw UsageError(std::string("image stage ") + name + " (" + std::to_string(size) +
                             " px) must be a multiple of the patch size " + std::to_string(vit.patchSize) +
                             " and at most the cutout side " + std::to_string(imageSide));
    };
    checkCrop(globalCropSize, "global_crop_size");
    if (localCrops > 0) checkCrop(localCropSize, "local_crop_size");
    if (!(studentTemperature > 0 && teacherTemperatureStart > 0 && teacherTemperature > 0))
        throw UsageError("image stage temperatures must be > 0");
    if (teacherTemperatureWarmupSteps < 0) throw UsageError("image stage teacher temperature warm-up must be >= 0");
    if (!(centerMomentum >= 0 && centerMomentum < 1)) throw UsageError("image stage center_momentum must be in [0, 1)");
    if (!(teacherMomentumStart >= 0 && teacherMomentumStart <= 1))
        throw UsageError("image stage teacher_momentum must be in [0, 1]");
    if (freezeLastLayerSteps < 0) throw UsageError("image stage freeze_last_layer_steps must be >= 0");
    if (!(ibotMinFraction > 0 && ibotMinFraction <= ibotMaxFraction && ibotMaxFraction <= 1))
        throw UsageError("image stage iBOT mask fractions must satisfy 0 < min <= max <= 1");
    if (!(ibotSampleProbability >= 0 && ibotSampleProbability <= 1))
        throw UsageError("image stage iBOT sample probability must be in [0, 1]");
    if (!(dinoWeight >= 0 && ibotWeight >= 0 && koleoWeight >= 0))
        throw UsageError("image stage loss weights must be >= 0");
    if (!(patchEmbedLrMultiplier > 0 && std::isfinite(patchEmbedLrMultiplier)))
        throw UsageError("image stage patch_embed_lr_multiplier must be > 0");
}

nlohmann::json ImageStageConfig::toJson() const {
    auto head = [](const DinoHeadConfig& h) {
        return nlohmann::json{{"hidden_dim", h.hiddenDim}, {"bottleneck_dim", h.bottleneckDim}, {"prototypes", h.prototypes}};
    };
    return {{"vit", {{"name", vit.name}, {"image_size", vit.imageSize}, {"patch_size", vit.patchSize},
                     {"embed_dim", vit.embedDim}, {"depth", vit.depth}, {"num_heads", vit.numHeads},
                     {"mlp_ratio", vit.mlpRatio}, {"register_tokens", vit.numRegisterTokens},
                     {"drop_path_rate", vit.dropPathRate}, {"layer_scale_init", vit.layerScaleInit}}},
            {"dino_head", head(dinoHead)},
            {"ibot_head", ibotSeparateHead ? head(ibotHead) : nlohmann::json("shared with dino_head")},
            {"ibot_head_shared", !ibotSeparateHead},
            {"batch_size", batchSize}, {"global_crops", globalCrops}, {"global_crop_size", globalCropSize},
            {"local_crops", localCrops}, {"local_crop_size", localCropSize}, {"augment", augment.toJson()},
            {"normalization", normalization.toJson()}, {"student_temperature", studentTemperature},
            {"teacher_temperature", {teacherTemperatureStart, teacherTemperature}},
            {"teacher_temperature_warmup_steps", teacherTemperatureWarmupSteps},
            {"centering", centeringName(centering)}, {"center_momentum", centerMomentum},
            {"center_bias_correction", centerBiasCorrection},
            {"teacher_momentum", {teacherMomentumStart, 1.0}}, {"schedule_steps", scheduleSteps},
            {"freeze_last_layer_steps", freezeLastLayerSteps},
            {"ibot_mask_fraction", {ibotMinFraction, ibotMaxFraction}}, {"ibot_mask_mode", "random_patches"},
            {"ibot_sample_probability", ibotSampleProbability},
            {"loss_weights", {{"dino", dinoWeight}, {"ibot", ibotWeight}, {"koleo", koleoWeight}}},
            {"finetune", finetune.toJson()}, {"patch_embed_lr_multiplier", patchEmbedLrMultiplier}, {"seed", seed}};
}

double teacherMomentum(const ImageStageConfig& config, int64_t step) {
    if (step >= config.scheduleSteps) return 1.0;
    const double progress = double(std::max<int64_t>(step, 0)) / double(config.scheduleSteps);
    return 1.0 - (1.0 - config.teacherMomentumStart) * (std::cos(std::numbers::pi * progress) + 1.0) / 2.0;
}

double teacherTemperatureAt(const ImageStageConfig& config, int64_t step) {
    if (step >= config.teacherTemperatureWarmupSteps) return config.teacherTemperature;
    const double t = double(step) / double(config.teacherTemperatureWarmupSteps);
    return config.teacherTemperatureStart + (config.teacherTemperature - config.teacherTemperatureStart) * t;
}

namespace {

ImageStageConfig presetConfig(const std::string& preset) {
    ImageStageConfig c;
    if (preset == "tiny") {
        // Sized so that a CPU run of tens to hundreds of steps moves the encoder
        // (tst_learn_image: +0.09 zero-shot redshift R² over random init after 60 steps).
        c.vit = models::ViTConfig::preset("tiny");  // 192-d, 6 blocks, patch 8, 64 px
        // DINOv2's 1e-5 keeps every block a near-identity for thousands of steps: at init the
        // CLS token then differs between images by ~1e-5 of its length, nothing the heads can
        // tell apart in a short run.
        c.vit.layerScaleInit = 1.0;
        // DINOv2's 256-d bottleneck (a narrower one makes the student's initial softmax so
        // peaked that flattening it erases the differences between images).
        c.dinoHead = {512, 256, 1024};
        c.batchSize = 32;
        c.globalCropSize = 56;  // shifts of up to 8 px on a 64-px cutout
        c.localCrops = 4;
        c.localCropSize = 24;
        c.scheduleSteps = 300;
        // A fast teacher (it averages over ~10 student steps, not DINOv2's ~125 of 125,000) so
        // it leaves its random initialisation within a CPU run, with a center faster still
        // (~2 steps) so the center keeps up with the teacher's drift; a sharp teacher (0.02,
        // as DINO's authors advise when the teacher stays uniform) from the start.
        c.teacherMomentumStart = 0.9;
        c.centerMomentum = 0.5;
        c.teacherTemperatureStart = c.teacherTemperature = 0.02;
        c.teacherTemperatureWarmupSteps = 0;
        c.freezeLastLayerSteps = 3;  // 1 % of the run, as DINOv2's first of 100 epochs
        return c;
    }
    if (preset != "small" && preset != "base" && preset != "large")
        throw UsageError("unknown image stage preset '" + preset + "' (known: tiny, small, base, large)");
    // AstroDINO (AstroCLIP's astrodino config): ViT patch 12 on 152-px cutouts, RandomCrop to
    // 144-px global crops (12×12 patches) and 60-px local crops, 65,536 prototypes behind a
    // 2048-wide head with a 256-d bottleneck shared by DINO and iBOT, drop path 0.3, layer
    // scale 1e-5, teacher momentum 0.992 → 1, temperature 0.04 → 0.07 over 30 epochs,
    // last layer frozen for the first epoch, 200 epochs of 1250 steps, batch 64 per GPU,
    // layer-wise lr decay 0.9 and patch embedding lr × 0.2.
    c.vit = models::ViTConfig::preset(preset);
    c.vit.dropPathRate = 0.3;
    c.dinoHead = {2048, 256, 65536};
    c.ibotHead = c.dinoHead;
    c.batchSize = 64;
    c.globalCropSize = 144;
    c.localCrops = 8;
    c.localCropSize = 60;
    constexpr int64_t kEpoch = 1250;
    c.scheduleSteps = 200 * kEpoch;
    c.teacherMomentumStart = 0.992;
    c.teacherTemperatureWarmupSteps = 30 * kEpoch;
    c.freezeLastLayerSteps = kEpoch;
    c.finetune.layerDecay = 0.9;
    c.patchEmbedLrMultiplier = 0.2;
    return c;
}

} // namespace

ImageStageConfig imageStageConfig(const std::string& preset, int64_t steps) {
    auto c = presetConfig(preset);
    if (steps < 0) throw UsageError("image stage steps must be >= 1, got " + std::to_string(steps));
    if (steps > 0 && steps != c.scheduleSteps) {
        // The schedules keep their share of the run.
        const auto scaled = [&](int64_t n) { return n * steps / c.scheduleSteps; };
        c.teacherTemperatureWarmupSteps = scaled(c.teacherTemperatureWarmupSteps);
        c.freezeLastLayerSteps = scaled(c.freezeLastLayerSteps);
        c.scheduleSteps = steps;
    }
    return c;
}

train::TrainParams imageTrainParams(const ImageStageConfig& config) {
    train::TrainParams p;
    p.steps = config.scheduleSteps;
    // DINOv2's rule: lr = base · √(batch / 1024). Base 4e-3 is DINOv2's; AstroDINO trained its
    // ViT-L at 2e-4. The tiny CPU model trains at DINOv2's base (7e-4 for 32 images).
    const double base = config.vit.embedDim >= 1024 ? 2e-4 : 4e-3;
    p.lr = base * std::sqrt(double(config.batchSize) / 1024.0);
    p.minLr = 1e-6;
    // 10 % warm-up (DINOv2: 10 of 100 epochs; AstroDINO 32 of 200).
    p.warmupSteps = config.scheduleSteps / 10;
    // DINOv2 raises weight decay 0.04 → 0.4 on a cosine (AstroDINO 0.001 → 0.01); the trainer
    // keeps one value, the start of that schedule.
    p.weightDecay = config.vit.embedDim >= 1024 ? 0.001 : 0.04;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.gradClip = 3.0;
    p.seed = config.seed;
    return p;
}

} // namespace astroclip::stages
