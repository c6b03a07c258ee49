// astroclip train: one training run (core/runs/train_run.h) with a progress line, Ctrl-C to
// stop with a checkpoint, and the run recorded in the catalog.
#include "app/cli/cli_common.h"
#include "core/common/error.h"
#include "core/runs/train_run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace astroclip::cli {

namespace {

std::string formatDuration(double seconds) {
    if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
    const auto s = static_cast<long long>(std::llround(seconds));
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%llds", s);
    return buf;
}

std::string formatBytes(int64_t bytes) {
    char buf[32];
    if (bytes >= (int64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1 << 30));
    else std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / double(1 << 20));
    return buf;
}

// "step 37/100  loss 0.8123 (dino 0.61 ibot 0.19)  lr 2.9e-04  41.2 samples/s  eta 1m32s  1.2 GiB RSS  cpu"
std::string progressLine(const runs::TrainRunProgress& p) {
    char head[64];
    std::snprintf(head, sizeof head, "step %lld/%lld", (long long)p.step, (long long)p.totalSteps);
    std::string line = head;
    char buf[64];
    if (const auto it = p.terms.find("loss"); it != p.terms.end()) {
        std::snprintf(buf, sizeof buf, "  loss %.4g", it->second);
        line += buf;
    }
    std::string others;
    for (const auto& [name, value] : p.terms) {
        if (name == "loss") continue;
        std::snprintf(buf, sizeof buf, "%s%s %.3g", others.empty() ? "" : " ", name.c_str(), value);
        others += buf;
    }
    if (!others.empty()) line += " (" + others + ")";
    std::snprintf(buf, sizeof buf, "  lr %.2e  %.1f samples/s  eta %s", p.lr, p.samplesPerSecond,
                  formatDuration(p.etaSeconds).c_str());
    line += buf;
    if (p.peakMemoryBytes > 0) line += "  " + formatBytes(p.peakMemoryBytes) + " " + p.memoryKind;
    line += "  " + p.device;
    return line;
}

// Redrawn in place on a terminal; on a log, a line per tenth of the run and the last step.
// Warnings always get a line of their own. Returns false after Ctrl-C.
std::function<bool(const runs::TrainRunProgress&)> makeTrainProgress(bool quiet) {
    const bool tty = isatty(fileno(stderr));
    struct State {
        int lastDecile = -1;
        size_t lastWidth = 0;
        std::chrono::steady_clock::time_point lastDraw{};
    };
    auto state = std::make_shared<State>();
    return [=](const runs::TrainRunProgress& p) {
        if (interrupted()) {
            if (!quiet) std::fprintf(stderr, "\nstopping: writing a checkpoint at step %lld\n", (long long)p.step);
            return false;
        }
        if (quiet) return true;
        for (const auto& w : p.warnings) std::fprintf(stderr, "%swarning: %s\n", tty ? "\r\033[K" : "", w.c_str());
        const std::string line = progressLine(p);
        const bool last = p.step >= p.totalSteps;
        if (tty) {
            const auto now = std::chrono::steady_clock::now();
            if (!last && now - state->lastDraw < std::chrono::milliseconds(200)) return true;
            state->lastDraw = now;
            std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), last ? "\n" : "");
        } else {
            const int decile = p.totalSteps > 0 ? int(10 * p.step / p.totalSteps) : 0;
            if (decile == state->lastDecile && !last) return true;
            state->lastDecile = decile;
            std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
        return true;
    };
}

nlohmann::json resultJson(const runs::TrainRunResult& r) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : r.finalMetrics) metrics[name] = std::isfinite(value) ? nlohmann::json(value) : nullptr;
    return {{"status", r.status},         {"step", r.step},           {"total_steps", r.totalSteps},
            {"start_step", r.startStep},  {"device", r.device},       {"checkpoint", r.checkpoint},
            {"out_dir", r.outDir},        {"model", r.modelName},     {"model_id", r.modelId},
            {"run_id", r.runId},          {"final_metrics", metrics}, {"warnings", r.warnings},
            {"collapsed", r.collapsed},   {"seconds", r.seconds}};
}

void printResult(const runs::TrainRunResult& r, const std::string& kind) {
    std::printf("%s run '%s' %s at step %lld/%lld in %s on %s\n", kind.c_str(), r.modelName.c_str(), r.status.c_str(),
                (long long)r.step, (long long)r.totalSteps, formatDuration(r.seconds).c_str(), r.device.c_str());
    if (!r.checkpoint.empty()) std::printf("checkpoint  %s\n", r.checkpoint.c_str());
    if (const auto it = r.finalMetrics.find("loss"); it != r.finalMetrics.end())
        std::printf("final loss  %.6g\n", it->second);
    std::printf("catalog     model %lld, run %lld\n", (long long)r.modelId, (long long)r.runId);
    if (r.status == "cancelled") std::printf("continue with the same command and --resume\n");
}

} // namespace

