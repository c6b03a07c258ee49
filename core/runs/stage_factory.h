#pragma once
// From a resolved run configuration to a stage ready for the trainer: the architectures taken
// over from the runs a stage starts from, the dataset snapshot (cached beside the catalog),
// the stage itself, and the initial weights (--init, --image-init, --spectrum-init).
#include "core/catalog/catalog.h"
#include "core/dataset/snapshot.h"
#include "core/runs/run_config.h"
#include "core/runs/run_files.h"
#include "core/stages/finetune.h"
#include "core/train/stage.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::runs {

struct StageSources {
    std::optional<CheckpointSource> init;          // --init
    std::optional<CheckpointSource> imageInit;     // clip: --image-init
    std::optional<CheckpointSource> spectrumInit;  // clip: --spectrum-init
};

using NoteFn = std::function<void(const std::string&)>;

// Takes the backbone architecture (and the data geometry it was trained on) from the runs the
// stage starts from, where those are runs of this program: the weights only load into the
// architecture they were trained in. Bare .safetensors files leave the configuration alone.
void adoptSourceArchitectures(RunConfig& config, const StageSources& sources, const NoteFn& note);

// The snapshot a stage of this configuration trains on.
SnapshotParams snapshotParams(const RunConfig& config, const std::string& where);

// The snapshot, from the cache beside the catalog ("<catalog stem>-snapshots/") when that is
// current, else built (and cached when the folder can be written).
std::shared_ptr<const DatasetSnapshot> trainingSnapshot(Catalog& catalog, const SnapshotParams& params,
                                                    const ProgressFn& progress, const NoteFn& note);

struct StageBuild {
    RunConfig config;
    uint64_t seed = 0;
    stages::FineTuneOptions finetune;
};

// Builds the stage on the snapshot; model weights are initialised from `seed`. UsageError
// when the configuration does not fit the data.
std::unique_ptr<train::Stage> buildStage(const StageBuild& build, std::shared_ptr<const DatasetSnapshot> snapshot);

// Loads the initial weights of a fresh run. Backbones must load completely (FileError listing
// what the file lacks); a checkpoint of the same stage loads as a whole.
void loadInitialWeights(train::Stage& stage, const RunConfig& config, const StageSources& sources, const NoteFn& note);

} // namespace astroclip::runs
