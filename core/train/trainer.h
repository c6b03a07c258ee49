#pragma once
// One training loop for every stage (stage.h): device choice, AdamW with warm-up + cosine
// per parameter group, gradient accumulation and clipping, bf16 autocast on CUDA, progress
// with cancel, checkpoints that resume bit-exactly on CPU, divergence and collapse checks.
//
// Checkpoints are <outDir>/checkpoint-<step> and <outDir>/last (the same weights, hard-linked
// when the file system allows), each a core/checkpoint pair (.safetensors + .json) holding:
//   <name>                         every parameter and buffer of the stage's modules
//   optim.exp_avg|exp_avg_sq|step.<name>  AdamW state of each optimised parameter
//   extra.<name>                   the stage's extraState()
//   rng.torch_cpu, rng.torch_cuda  LibTorch's default generator states (uint8)
// and in the JSON: kind, stage, step, config {trainer, stage}, optimizer groups, data_state,
// provenance, metrics (per step), device, threads, LibTorch version.
#include "core/common/error.h"
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace astroclip::train {

// The value of "kind" in a training checkpoint's JSON.
inline constexpr const char* kTrainingCheckpointKind = "astroclip-training-checkpoint";

// A loss term or the gradient norm became NaN or infinite. The run stops without writing
// anything; the last checkpoint written before (if any) is left intact.
class TrainingDiverged : public Error {
public:
    TrainingDiverged(const std::string& message, int64_t step, std::string term, std::string lastGoodCheckpoint)
        : Error(message), step_(step), term_(std::move(term)), lastGood_(std::move(lastGoodCheckpoint)) {}
    int64_t step() const { return step_; }                  // the optimizer step that failed
    const std::string& term() const { return term_; }       // "loss", another term, "grad_norm"
    const std::string& lastGoodCheckpoint() const { return lastGood_; } // "<dir>/<name>" or ""

private:
    int64_t step_;
    std::string term_;
    std::string lastGood_;
};

// What one optimizer step measured (loss terms and health averaged over its micro-batches).
struct StepMetrics {
    int64_t step = 0;  // optimizer steps done, 1 for the first
    double lr = 0;     // schedule value (before group multipliers)
    double gradNorm = 0; // global gradient norm before clipping
    std::map<std::string, double> terms;
    std::map<std::string, double> health;
};
nlohmann::json toJson(const StepMetrics& metrics);
StepMetrics stepMetricsFromJson(const nlohmann::json& json);

struct TrainProgress {
    int64_t step = 0;           // optimizer steps done
    int64_t totalSteps = 0;
    double lr = 0;
    std::map<std::string, double> terms;
    std::map<std::string, double> health;
    double samplesPerSecond = 0; // over this session (since start or resume)
    double stepsPerSecond = 0;
    double etaSeconds = 0;
    int64_t peakMemoryBytes = 0;
    std::string memoryKind;      // "RSS" (CPU) or "CUDA"
    std::string device;          // "cpu", "cuda:0"
    std::vector<std::string> warnings; // new this step (collapse detected, ...)
};
// Returning false cancels: the trainer writes a checkpoint at the current step and returns
// TrainStatus::Cancelled.
using TrainProgressFn = std::function<bool(const TrainProgress&)>;
// Receives every step's metrics (e.g. to record them in the catalog).
using MetricsSink = std::function<void(const StepMetrics&)>;

struct TrainHooks {
    TrainProgressFn progress;
    MetricsSink metrics;
};

enum class TrainStatus { Completed, Cancelled, StoppedOnCollapse };

struct TrainResult {
    TrainStatus status = TrainStatus::Completed;
    int64_t step = 0;              // optimizer steps done when the run returned
    std::string device;            // the device the run used
    std::string lastCheckpoint;    // "<outDir>/checkpoint-<step>", or "" when none was written
    bool collapsed = false;        // a health guard fired
    std::vector<std::string> warnings;
    std::vector<StepMetrics> history; // every step, including those before a resume
};

// Runs (or resumes, TrainParams::resumeFrom) the stage's training. Throws UsageError for bad
// parameters or a stage that breaks its contract, FileError for a checkpoint that cannot be
// resumed from, TrainingDiverged on NaN/Inf, OutOfMemoryError when the device runs out of
// memory (saying what to change; checkpoints already written stay intact). Callers that also use `namespace astroclip`
// write train::train(...), since the function shares the namespace's name.
TrainResult train(Stage& stage, const TrainParams& params, const TrainHooks& hooks = {});

// "<dir>/checkpoint-<step>"
std::string checkpointPath(const std::string& dir, int64_t step);

} // namespace astroclip::train
