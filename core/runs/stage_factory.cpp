#include "core/runs/stage_factory.h"

#include "core/checkpoint/sha256.h"
#include "core/common/error.h"
#include "core/dataset/snapshot_cache.h"
#include "core/dataset/split.h"
#include "core/stages/image_augment.h"
#include "core/train/run_checkpoint.h"

#include <torch/torch.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip::runs {

namespace {

const char* modalityText(Modality m) { return m == Modality::Image ? "image" : "spectrum"; }

// Where the supervised stage keeps its backbone (supervised_stage.h: "backbone.<parameter>").
constexpr const char* kSupervisedBackbonePrefix = "backbone.";

// The stage kind that wrote a checkpoint: from its run.json, else from the trainer's stage name.
std::optional<StageKind> sourceKind(const CheckpointSource& src) {
    if (src.run.is_object()) return parseStageKind(src.run.value("kind", std::string()));
    if (src.stage == "spectrum-masked-modelling") return StageKind::Spectrum;
    if (src.stage == "image-dino") return StageKind::Image;
    if (src.stage == "clip-alignment") return StageKind::Clip;
    if (src.stage.rfind("supervised-", 0) == 0) return StageKind::Supervised;
    return std::nullopt;
}

// Where a checkpoint keeps the backbone of a modality: "" for bare weights; nullopt when it
// holds none of that modality.
std::optional<std::string> backbonePrefixIn(const CheckpointSource& src, Modality modality) {
    if (!src.trainerCheckpoint) return std::string();
    const auto kind = sourceKind(src);
    if (!kind) return std::nullopt;
    switch (*kind) {
    case StageKind::Spectrum: return modality == Modality::Spectrum ? std::optional<std::string>("") : std::nullopt;
    case StageKind::Image:
        // The EMA teacher is the encoder DINOv2 keeps.
        return modality == Modality::Image ? std::optional<std::string>("teacher.backbone.") : std::nullopt;
    case StageKind::Clip: return std::string(modality == Modality::Image ? "image.backbone." : "spectrum.backbone.");
    case StageKind::Supervised: {
        if (!src.run.is_object()) return std::nullopt;
        const auto recorded = src.run["config"].value("stage", nlohmann::json::object());
        if (recorded.value("modality", std::string()) != modalityText(modality)) return std::nullopt;
        return std::string(kSupervisedBackbonePrefix);
    }
    }
    return std::nullopt;
}

std::string describeSource(const CheckpointSource& src) {
    if (!src.trainerCheckpoint) return src.path + " (bare weights)";
    return src.path + " (" + (src.stage.empty() ? std::string("a training checkpoint") : src.stage) + ", step " +
           std::to_string(src.step) + ")";
}

// The configuration recorded by the run a source comes from, when it is one of ours.
std::optional<RunConfig> sourceConfig(const CheckpointSource& src) {
    if (!src.run.is_object()) return std::nullopt;
    const auto kind = sourceKind(src);
    if (!kind) return std::nullopt;
    return configFromJson(*kind, src.run["config"], runFilePath(src.runDir));
}

void requireBackbone(const CheckpointSource& src, Modality modality, const std::string& option) {
    if (backbonePrefixIn(src, modality)) return;
    const auto kind = sourceKind(src);
    throw FileError(src.given, std::string("holds no ") + modalityText(modality) + " backbone" +
                                   (kind ? std::string(" (it is a ") + stageKindName(*kind) + " run)" : "") + ": " +
                                   option + " needs one");
}

void adoptSpectrum(RunConfig& to, const RunConfig& from, const CheckpointSource& src, const NoteFn& note) {
    to.specformer = from.specformer;
    to.data.spectrumDownsample = from.data.spectrumDownsample;
    if (note)
        note("spectrum backbone: SpecFormer " + from.specformer.name + " (" + std::to_string(from.specformer.embedDim) +
             "-d × " + std::to_string(from.specformer.depth) + ") as trained in " + src.runDir);
}

void adoptImage(RunConfig& to, const RunConfig& from, const CheckpointSource& src, const NoteFn& note) {
    to.image.vit = from.image.vit;
    to.image.normalization = from.image.normalization;
    if (note)
        note("image backbone: ViT " + from.image.vit.name + " (" + std::to_string(from.image.vit.embedDim) + "-d × " +
             std::to_string(from.image.vit.depth) + ", " + std::to_string(from.image.vit.imageSize) +
             " px) as trained in " + src.runDir);
}

// Loads a backbone completely from `src` into the stage tensors under `stagePrefix`.
void loadBackbone(train::Stage& stage, const CheckpointSource& src, Modality modality, const std::string& stagePrefix,
                  const std::string& option, const NoteFn& note) {
    requireBackbone(src, modality, option);
    train::InitOptions options;
    options.allowSubset = true;
    options.filePrefix = *backbonePrefixIn(src, modality);
    options.stagePrefix = stagePrefix;
    const auto report = train::initWeights(stage, src.path, options);
    if (!report.kept.empty()) {
        std::string examples;
        for (size_t i = 0; i < report.kept.size() && i < 4; ++i)
            examples += (i ? ", " : "") + report.kept[i].substr(stagePrefix.size());
        throw FileError(src.trainerCheckpoint ? src.path + ".safetensors" : src.path,
                        "lacks " + std::to_string(report.kept.size()) + " tensors of the " + modalityText(modality) +
                            " backbone (e.g. " + examples + "): it is not a backbone of this architecture (" +
                            option + ")");
    }
    if (note)
        note(option + ": loaded " + std::to_string(report.loaded.size()) + " " + modalityText(modality) +
             " backbone tensors from " + describeSource(src));
}

std::vector<size_t> trainingIndices(const DatasetSnapshot& snapshot, const DataConfig& data) {
    return splitHeldOut(snapshot.ids, data.heldOutFraction, data.splitSeed).train;
}

} // namespace

