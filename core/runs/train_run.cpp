#include "core/runs/train_run.h"

#include "core/catalog/catalog.h"
#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"
#include "core/common/log.h"
#include "core/runs/run_plan.h"
#include "core/train/trainer.h"

#include <chrono>
#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip::runs {

const char* stageKindName(StageKind kind) {
    switch (kind) {
    case StageKind::Image: return "image";
    case StageKind::Spectrum: return "spectrum";
    case StageKind::Clip: return "clip";
    case StageKind::Supervised: return "supervised";
    }
    return "?";
}

std::optional<StageKind> parseStageKind(const std::string& name) {
    for (auto kind : {StageKind::Image, StageKind::Spectrum, StageKind::Clip, StageKind::Supervised})
        if (name == stageKindName(kind)) return kind;
    return std::nullopt;
}

std::string describeConfig(StageKind kind, const std::string& preset) {
    return configJson(presetConfig(kind, preset)).dump(2);
}

namespace {

// Catalog metric names of one step: the loss terms, "lr", "grad_norm" and the health metrics
// (prefixed "health." only where a loss term has the same name).
std::vector<std::pair<std::string, double>> metricValues(const train::StepMetrics& m) {
    std::vector<std::pair<std::string, double>> values;
    for (const auto& [name, v] : m.terms) values.emplace_back(name, v);
    values.emplace_back("lr", m.lr);
    values.emplace_back("grad_norm", m.gradNorm);
    for (const auto& [name, v] : m.health)
        values.emplace_back(m.terms.count(name) || name == "lr" || name == "grad_norm" ? "health." + name : name, v);
    return values;
}

TrainRunProgress toRunProgress(const train::TrainProgress& p) {
    TrainRunProgress r;
    r.step = p.step;
    r.totalSteps = p.totalSteps;
    r.lr = p.lr;
    r.terms = p.terms;
    r.health = p.health;
    r.samplesPerSecond = p.samplesPerSecond;
    r.etaSeconds = p.etaSeconds;
    r.peakMemoryBytes = p.peakMemoryBytes;
    r.memoryKind = p.memoryKind;
    r.device = p.device;
    r.warnings = p.warnings;
    return r;
}

std::string checkpointFile(const std::string& checkpoint) {
    return checkpoint.empty() ? std::string() : checkpoint + ".safetensors";
}

// The parent model: the catalog model the run's initial weights came from, when the source
// run recorded one in this catalog.
std::optional<int64_t> parentModel(Catalog& catalog, const StageSources& sources, StageKind kind) {
    const auto& src = kind == StageKind::Clip ? sources.imageInit : sources.init;
    if (!src || !src->run.is_object()) return std::nullopt;
    const auto model = catalog.model(src->run.value("model", std::string()));
    if (!model) return std::nullopt;
    return model->id;
}

nlohmann::json modelConfig(const RunPlan& plan, const train::Stage& stage) {
    return {{"run_dir", plan.outDir}, {"trainer_stage", stage.name()}, {"config", configJson(plan.config)},
            {"sources", plan.sourcesJson}, {"where", plan.where}, {"seed", plan.seed}};
}

// The model of this run folder: the recorded one (resumed, or a fresh start in a folder whose
// run wrote no checkpoint), else a new one. A name used by a model of another folder is refused.
ModelRecord modelRecord(Catalog& catalog, const RunPlan& plan, const train::Stage& stage) {
    ModelRecord m;
    if (auto existing = catalog.model(plan.modelName)) {
        std::string dir;
        try {
            dir = nlohmann::json::parse(existing->config).value("run_dir", std::string());
        } catch (const nlohmann::json::exception&) {
        }
        if (dir != plan.outDir)
            throw UsageError("the catalog has a model called '" + plan.modelName + "' already" +
                             (dir.empty() ? std::string() : " (trained in " + dir + ")") +
                             ": choose another --name or --out");
        m = *existing;
    }
    m.name = plan.modelName;
    m.stage = stageKindName(plan.config.kind);
    m.config = modelConfig(plan, stage).dump();
    if (!plan.resume) {
        m.path.clear();
        m.step = 0;
    }
    if (m.id == 0) m.id = catalog.registerModel(m);
    else catalog.updateModel(m);
    return m;
}

nlohmann::json sessionJson(int64_t runId, const RunPlan& plan, const train::TrainParams& tp) {
    return {{"run_id", runId},       {"resumed_from_step", plan.resume ? plan.resumeStep : 0},
            {"steps", tp.steps},     {"device", tp.device},
            {"threads", tp.threads}, {"started", int64_t(std::time(nullptr))},
            {"status", "running"},   {"message", ""}};
}

// Every step the resumed checkpoint knows, into this run (one transaction).
void recordCheckpointHistory(Catalog& catalog, int64_t runId, const std::string& outDir) {
    const auto last = readJsonFile(outDir + "/last.json");
    if (!last.contains("metrics") || !last["metrics"].is_array()) return;
    Catalog::Transaction tx(catalog);
    for (const auto& m : last["metrics"]) {
        train::StepMetrics metrics;
        try {
            metrics = train::stepMetricsFromJson(m);
        } catch (const nlohmann::json::exception& e) {
            throw FileError(outDir + "/last.json", std::string("has malformed \"metrics\": ") + e.what());
        }
        catalog.recordMetrics(runId, metrics.step, metricValues(metrics));
    }
    tx.commit();
}

class RunRecorder {
public:
    RunRecorder(Catalog& catalog, RunPlan& plan, ModelRecord model, int64_t runId, nlohmann::json run)
        : catalog_(catalog), plan_(plan), model_(std::move(model)), runId_(runId), run_(std::move(run)) {}