Runner addTrainCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", kTrainDescription);
    struct Opts {
        std::string kind, catalog, out, name, config, device = "auto", init, where, freeze, imageInit, spectrumInit;
        std::string target, task, modality, printConfig;
        std::optional<int64_t> steps;
        std::optional<uint64_t> seed;
        std::optional<double> layerDecay;
        int threads = 0;
        bool resume = false, json = false, quiet = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("kind", o->kind, "What to train: image, spectrum, clip or supervised")
        ->required()
        ->check(CLI::IsMember({"image", "spectrum", "clip", "supervised"}));
    cmd->add_option("--catalog", o->catalog, "Catalog file with the training data");
    cmd->add_option("--out", o->out, "Run folder: checkpoints, last, run.json");
    cmd->add_option("--name", o->name, "Model name in the catalog (default: the run folder's name)");
    cmd->add_option("--config", o->config,
                    "Preset tiny, small, base or large, or a JSON file over a preset (see --print-config)");
    cmd->add_option("--print-config", o->printConfig, "Print every configuration key of PRESET as JSON and exit");
    cmd->add_option("--steps", o->steps, "Optimizer steps in the whole run (default: the preset's)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--seed", o->seed, "Seed of weights, data order and masks (default 0)");
    cmd->add_flag("--resume", o->resume, "Continue the run in --out from its last checkpoint");
    cmd->add_option("--init", o->init, "Start from these weights: a run folder, <run>/checkpoint-N or a .safetensors file");
    cmd->add_option("--where", o->where, "Train on the objects matching this filter, e.g. \"truth_z < 0.5\"");
    cmd->add_option("--freeze", o->freeze, "Fine-tuning: none, all (backbone frozen) or last:N (last N blocks train)");
    cmd->add_option("--layer-decay", o->layerDecay, "Layer-wise learning-rate decay in (0, 1]");
    cmd->add_option("--image-init", o->imageInit, "clip: the image run whose backbone is aligned");
    cmd->add_option("--spectrum-init", o->spectrumInit, "clip: the spectrum run whose backbone is aligned");
    cmd->add_option("--target", o->target, "supervised: the catalog column to predict, e.g. truth_z");
    cmd->add_option("--task", o->task, "supervised: regression or classification (default regression)");
    cmd->add_option("--modality", o->modality, "supervised: image or spectrum backbone");
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress line or notes");
    return [o]() {
        const auto kind = runs::parseStageKind(o->kind);
        if (!o->printConfig.empty()) {
            std::printf("%s\n", runs::describeConfig(*kind, o->printConfig).c_str());
            return 0;
        }
        if (o->catalog.empty()) throw UsageError("train needs --catalog");
        if (o->out.empty()) throw UsageError("train needs --out (the run folder)");
        runs::TrainRunParams params;
        params.kind = *kind;
        params.catalogPath = o->catalog;
        params.outDir = o->out;
        params.modelName = o->name;
        params.config = o->config;
        params.steps = o->steps;
        params.device = o->device;
        params.threads = o->threads;
        params.seed = o->seed;
        params.resume = o->resume;
        params.init = o->init;
        params.where = o->where;
        params.freeze = o->freeze;
        params.layerDecay = o->layerDecay;
        params.imageInit = o->imageInit;
        params.spectrumInit = o->spectrumInit;
        params.target = o->target;
        params.task = o->task;
        params.modality = o->modality;

        const bool quiet = o->quiet || o->json;
        runs::TrainRunHooks hooks;
        hooks.data = makeProgressBar(quiet);
        hooks.progress = makeTrainProgress(quiet);
        if (!quiet) hooks.note = [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
        const auto result = runs::runTraining(params, hooks);
        if (o->json) printJson(resultJson(result));
        else printResult(result, o->kind);
        if (result.status == "cancelled") return kExitCancelled;
        if (result.status == "stopped") {
            std::fprintf(stderr, "astroclip: training stopped: a collapse guard fired (see the warnings); the "
                                 "checkpoint %s was written\n", result.checkpoint.c_str());
            return kExitError;
        }
        return 0;
    };
}

} // namespace astroclip::cli
