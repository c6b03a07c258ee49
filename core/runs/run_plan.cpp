#include "core/runs/run_plan.h"

#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip::runs {

namespace {

std::string absoluteFolder(const std::string& dir) {
    fs::path p = fs::absolute(dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();  // "runs/a/" → "runs/a"
    return p.string();
}

// A freeze text and decay as recorded, so a resumed run can be compared with what it was.
nlohmann::json finetuneJson(const std::string& freeze, std::optional<double> layerDecay) {
    return {{"freeze", freeze.empty() ? "none" : freeze}, {"layer_decay", layerDecay.value_or(1.0)}};
}

void checkKindOptions(const TrainRunParams& p) {
    const bool clip = p.kind == StageKind::Clip, supervised = p.kind == StageKind::Supervised;
    if (!clip && (!p.imageInit.empty() || !p.spectrumInit.empty()))
        throw UsageError("--image-init and --spectrum-init are for clip runs; a " +
                         std::string(stageKindName(p.kind)) + " run starts from --init");
    if (clip && (!p.freeze.empty() || p.layerDecay))
        throw UsageError("clip alignment keeps both backbones frozen and trains only its heads: --freeze and "
                         "--layer-decay do not apply");
    if (!supervised && (!p.target.empty() || !p.task.empty() || !p.modality.empty()))
        throw UsageError("--target, --task and --modality are for supervised runs");
    if (supervised && !p.task.empty() && p.task != "regression" && p.task != "classification")
        throw UsageError("--task must be regression or classification, not '" + p.task + "'");
    if (supervised && !p.modality.empty() && p.modality != "image" && p.modality != "spectrum")
        throw UsageError("--modality must be image or spectrum, not '" + p.modality + "'");
}

// The supervised fields: the options given win over the --config file; without --modality,
// the only backbone --init holds decides, else the configuration's.
void setSupervised(RunConfig& config, const TrainRunParams& p, const StageSources& sources) {
    auto& s = config.supervised;
    if (!p.target.empty()) s.target = p.target;
    if (!p.task.empty()) s.task = p.task;
    if (!p.modality.empty()) {
        s.modality = p.modality;
    } else if (sources.init && sources.init->run.is_object()) {
        const auto& run = sources.init->run;
        const std::string kind = run.value("kind", std::string());
        if (kind == "spectrum" || kind == "image") s.modality = kind;
        if (kind == "supervised")
            s.modality = run["config"].value("stage", nlohmann::json::object()).value("modality", s.modality);
    }
    if (s.target.empty()) throw UsageError("a supervised run needs --target COLUMN (a catalog column, e.g. truth_z)");
    if (s.modality != "image" && s.modality != "spectrum")
        throw UsageError("the supervised modality must be image or spectrum, not '" + s.modality + "'");
}

// --steps: a fresh run stretches the preset's schedule to the new length; a resumed run keeps
// the schedule it trained with and only moves its end (warm-up shortened when it no longer fits).
void applySteps(RunConfig& config, std::optional<int64_t> steps, bool resuming, const NoteFn& note) {
    if (!steps) return;
    if (*steps < 1) throw UsageError("--steps must be at least 1 (got " + std::to_string(*steps) + ")");
    if (!resuming) {
        const int64_t warmup = config.train.warmupSteps;
        rescaleSchedule(config, *steps);
        if (note && warmup != config.train.warmupSteps)
            note("schedule stretched to " + std::to_string(*steps) + " steps: warm-up " +
                 std::to_string(config.train.warmupSteps) + " steps (was " + std::to_string(warmup) + ")");
        return;
    }
    config.train.steps = *steps;
    if (config.train.warmupSteps >= *steps) config.train.warmupSteps = *steps - 1;
    finalizeConfig(config);
}

stages::FineTuneOptions finetuneOptions(const std::string& freeze, std::optional<double> layerDecay) {
    auto options = stages::FineTuneOptions::parseFreeze(freeze.empty() ? "none" : freeze);
    options.layerDecay = layerDecay.value_or(1.0);
    return options;
}

RunPlan planFresh(const TrainRunParams& p, RunPlan plan, const NoteFn& note) {
    if (hasLastCheckpoint(plan.outDir))
        throw UsageError(plan.outDir + " holds a run already (it has a last checkpoint): continue it with --resume, "
                                       "or choose another --out");
    if (p.kind == StageKind::Clip && (p.imageInit.empty() || p.spectrumInit.empty()))
        throw UsageError("clip alignment needs --image-init RUN and --spectrum-init RUN: the image and spectrum runs "
                         "whose backbones it aligns");

    if (!p.init.empty()) plan.sources.init = locateCheckpoint(p.init, "--init");
    if (!p.imageInit.empty()) plan.sources.imageInit = locateCheckpoint(p.imageInit, "--image-init");
    if (!p.spectrumInit.empty()) plan.sources.spectrumInit = locateCheckpoint(p.spectrumInit, "--spectrum-init");

    plan.finetune = finetuneOptions(p.freeze, p.layerDecay);
    plan.configSource = p.config.empty() ? "tiny" : p.config;
    plan.config = resolveConfig(p.kind, plan.configSource, plan.finetune);
    if (p.kind == StageKind::Supervised) setSupervised(plan.config, p, plan.sources);
    // The image presets carry a layer decay of their own (AstroDINO: 0.9); --layer-decay wins.
    if (p.kind == StageKind::Image && !p.layerDecay) plan.finetune.layerDecay = plan.config.image.finetune.layerDecay;
    adoptSourceArchitectures(plan.config, plan.sources, note);
    applySteps(plan.config, p.steps, /*resuming=*/false, note);
    plan.where = p.where;
    plan.seed = p.seed.value_or(0);
    plan.sourcesJson = finetuneJson(p.freeze, plan.finetune.layerDecay);
    plan.sourcesJson["init"] = p.init;
    plan.sourcesJson["image_init"] = p.imageInit;
    plan.sourcesJson["spectrum_init"] = p.spectrumInit;
    plan.modelName = p.modelName.empty() ? fs::path(plan.outDir).filename().string() : p.modelName;
    return plan;
}

// An option given again with --resume must say what the run recorded.
void requireSame(const std::string& option, const std::string& given, const std::string& recorded) {
    if (given.empty() || given == recorded) return;
    throw UsageError(option + " '" + given + "' differs from the resumed run's '" + recorded +
                     "': a resumed run keeps what it started with (leave " + option + " out)");
}

RunPlan planResume(const TrainRunParams& p, RunPlan plan, const NoteFn& note) {
    const auto run = readRunFile(plan.outDir);
    const std::string runPath = runFilePath(plan.outDir);
    if (!hasLastCheckpoint(plan.outDir))
        throw FileError(plan.outDir + "/last.json",
                        "is missing: the run wrote no checkpoint to resume from; start it again without --resume");
    const std::string kind = run.value("kind", std::string());
    if (kind != stageKindName(p.kind))
        throw UsageError(plan.outDir + " holds a " + kind + " run, not a " + stageKindName(p.kind) + " run");
    try {
        const auto& sources = run.at("sources");
        plan.configSource = run.at("config_source").get<std::string>();
        plan.where = run.at("where").get<std::string>();
        plan.seed = run.at("seed").get<uint64_t>();
        plan.modelName = run.at("model").get<std::string>();
        requireSame("--config", p.config, plan.configSource);
        requireSame("--where", p.where, plan.where);
        requireSame("--name", p.modelName, plan.modelName);
        if (p.seed && *p.seed != plan.seed)
            throw UsageError("--seed " + std::to_string(*p.seed) + " differs from the resumed run's " +
                             std::to_string(plan.seed) + ": its random state comes from the checkpoint");
        requireSame("--init", p.init, sources.at("init").get<std::string>());
        requireSame("--image-init", p.imageInit, sources.at("image_init").get<std::string>());
        requireSame("--spectrum-init", p.spectrumInit, sources.at("spectrum_init").get<std::string>());
        requireSame("--freeze", p.freeze, sources.at("freeze").get<std::string>());
        if (p.layerDecay && *p.layerDecay != sources.at("layer_decay").get<double>())
            throw UsageError("--layer-decay differs from the resumed run's " + sources.at("layer_decay").dump() +
                             ": its optimizer groups come from the checkpoint");
        plan.finetune = finetuneOptions(sources.at("freeze").get<std::string>(), sources.at("layer_decay").get<double>());
        plan.sourcesJson = sources;
        plan.config = configFromJson(p.kind, run.at("config"), runPath);
        if (p.kind == StageKind::Supervised) {
            requireSame("--target", p.target, plan.config.supervised.target);
            requireSame("--task", p.task, plan.config.supervised.task);
            requireSame("--modality", p.modality, plan.config.supervised.modality);
        }
    } catch (const nlohmann::json::exception& e) {
        throw FileError(runPath, std::string("is damaged or was edited: ") + e.what());
    }
    const auto last = readJsonFile(plan.outDir + "/last.json");
    if (!last.contains("step") || !last["step"].is_number_integer())
        throw FileError(plan.outDir + "/last.json", "has no step: it was edited or damaged");
    plan.resumeStep = last["step"].get<int64_t>();
    applySteps(plan.config, p.steps, /*resuming=*/true, note);
    if (plan.config.train.steps < plan.resumeStep)
        throw UsageError("the run is at step " + std::to_string(plan.resumeStep) + ", past --steps " +
                         std::to_string(plan.config.train.steps) + ": give more steps to continue it");
    plan.recordedRun = run;
    return plan;
}

} // namespace

RunPlan planRun(const TrainRunParams& p, const NoteFn& note) {
    if (p.catalogPath.empty()) throw UsageError("a training run needs a catalog (--catalog)");
    if (p.outDir.empty()) throw UsageError("a training run needs a run folder (--out)");
    std::error_code ec;
    if (!fs::is_regular_file(p.catalogPath, ec))
        throw FileError(p.catalogPath, fs::exists(p.catalogPath, ec) ? "is not a catalog file" : "no such catalog");
    if (p.layerDecay && !(*p.layerDecay > 0.0 && *p.layerDecay <= 1.0))
        throw UsageError("--layer-decay must be in (0, 1], got " + std::to_string(*p.layerDecay));
    checkKindOptions(p);
    RunPlan plan;
    plan.outDir = absoluteFolder(p.outDir);
    plan.resume = p.resume;
    return p.resume ? planResume(p, std::move(plan), note) : planFresh(p, std::move(plan), note);
}

} // namespace astroclip::runs