void adoptSourceArchitectures(RunConfig& config, const StageSources& sources, const NoteFn& note) {
    switch (config.kind) {
    case StageKind::Spectrum:
        if (sources.init) {
            requireBackbone(*sources.init, Modality::Spectrum, "--init");
            if (const auto from = sourceConfig(*sources.init)) adoptSpectrum(config, *from, *sources.init, note);
        }
        break;
    case StageKind::Image:
        if (sources.init) {
            requireBackbone(*sources.init, Modality::Image, "--init");
            if (const auto from = sourceConfig(*sources.init)) {
                adoptImage(config, *from, *sources.init, note);
                // A whole image run continues with its heads too.
                if (from->kind == StageKind::Image) {
                    config.image.dinoHead = from->image.dinoHead;
                    config.image.ibotHead = from->image.ibotHead;
                }
            }
        }
        break;
    case StageKind::Clip:
        if (sources.imageInit) {
            requireBackbone(*sources.imageInit, Modality::Image, "--image-init");
            if (const auto from = sourceConfig(*sources.imageInit)) {
                adoptImage(config, *from, *sources.imageInit, note);
                // Aligned at the size the encoder is built for (AstroCLIP: 144-px crops).
                config.data.cropSize = int(from->image.vit.imageSize);
            }
        }
        if (sources.spectrumInit) {
            requireBackbone(*sources.spectrumInit, Modality::Spectrum, "--spectrum-init");
            if (const auto from = sourceConfig(*sources.spectrumInit))
                adoptSpectrum(config, *from, *sources.spectrumInit, note);
        }
        break;
    case StageKind::Supervised:
        if (sources.init) {
            const bool image = config.supervised.modality == "image";
            requireBackbone(*sources.init, image ? Modality::Image : Modality::Spectrum, "--init");
            if (const auto from = sourceConfig(*sources.init)) {
                if (image) {
                    adoptImage(config, *from, *sources.init, note);
                    config.data.cropSize = from->kind == StageKind::Image ? int(from->image.vit.imageSize)
                                                                          : from->data.cropSize;
                } else {
                    adoptSpectrum(config, *from, *sources.init, note);
                }
            }
        }
        break;
    }
    finalizeConfig(config);
}

SnapshotParams snapshotParams(const RunConfig& config, const std::string& where) {
    SnapshotParams p;
    p.where = where;
    p.cropSize = config.data.cropSize;
    p.spectrumDownsample = config.data.spectrumDownsample;
    switch (config.kind) {
    case StageKind::Spectrum: p.modality = Modality::Spectrum; break;
    case StageKind::Image: p.modality = Modality::Image; break;
    case StageKind::Clip: p.modality = Modality::Both; break;
    case StageKind::Supervised:
        p.modality = config.supervised.modality == "image" ? Modality::Image : Modality::Spectrum;
        p.columns = {config.supervised.target};
        break;
    }
    return p;
}

std::shared_ptr<const DatasetSnapshot> trainingSnapshot(Catalog& catalog, const SnapshotParams& params,
                                                    const ProgressFn& progress, const NoteFn& note) {
    // One cache file per selection, so runs on different selections do not evict each other.
    std::string selection = std::string(modalityName(params.modality)) + "\n" + params.where;
    for (const auto& c : params.columns) selection += "\n" + c;
    const std::string hash = sha256Hex({reinterpret_cast<const uint8_t*>(selection.data()), selection.size()});
    const fs::path catalogPath(catalog.path());
    const fs::path dir = catalogPath.parent_path() / (catalogPath.stem().string() + "-snapshots");
    const std::string name = std::string(modalityName(params.modality)) + "-crop" + std::to_string(params.cropSize) +
                             "-down" + std::to_string(params.spectrumDownsample) + "-" + hash.substr(0, 12) +
                             ".safetensors";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        if (note) note("snapshot not cached (" + dir.string() + ": " + ec.message() + ")");
        return std::make_shared<const DatasetSnapshot>(buildSnapshot(catalog, params, progress));
    }
    bool rebuilt = false;
    auto snapshot = loadOrBuildSnapshot(catalog, params, (dir / name).string(), progress, &rebuilt);
    if (note)
        note(std::string(rebuilt ? "built" : "reused") + " the dataset snapshot (" + std::to_string(snapshot.size()) +
             " objects) " + (rebuilt ? "and cached it as " : "from ") + (dir / name).string());
    return std::make_shared<const DatasetSnapshot>(std::move(snapshot));
}

