#include "core/runs/run_config.h"

#include "core/common/error.h"
#include "core/dataset/spectrum_arrays.h"

#include "core/checkpoint/atomic_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace astroclip::runs {

namespace {

// Per preset: the run's length, warm-up and checkpoint interval. tiny is the CPU demo (a few
// minutes on two cores: measured 1–2 s per tiny spectrum step, 2–4 s per tiny DINO step on a
// busy 2-core machine); the others are GPU runs, base and large at AstroCLIP's scale.
struct Schedule {
    int64_t steps, warmup, checkpointEvery;
};

int presetIndex(const std::string& preset) {
    const auto names = presetNames();
    const auto it = std::find(names.begin(), names.end(), preset);
    if (it == names.end()) throw UsageError("unknown preset '" + preset + "' (known: tiny, small, base, large)");
    return int(it - names.begin());
}

void setSchedule(train::TrainParams& p, const Schedule& s) {
    p.steps = s.steps;
    p.warmupSteps = s.warmup;
    p.checkpointEvery = s.checkpointEvery;
}

// tiny: SpecFormer tiny (128-d × 4, 80/40-px patches: 194 tokens on the full grid). small: a
// 256-d × 6 model on 40/20-px patches (389 tokens). base and large: AstroCLIP's SpecFormer
// (768-d × 6, 20/10 px: 778 tokens); large trains longer on bigger batches.
models::SpecFormerConfig specformerPreset(int index) {
    if (index == 0) return models::SpecFormerConfig::preset("tiny");
    if (index >= 2) {
        auto c = models::SpecFormerConfig::preset("full");
        c.name = index == 2 ? "base" : "large";
        return c;
    }
    models::SpecFormerConfig c;
    c.name = "small";
    c.patchLength = 40;
    c.patchStride = 20;
    c.embedDim = 256;
    c.depth = 6;
    c.numHeads = 8;
    c.maxTokens = 1 + c.numPatches(c.inputLength);
    return c;
}

RunConfig spectrumPreset(int index) {
    RunConfig c;
    c.specformer = specformerPreset(index);
    // AstroCLIP's optimiser (lr 1e-5) for its model; the smaller ones take larger rates.
    models::SpecFormerConfig forRate = c.specformer;
    forRate.name = index >= 2 ? "full" : c.specformer.name;
    c.train = stages::spectrumTrainParams(forRate);
    constexpr Schedule kSchedules[] = {{100, 10, 50}, {5000, 250, 500}, {20000, 1000, 1000}, {40000, 2000, 2000}};
    constexpr int64_t kBatch[] = {32, 64, 64, 128};
    setSchedule(c.train, kSchedules[index]);
    c.spectrum.batchSize = kBatch[index];
    return c;
}

RunConfig imagePreset(int index, const std::string& preset) {
    RunConfig c;
    c.image = stages::imageStageConfig(preset);
    c.train = stages::imageTrainParams(c.image);  // AstroDINO's schedule for small, base, large
    // The tiny ViT is built for the 64-px cutouts a CPU survey has; the others for AstroCLIP's
    // 152-px cutouts, whose global crops are 144 px.
    c.data.cropSize = index == 0 ? 64 : 152;
    if (index == 0) {
        // The tiny stage is tuned for a few hundred steps; the demo keeps the shape of that
        // schedule over 50 (a tiny DINO step takes seconds on two cores).
        rescaleSchedule(c, 50);
        c.train.checkpointEvery = 25;
    } else {
        c.train.checkpointEvery = 1250;  // an AstroDINO epoch
    }
    return c;
}

RunConfig clipPreset(int index) {
    RunConfig c;
    c.train = stages::clipTrainParams();
    constexpr Schedule kSchedules[] = {{100, 10, 50}, {2000, 200, 500}, {10000, 1000, 1000}, {10000, 1000, 1000}};
    constexpr int64_t kBatch[] = {64, 128, 256, 256};
    constexpr int64_t kEmbed[] = {128, 512, 1024, 1024};
    setSchedule(c.train, kSchedules[index]);
    // Heads of a tiny run see a few thousand pairs: a larger rate than AstroCLIP's 1e-4.
    if (index == 0) c.train.lr = 1e-3;
    c.train.minLr = c.train.lr / 100.0;
    c.clip.batchSize = kBatch[index];
    c.clip.embedDim = kEmbed[index];
    return c;
}

RunConfig supervisedPreset(int index, const stages::FineTuneOptions& finetune) {
    RunConfig c;
    c.train = stages::supervisedTrainParams(finetune);
    constexpr Schedule kSchedules[] = {{100, 10, 50}, {2000, 100, 500}, {5000, 250, 1000}, {5000, 250, 1000}};
    setSchedule(c.train, kSchedules[index]);
    c.data.cropSize = index == 0 ? 64 : 144;
    // Without --init the backbone is trained from scratch at the preset's size.
    c.specformer = specformerPreset(index);
    c.image.vit = models::ViTConfig::preset(presetNames()[size_t(index)]);
    return c;
}

void bindTrain(ConfigFields& f, train::TrainParams& p) {
    f.field("steps", p.steps);
    f.field("warmup_steps", p.warmupSteps);
    f.field("lr", p.lr);
    f.field("min_lr", p.minLr);
    f.field("weight_decay", p.weightDecay);
    f.field("beta1", p.beta1);
    f.field("beta2", p.beta2);
    f.field("eps", p.eps);
    f.field("grad_clip", p.gradClip);
    f.field("accumulate", p.accumulate);
    f.field("checkpoint_every", p.checkpointEvery);
    f.field("mixed_precision", p.mixedPrecision);
}

void bindSpecFormer(ConfigFields& f, models::SpecFormerConfig& c) {
    f.field("name", c.name);
    f.field("patch_length", c.patchLength);
    f.field("patch_stride", c.patchStride);
    f.field("embed_dim", c.embedDim);
    f.field("depth", c.depth);
    f.field("num_heads", c.numHeads);
    f.field("max_tokens", c.maxTokens);
    f.field("mlp_ratio", c.mlpRatio);
    f.field("dropout", c.dropout);
    f.field("layer_norm_eps", c.layerNormEps);
    f.field("min_std", c.minStd);
}

void bindViT(ConfigFields& f, models::ViTConfig& c) {
    f.field("name", c.name);
    f.field("image_size", c.imageSize);
    f.field("patch_size", c.patchSize);
    f.field("embed_dim", c.embedDim);
    f.field("depth", c.depth);
    f.field("num_heads", c.numHeads);
    f.field("mlp_ratio", c.mlpRatio);
    f.field("qkv_bias", c.qkvBias);
    f.field("layer_scale_init", c.layerScaleInit);
    f.field("register_tokens", c.numRegisterTokens);
    f.field("drop_path_rate", c.dropPathRate);
    f.field("layer_norm_eps", c.layerNormEps);
    f.field("interpolate_offset", c.interpolateOffset);
    f.field("interpolate_antialias", c.interpolateAntialias);
}

void bindNormalization(ConfigFields& f, stages::ImageNormalization& n) {
    f.field("band_scale", n.bandScale);
    f.field("softening", n.softening);
}

void bindDinoHead(ConfigFields& f, stages::DinoHeadConfig& h) {
    f.field("hidden_dim", h.hiddenDim);
    f.field("bottleneck_dim", h.bottleneckDim);
    f.field("prototypes", h.prototypes);
}

void bindAugment(ConfigFields& f, stages::AugmentParams& a) {
    f.field("rotate_probability", a.rotateProbability);
    f.field("flip_probability", a.flipProbability);
    f.field("blur_probability", a.blurProbability);
    f.field("blur_sigma_min", a.blurSigmaMin);
    f.field("blur_sigma_max", a.blurSigmaMax);
    f.field("noise_probability", a.noiseProbability);
    f.field("noise_sigma_min", a.noiseSigmaMin);
    f.field("noise_sigma_max", a.noiseSigmaMax);
    f.field("gain_probability", a.gainProbability);
    f.field("gain_min", a.gainMin);
    f.field("gain_max", a.gainMax);
    f.field("band_jitter", a.bandJitter);
}

void bindImageStage(ConfigFields& f, stages::ImageStageConfig& c) {
    f.field("layer_decay", c.finetune.layerDecay);  // --layer-decay overrides it
    f.field("patch_embed_lr_multiplier", c.patchEmbedLrMultiplier);
    f.field("batch_size", c.batchSize);
    f.field("global_crops", c.globalCrops);
    f.field("global_crop_size", c.globalCropSize);
    f.field("local_crops", c.localCrops);
    f.field("local_crop_size", c.localCropSize);
    bindAugment(f.section("augment"), c.augment);
    bindNormalization(f.section("normalization"), c.normalization);
    f.field("student_temperature", c.studentTemperature);
    f.field("teacher_temperature_start", c.teacherTemperatureStart);
    f.field("teacher_temperature", c.teacherTemperature);
    f.field("teacher_temperature_warmup_steps", c.teacherTemperatureWarmupSteps);
    f.choice("centering", c.centering,
             {{stages::TeacherCentering::Center, "center"}, {stages::TeacherCentering::SinkhornKnopp, "sinkhorn_knopp"}});
    f.field("center_momentum", c.centerMomentum);
    f.field("center_bias_correction", c.centerBiasCorrection);
    f.field("teacher_momentum_start", c.teacherMomentumStart);
    f.field("ibot_min_fraction", c.ibotMinFraction);
    f.field("ibot_max_fraction", c.ibotMaxFraction);
    f.field("ibot_sample_probability", c.ibotSampleProbability);
    f.field("dino_weight", c.dinoWeight);
    f.field("ibot_weight", c.ibotWeight);
    f.field("koleo_weight", c.koleoWeight);
    f.field("freeze_last_layer_steps", c.freezeLastLayerSteps);
}

// The one table of every kind's keys: what is recorded and what a --config file may set.
void bindConfig(RunConfig& c, ConfigFields& f) {
    f.field("preset", c.preset);  // what the other keys are applied over (read before them)
    bindTrain(f.section("train"), c.train);
    auto& data = f.section("data");
    data.field("held_out_fraction", c.data.heldOutFraction);
    data.field("split_seed", c.data.splitSeed);
    auto& model = f.section("model");
    auto& stage = f.section("stage");
    switch (c.kind) {
    case StageKind::Spectrum:
        data.field("spectrum_downsample", c.data.spectrumDownsample);
        bindSpecFormer(model, c.specformer);
        stage.field("batch_size", c.spectrum.batchSize);
        stage.field("mask_chunks", c.spectrum.maskChunks);
        stage.field("mask_chunk_width", c.spectrum.maskChunkWidth);
        stage.field("ivar_weighted", c.spectrum.ivarWeighted);
        stage.field("embedding_std_floor", c.spectrum.embeddingStdFloor);
        break;
    case StageKind::Image:
        data.field("crop_size", c.data.cropSize);
        bindViT(model.section("vit"), c.image.vit);
        bindDinoHead(model.section("dino_head"), c.image.dinoHead);
        model.field("ibot_separate_head", c.image.ibotSeparateHead);
        bindDinoHead(model.section("ibot_head"), c.image.ibotHead);
        bindImageStage(stage, c.image);
        break;
    case StageKind::Clip:
        data.field("crop_size", c.data.cropSize);
        data.field("spectrum_downsample", c.data.spectrumDownsample);
        bindViT(model.section("image"), c.image.vit);
        bindSpecFormer(model.section("spectrum"), c.specformer);
        bindNormalization(stage.section("image_normalization"), c.image.normalization);
        stage.field("batch_size", c.clip.batchSize);
        stage.field("embed_dim", c.clip.embedDim);
        stage.field("head_num_heads", c.clip.headNumHeads);
        stage.field("head_dropout", c.clip.headDropout);
        stage.field("logit_scale", c.clip.logitScale);
        stage.field("learn_logit_scale", c.clip.learnLogitScale);
        stage.field("embedding_std_floor", c.clip.embeddingStdFloor);
        break;
    case StageKind::Supervised:
        data.field("crop_size", c.data.cropSize);
        data.field("spectrum_downsample", c.data.spectrumDownsample);
        bindViT(model.section("image"), c.image.vit);
        bindSpecFormer(model.section("spectrum"), c.specformer);
        bindNormalization(stage.section("image_normalization"), c.image.normalization);
        stage.field("modality", c.supervised.modality);
        stage.field("target", c.supervised.target);
        stage.field("task", c.supervised.task);
        stage.field("head", c.supervised.head);
        stage.field("mlp_hidden", c.supervised.stage.mlpHidden);
        stage.field("batch_size", c.supervised.stage.batchSize);
        stage.field("backbone_lr_scale", c.supervised.stage.backboneLrScale);
        stage.field("augment", c.supervised.stage.augment);
        bindAugment(stage.section("augment_params"), c.supervised.stage.augmentParams);
        stage.field("embedding_std_floor", c.supervised.stage.embeddingStdFloor);
        break;
    }
}

nlohmann::json readConfigFile(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw FileError(path, "no such configuration file (nor a preset: tiny, small, base, large)");
    return readJsonFile(path);  // core/checkpoint/atomic_file.h: FileError with the parse position
}

// Applies `json` (with optional "kind" and "preset" already looked at) over `base`.
RunConfig overlay(RunConfig base, nlohmann::json json, const std::string& source) {
    json.erase("kind");  // checked by the caller
    ConfigFields fields;
    bindConfig(base, fields);
    fields.apply(json, source);
    return base;
}

std::string presetOf(const nlohmann::json& json, const std::string& source) {
    if (!json.is_object()) configError(source, "the configuration must be a JSON object");
    if (!json.contains("preset")) return "tiny";
    if (!json["preset"].is_string()) configError(source, "'preset' must be one of tiny, small, base, large");
    return json["preset"].get<std::string>();
}

} // namespace

