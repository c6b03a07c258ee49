#pragma once
// The trainer's parameters (one struct with defaults; presets fill it per stage) and the
// learning-rate schedule, which is a pure function of the step so a checkpoint only needs to
// store the step.
#include "core/train/stage.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::train {

struct TrainParams {
    int64_t steps = 1000;        // optimizer steps in the whole run (the schedule's length)
    int64_t warmupSteps = 100;   // linear warm-up, then cosine decay to minLr
    double lr = 1e-4;            // peak learning rate (multiplied per group)
    double minLr = 1e-6;         // learning rate at the end of the cosine
    double weightDecay = 0.05;   // AdamW decoupled decay, not applied to biases/norms/tokens
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double gradClip = 0.0;       // max global gradient norm; 0 = no clipping
    int accumulate = 1;          // micro-batches per optimizer step
    std::string device = "auto"; // "auto" (CUDA when available), "cpu", "cuda", "cuda:N"
    int threads = 0;             // CPU threads for LibTorch; 0 = all cores
    uint64_t seed = 0;           // seeds LibTorch's generators for a fresh run
    bool mixedPrecision = true;  // bf16 autocast on CUDA; CPU runs always use fp32
    int64_t checkpointEvery = 0; // steps between checkpoints; 0 = only at the end (and on stop)
    std::string outDir;          // checkpoint folder; "" = write no checkpoints
    // "<dir>/<name>" of a checkpoint written by this trainer to continue from ("" = fresh).
    std::string resumeFrom;
    std::vector<HealthGuard> healthGuards; // added to the stage's own
};

// Throws UsageError naming the first parameter out of range.
void validate(const TrainParams& params);

// Peak-relative schedule value at optimizer step `step` (0-based):
//   step < W:   lr · (step + 1) / W                         (linear warm-up, reaches lr at W−1)
//   otherwise:  minLr + ½ (lr − minLr) (1 + cos(π (step − W) / (steps − W)))
// so step W is the peak and the last step (steps − 1) is just above minLr.
double scheduledLr(const TrainParams& params, int64_t step);

nlohmann::json toJson(const TrainParams& params);
nlohmann::json toJson(const HealthGuard& guard);

} // namespace astroclip::train