std::unique_ptr<train::Stage> buildStage(const StageBuild& build, std::shared_ptr<const DatasetSnapshot> snapshot) {
    const RunConfig& c = build.config;
    // Weights drawn at construction depend on the seed only.
    torch::manual_seed(build.seed);
    switch (c.kind) {
    case StageKind::Spectrum: {
        stages::SpectrumStageOptions options = c.spectrum;
        options.heldOutFraction = c.data.heldOutFraction;
        options.splitSeed = c.data.splitSeed;
        options.samplerSeed = build.seed;
        options.finetune = build.finetune;
        return std::make_unique<stages::SpectrumStage>(std::move(snapshot), models::SpecFormer(c.specformer), options);
    }
    case StageKind::Image: {
        stages::ImageStageConfig config = c.image;
        config.seed = build.seed;
        config.finetune = build.finetune;
        return stages::ImageStage::fromSnapshot(config, *snapshot, trainingIndices(*snapshot, c.data));
    }
    case StageKind::Clip: {
        stages::ClipStageOptions options = c.clip;
        options.heldOutFraction = c.data.heldOutFraction;
        options.splitSeed = c.data.splitSeed;
        options.samplerSeed = build.seed;
        options.initSeed = build.seed;
        const stages::ImageNormalization norm = c.image.normalization;
        options.imagePreprocess = [norm](const torch::Tensor& images) {
            return stages::normalizeNanomaggies(images, norm);
        };
        options.imagePreprocessName = "asinh";
        return std::make_unique<stages::ClipStage>(std::move(snapshot), models::VisionTransformer(c.image.vit),
                                                   models::SpecFormer(c.specformer), options);
    }
    case StageKind::Supervised: {
        stages::SupervisedStageOptions options = c.supervised.stage;
        options.target = c.supervised.target;
        options.task = stages::parseSupervisedTask(c.supervised.task);
        options.head = stages::parseSupervisedHead(c.supervised.head);
        options.normalization = c.image.normalization;
        options.heldOutFraction = c.data.heldOutFraction;
        options.splitSeed = c.data.splitSeed;
        options.samplerSeed = build.seed;
        options.finetune = build.finetune;
        if (c.supervised.modality == "image")
            return std::make_unique<stages::SupervisedStage>(std::move(snapshot),
                                                             models::VisionTransformer(c.image.vit), options);
        return std::make_unique<stages::SupervisedStage>(std::move(snapshot), models::SpecFormer(c.specformer),
                                                         options);
    }
    }
    throw UsageError("unknown stage kind");
}

void loadInitialWeights(train::Stage& stage, const RunConfig& config, const StageSources& sources, const NoteFn& note) {
    switch (config.kind) {
    case StageKind::Spectrum:
        if (sources.init) loadBackbone(stage, *sources.init, Modality::Spectrum, "", "--init", note);
        break;
    case StageKind::Image: {
        if (!sources.init) break;
        const auto kind = sourceKind(*sources.init);
        if (sources.init->trainerCheckpoint && kind == StageKind::Image) {
            // The same stage: student, teacher and heads continue from where that run was.
            train::InitOptions options;
            options.allowSubset = true;
            const auto report = train::initWeights(stage, sources.init->path, options);
            if (note)
                note("--init: loaded " + std::to_string(report.loaded.size()) + " tensors (student, teacher, heads) from " +
                     describeSource(*sources.init));
            break;
        }
        loadBackbone(stage, *sources.init, Modality::Image, "student.backbone.", "--init", note);
        dynamic_cast<stages::ImageStage&>(stage).syncTeacherToStudent();
        break;
    }
    case StageKind::Clip:
        if (sources.imageInit)
            loadBackbone(stage, *sources.imageInit, Modality::Image, "image.backbone.", "--image-init", note);
        if (sources.spectrumInit)
            loadBackbone(stage, *sources.spectrumInit, Modality::Spectrum, "spectrum.backbone.", "--spectrum-init",
                         note);
        if (sources.init) {
            if (sourceKind(*sources.init) != StageKind::Clip || !sources.init->trainerCheckpoint)
                throw FileError(sources.init->given, "is not a clip run: --init for clip continues a clip run's heads");
            train::InitOptions options;
            options.allowSubset = true;
            const auto report = train::initWeights(stage, sources.init->path, options);
            if (note)
                note("--init: loaded " + std::to_string(report.loaded.size()) + " tensors from " +
                     describeSource(*sources.init));
        }
        break;
    case StageKind::Supervised:
        if (sources.init)
            loadBackbone(stage, *sources.init,
                         config.supervised.modality == "image" ? Modality::Image : Modality::Spectrum,
                         kSupervisedBackbonePrefix, "--init", note);
        break;
    }
}

} // namespace astroclip::runs