std::vector<std::string> presetNames() { return {"tiny", "small", "base", "large"}; }

RunConfig presetConfig(StageKind kind, const std::string& preset, const stages::FineTuneOptions& finetune) {
    const int index = presetIndex(preset);
    RunConfig c;
    switch (kind) {
    case StageKind::Spectrum: c = spectrumPreset(index); break;
    case StageKind::Image: c = imagePreset(index, preset); break;
    case StageKind::Clip: c = clipPreset(index); break;
    case StageKind::Supervised: c = supervisedPreset(index, finetune); break;
    }
    c.kind = kind;
    c.preset = preset;
    finalizeConfig(c);
    return c;
}

RunConfig resolveConfig(StageKind kind, const std::string& presetOrFile, const stages::FineTuneOptions& finetune) {
    const auto names = presetNames();
    if (presetOrFile.empty()) return presetConfig(kind, "tiny", finetune);
    if (std::find(names.begin(), names.end(), presetOrFile) != names.end())
        return presetConfig(kind, presetOrFile, finetune);
    const auto json = readConfigFile(presetOrFile);
    const std::string preset = presetOf(json, presetOrFile);
    if (json.contains("kind") && json["kind"] != stageKindName(kind))
        throw FileError(presetOrFile, "configures a '" + json["kind"].dump() + "' run, not a " +
                                          stageKindName(kind) + " run");
    RunConfig c;
    try {
        c = presetConfig(kind, preset, finetune);
    } catch (const UsageError& e) {
        throw FileError(presetOrFile, e.what());
    }
    c = overlay(std::move(c), json, presetOrFile);
    finalizeConfig(c);
    return c;
}

