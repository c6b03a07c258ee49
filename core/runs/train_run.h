#pragma once
// A training run as a job: `astroclip train` and the GUI's training tab both call
// runTraining(). It opens the catalog, builds the dataset snapshot, constructs the stage from a
// preset (or a JSON file over a preset), loads initial weights, resumes from <out>/last when
// asked, runs the trainer, and records the model, the run and every step's metrics in the
// catalog; <out>/run.json says what was run.
//
// No LibTorch or Qt in this header, so front ends include it cheaply.
//
// Run folder (<out>): checkpoint-<step>.{safetensors,json} and last.* (trainer.h), run.json,
// nothing else. A fresh run refuses a folder that holds a checkpoint already (continue it with
// resume, or choose another folder). A resumed run takes its stage kind, configuration,
// selection and seed from run.json; options given again must agree with them, except steps,
// device and threads.
//
// Catalog records: one model per run folder (name unique; default the folder's name; stage =
// the kind's name; path = the latest checkpoint's .safetensors; config = the resolved
// configuration), and one training run per call (status running → finished, cancelled or
// failed, with a message). A resumed run first records the metric history its checkpoint
// carries, so every run holds its whole curve from step 1.
#include "core/common/progress.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::runs {

enum class StageKind { Image, Spectrum, Clip, Supervised };
const char* stageKindName(StageKind kind);  // "image", "spectrum", "clip", "supervised"
std::optional<StageKind> parseStageKind(const std::string& name);

struct TrainRunParams {
    StageKind kind = StageKind::Spectrum;
    std::string catalogPath;
    std::string outDir;
    std::string modelName;            // "" = the run folder's name
    // A preset (tiny, small, base, large) or a JSON file {"preset": ..., "train": {...},
    // "data": {...}, "model": {...}, "stage": {...}} overriding the preset's fields (see
    // describeConfig()). "" = tiny for a fresh run, the recorded configuration on resume.
    std::string config;
    std::optional<int64_t> steps;     // optimizer steps in the whole run; default the preset's
    std::string device = "auto";      // auto, cpu, cuda, cuda:N
    int threads = 0;                  // CPU threads; 0 = all cores
    std::optional<uint64_t> seed;     // weights, data order, masks; default 0 (recorded on resume)
    bool resume = false;              // continue from <out>/last
    // --init: weights to start from: a run folder (its last checkpoint), a checkpoint
    // "<dir>/checkpoint-N", or a .safetensors file of bare backbone weights. When it is a run
    // of the same backbone, the model's architecture is taken from that run.
    std::string init;
    std::string where;                // catalog filter (where.h); "" = every object
    std::string freeze;               // none, all, last:N (finetune.h); "" = none
    std::optional<double> layerDecay; // layer-wise lr decay in (0, 1]; default 1
    // clip: the image and spectrum runs whose backbones are aligned (required for a fresh run).
    std::string imageInit;
    std::string spectrumInit;
    // supervised: the backbone's modality ("image" or "spectrum"), the target column and the task.
    std::string modality;
    std::string target;
    std::string task;                 // "regression" or "classification"
};

// What the trainer reports after each optimizer step (mirrors train::TrainProgress).
struct TrainRunProgress {
    int64_t step = 0;
    int64_t totalSteps = 0;
    double lr = 0;
    std::map<std::string, double> terms;   // "loss" and the stage's other loss terms
    std::map<std::string, double> health;  // e.g. "embedding_std"
    double samplesPerSecond = 0;
    double etaSeconds = 0;
    int64_t peakMemoryBytes = 0;
    std::string memoryKind;                // "RSS" or "CUDA"
    std::string device;
    std::vector<std::string> warnings;     // new at this step (suspected collapse ...)
};

struct TrainRunHooks {
    ProgressFn data;                                      // snapshot building; may cancel
    std::function<bool(const TrainRunProgress&)> progress; // false = stop with a checkpoint
    std::function<void(const std::string&)> note;         // what is being done, for the user
};

struct TrainRunResult {
    std::string status;               // "finished", "cancelled", "stopped" (a collapse guard)
    int64_t step = 0;                 // optimizer steps done
    int64_t totalSteps = 0;
    int64_t startStep = 0;            // where this call started (> 0 when resumed)
    std::string device;
    std::string checkpoint;           // "<out>/checkpoint-<step>", "" when none was written
    std::string outDir;               // absolute
    std::string modelName;
    int64_t modelId = 0;
    int64_t runId = 0;
    std::map<std::string, double> finalMetrics;  // the last step's terms, lr, grad_norm, health
    std::vector<std::string> warnings;
    bool collapsed = false;
    double seconds = 0;               // wall time of this call
};

// Runs one training job. Throws UsageError (bad options, a run folder in the way, options that
// disagree with a resumed run), FileError (missing catalog, damaged or missing checkpoint or
// run.json, bad --config file), CatalogError, Cancelled (stopped while building the
// snapshot: nothing is recorded), and train::TrainingDiverged (NaN/Inf: the run is recorded as
// failed, the message names the step and the last good checkpoint). Any failure after the run
// was recorded marks it failed with the message before throwing.
TrainRunResult runTraining(const TrainRunParams& params, const TrainRunHooks& hooks = {});

// Every configuration key of a stage kind with its value in `preset`, as JSON text (the
// format a --config file overrides). UsageError for an unknown preset.
std::string describeConfig(StageKind kind, const std::string& preset);

} // namespace astroclip::runs
