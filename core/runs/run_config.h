#pragma once
// The resolved configuration of a training run: trainer parameters, data selection details,
// model architecture and stage options, from a preset and optionally a JSON file over it.
// Recorded in run.json and the catalog; a resumed run reads it back with configFromJson().
//
// JSON layout (every kind): {"kind", "preset", "train": {...}, "data": {...}, "model": {...},
// "stage": {...}}; "model" holds the architecture the stage builds or, for clip, the two
// backbones' architectures (filled in from the runs they come from).
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/runs/config_fields.h"
#include "core/runs/train_run.h"
#include "core/stages/clip_stage.h"
#include "core/stages/image_stage.h"
#include "core/stages/spectrum_stage.h"
#include "core/stages/supervised_stage.h"
#include "core/train/train_params.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace astroclip::runs {

struct DataConfig {
    double heldOutFraction = 0.1;  // objects kept out of training, the same for every stage
    uint64_t splitSeed = 0;        // so image, spectrum, clip and probe runs hold out the same objects
    int cropSize = 64;             // cutout side after the centre crop (image, clip, supervised image)
    int spectrumDownsample = 1;    // integer factor on the DESI grid (spectrum, clip, supervised spectrum)
};

struct SupervisedConfig {
    std::string modality = "spectrum";  // backbone: "image" or "spectrum"
    std::string target;                 // catalog column
    std::string task = "regression";    // or "classification"
    std::string head = "linear";        // or "mlp"
    // Head, batch, rates and augmentation; target, task, head, normalization, split and seeds
    // are set from the fields above when the stage is built.
    stages::SupervisedStageOptions stage;
};

struct RunConfig {
    StageKind kind = StageKind::Spectrum;
    std::string preset = "tiny";
    train::TrainParams train;
    DataConfig data;
    models::SpecFormerConfig specformer;  // spectrum model; clip's or a supervised run's spectrum backbone
    stages::SpectrumStageOptions spectrum;
    stages::ImageStageConfig image;       // image stage; its vit and normalization serve clip and supervised
    stages::ClipStageOptions clip;
    SupervisedConfig supervised;
};

std::vector<std::string> presetNames();  // tiny, small, base, large

// The preset's configuration. UsageError for an unknown preset. `finetune` matters for the
// supervised stage only, whose learning rate depends on whether its backbone is frozen.
RunConfig presetConfig(StageKind kind, const std::string& preset, const stages::FineTuneOptions& finetune = {});

// `presetOrFile` is a preset name or a JSON file over a preset ("preset" key, default tiny).
// FileError naming the file for unreadable JSON, unknown keys and wrong types.
RunConfig resolveConfig(StageKind kind, const std::string& presetOrFile,
                        const stages::FineTuneOptions& finetune = {});

nlohmann::json configJson(const RunConfig& config);
// Reads what configJson() wrote (run.json); `source` names the file in errors.
RunConfig configFromJson(StageKind kind, const nlohmann::json& json, const std::string& source);

// Sets the run's length to `steps`, stretching the step-based parts of the schedule so each
// keeps its share of the run (warm-up; the image stage's teacher temperature warm-up and
// frozen last layer, which DINOv2 counts in epochs). The checkpoint interval stays.
void rescaleSchedule(RunConfig& config, int64_t steps);

// Derived fields: the SpecFormer's input length from the downsampling, the image stage's
// schedule length from the steps. Call after the last change to the configuration.
void finalizeConfig(RunConfig& config);

} // namespace astroclip::runs
