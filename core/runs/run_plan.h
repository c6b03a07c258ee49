#pragma once
// What a call of runTraining() will do, decided before anything is loaded or recorded: the
// resolved configuration, the sources of initial weights, the seed and selection, the model
// name, and for a resumed run what run.json recorded (options given again must agree).
#include "core/runs/run_config.h"
#include "core/runs/stage_factory.h"
#include "core/runs/train_run.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace astroclip::runs {

struct RunPlan {
    std::string outDir;              // absolute, without a trailing separator
    RunConfig config;
    std::string configSource;        // preset name or JSON file, as given (recorded)
    std::string where;
    uint64_t seed = 0;
    stages::FineTuneOptions finetune;
    StageSources sources;            // fresh runs only: resumed runs load their checkpoint
    nlohmann::json sourcesJson;      // {init, image_init, spectrum_init, freeze, layer_decay}
    std::string modelName;
    bool resume = false;
    int64_t resumeStep = 0;          // step of <out>/last when resuming
    nlohmann::json recordedRun;      // run.json of a resumed run (null for a fresh one)
};

// Throws UsageError for options that make no sense for the stage kind or that disagree with a
// resumed run, FileError for a missing or damaged run.json, checkpoint or --config file.
RunPlan planRun(const TrainRunParams& params, const NoteFn& note);

} // namespace astroclip::runs