    // Ends the run in the catalog and run.json; `checkpoint` (with its step) becomes the
    // model's when given.
    void finish(const std::string& status, const std::string& message, const std::string& checkpoint, int64_t step) {
        if (!checkpoint.empty()) {
            model_.path = checkpointFile(checkpoint);
            model_.step = step;
            catalog_.updateModel(model_);
        }
        catalog_.finishTrainingRun(runId_, status, message);
        run_["status"] = status;
        run_["message"] = message;
        if (!checkpoint.empty()) {
            run_["checkpoint"] = checkpoint;
            run_["step"] = step;
        }
        auto& session = run_["sessions"].back();
        session["status"] = status;
        session["message"] = message;
        session["step"] = step;
        session["finished"] = int64_t(std::time(nullptr));
        writeRunFile(plan_.outDir, run_);
    }

    // After an exception: recorded as failed; a failure to record is logged, never hides it.
    void fail(const std::string& message, const std::string& lastGood, int64_t lastGoodStep) noexcept {
        try {
            finish("failed", message, lastGood, lastGoodStep);
        } catch (const std::exception& e) {
            logWarning("recording the failed run " + std::to_string(runId_) + " failed too: " + e.what());
        }
    }

    // run.json as the run starts (status running).
    void begin() { writeRunFile(plan_.outDir, run_); }

private:
    Catalog& catalog_;
    RunPlan& plan_;
    ModelRecord model_;
    int64_t runId_;
    nlohmann::json run_;
};

int64_t stepOfCheckpoint(const std::string& checkpoint) {
    const auto pos = checkpoint.rfind("checkpoint-");
    if (pos == std::string::npos) return 0;
    try {
        return std::stoll(checkpoint.substr(pos + 11));
    } catch (const std::exception&) {
        return 0;
    }
}

} // namespace