nlohmann::json configJson(const RunConfig& config) {
    RunConfig copy = config;
    ConfigFields fields;
    bindConfig(copy, fields);
    nlohmann::json j = fields.toJson();
    j["kind"] = stageKindName(config.kind);
    return j;
}

RunConfig configFromJson(StageKind kind, const nlohmann::json& json, const std::string& source) {
    const std::string preset = presetOf(json, source);
    if (json.contains("kind") && json["kind"] != stageKindName(kind))
        configError(source, "records a " + json["kind"].dump() + " run, not a " + stageKindName(kind) + " run");
    RunConfig c;
    try {
        c = presetConfig(kind, preset);
    } catch (const UsageError& e) {
        configError(source, e.what());
    }
    c = overlay(std::move(c), json, source);
    finalizeConfig(c);
    return c;
}

void rescaleSchedule(RunConfig& c, int64_t steps) {
    if (steps < 1) throw UsageError("a run needs at least 1 step (got " + std::to_string(steps) + ")");
    const double factor = double(steps) / double(std::max<int64_t>(1, c.train.steps));
    // A schedule part that exists keeps at least one step.
    const auto scale = [&](int64_t v) { return v > 0 ? std::max<int64_t>(1, std::llround(double(v) * factor)) : 0; };
    c.train.warmupSteps = std::min(scale(c.train.warmupSteps), steps - 1);
    c.image.teacherTemperatureWarmupSteps = scale(c.image.teacherTemperatureWarmupSteps);
    c.image.freezeLastLayerSteps = std::min(scale(c.image.freezeLastLayerSteps), steps - 1);
    c.train.steps = steps;
    finalizeConfig(c);
}

void finalizeConfig(RunConfig& c) {
    if (c.data.spectrumDownsample < 1)
        throw UsageError("data.spectrum_downsample must be at least 1 (got " +
                         std::to_string(c.data.spectrumDownsample) + ")");
    c.specformer.inputLength = downsampledLength(c.data.spectrumDownsample);
    c.image.scheduleSteps = c.train.steps;
}

} // namespace astroclip::runs