TrainRunResult runTraining(const TrainRunParams& params, const TrainRunHooks& hooks) {
    const auto started = std::chrono::steady_clock::now();
    const NoteFn note = [&](const std::string& message) {
        logInfo(message);
        if (hooks.note) hooks.note(message);
    };
    RunPlan plan = planRun(params, note);

    auto catalog = Catalog::open(params.catalogPath, /*create=*/false);
    const auto snapshot = trainingSnapshot(catalog, snapshotParams(plan.config, plan.where), hooks.data, note);
    auto stage = buildStage({plan.config, plan.seed, plan.finetune}, snapshot);
    if (!plan.resume) loadInitialWeights(*stage, plan.config, plan.sources, note);

    std::error_code ec;
    fs::create_directories(plan.outDir, ec);
    if (ec) throw FileError(plan.outDir, "cannot create the run folder: " + ec.message());

    train::TrainParams tp = plan.config.train;
    tp.device = params.device.empty() ? "auto" : params.device;
    tp.threads = params.threads;
    tp.seed = plan.seed;
    tp.outDir = plan.outDir;
    tp.resumeFrom = plan.resume ? plan.outDir + "/last" : "";
    train::validate(tp);

    ModelRecord model = modelRecord(catalog, plan, *stage);
    if (!plan.resume && !model.parentId) {
        model.parentId = parentModel(catalog, plan.sources, plan.config.kind);
        if (model.parentId) catalog.updateModel(model);
    }
    nlohmann::json runParams = {{"kind", stageKindName(plan.config.kind)},
                                {"resume", plan.resume},
                                {"resumed_from_step", plan.resume ? plan.resumeStep : 0},
                                {"config_source", plan.configSource},
                                {"where", plan.where},
                                {"sources", plan.sourcesJson},
                                {"trainer", train::toJson(tp)}};
    const int64_t runId = catalog.startTrainingRun(model.id, runParams.dump());

    nlohmann::json run = plan.recordedRun.is_object() ? plan.recordedRun : nlohmann::json::object();
    run["format"] = kRunFileFormat;
    run["version"] = 1;
    run["kind"] = stageKindName(plan.config.kind);
    run["catalog"] = fs::absolute(params.catalogPath).lexically_normal().string();
    run["model"] = plan.modelName;
    run["config"] = configJson(plan.config);
    run["config_source"] = plan.configSource;
    run["where"] = plan.where;
    run["seed"] = plan.seed;
    run["sources"] = plan.sourcesJson;
    run["trainer_stage"] = stage->name();
    run["total_steps"] = tp.steps;
    run["status"] = "running";
    if (!run.contains("step")) run["step"] = 0;
    if (!run.contains("checkpoint")) run["checkpoint"] = "";
    if (!run.contains("sessions") || !run["sessions"].is_array()) run["sessions"] = nlohmann::json::array();
    run["sessions"].push_back(sessionJson(runId, plan, tp));
    RunRecorder recorder(catalog, plan, model, runId, std::move(run));

    train::TrainResult trained;
    try {
        recorder.begin();
        if (plan.resume) recordCheckpointHistory(catalog, runId, plan.outDir);
        train::TrainHooks trainHooks;
        trainHooks.metrics = [&](const train::StepMetrics& m) { catalog.recordMetrics(runId, m.step, metricValues(m)); };
        trainHooks.progress = [&](const train::TrainProgress& p) {
            return hooks.progress ? hooks.progress(toRunProgress(p)) : true;
        };
        trained = train::train(*stage, tp, trainHooks);
    } catch (const train::TrainingDiverged& e) {
        // The last good checkpoint is <out>/last itself when none was written since resuming.
        const std::string& good = e.lastGoodCheckpoint();
        const bool isLast = fs::path(good).filename() == "last";
        recorder.fail(e.what(), good, isLast ? plan.resumeStep : stepOfCheckpoint(good));
        throw;
    } catch (const std::exception& e) {
        // A resumed run that fails keeps the model at its checkpoint; a fresh one has none yet.
        recorder.fail(e.what(), "", 0);
        throw;
    }

    TrainRunResult result;
    result.step = trained.step;
    result.totalSteps = tp.steps;
    result.startStep = plan.resume ? plan.resumeStep : 0;
    result.device = trained.device;
    result.checkpoint = trained.lastCheckpoint;
    result.outDir = plan.outDir;
    result.modelName = plan.modelName;
    result.modelId = model.id;
    result.runId = runId;
    result.warnings = trained.warnings;
    result.collapsed = trained.collapsed;
    if (!trained.history.empty())
        for (const auto& [name, value] : metricValues(trained.history.back())) result.finalMetrics[name] = value;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    std::string message;
    switch (trained.status) {
    case train::TrainStatus::Completed:
        result.status = "finished";
        message = "trained to step " + std::to_string(trained.step) + " on " + trained.device;
        break;
    case train::TrainStatus::Cancelled:
        result.status = "cancelled";
        message = "cancelled at step " + std::to_string(trained.step) + " of " + std::to_string(tp.steps) +
                  (trained.lastCheckpoint.empty() ? std::string()
                                                  : "; checkpoint " + trained.lastCheckpoint + " written") +
                  "; continue with --resume";
        break;
    case train::TrainStatus::StoppedOnCollapse:
        result.status = "stopped";
        message = "stopped at step " + std::to_string(trained.step) + ": ";
        for (size_t i = 0; i < trained.warnings.size(); ++i) message += (i ? "; " : "") + trained.warnings[i];
        break;
    }
    recorder.finish(result.status == "stopped" ? "failed" : result.status, message, trained.lastCheckpoint,
                    trained.step);
    return result;
}

} // namespace astroclip::runs
