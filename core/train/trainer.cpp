#include "core/train/trainer.h"

#include "core/common/log.h"
#include "core/models/out_of_memory.h"
#include "core/train/optimizer.h"
#include "core/train/run_checkpoint.h"
#include "core/train/torch_compat.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>

namespace astroclip::train {

ParamGroup ParamGroup::fromModule(std::string name, const std::string& prefix, const torch::nn::Module& module,
                                  double lrMultiplier, bool frozen) {
    ParamGroup group{std::move(name), {}, lrMultiplier, frozen};
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        group.parameters.push_back({prefix + item.key(), item.value()});
    return group;
}

nlohmann::json toJson(const StepMetrics& m) {
    return {{"step", m.step}, {"lr", m.lr}, {"grad_norm", m.gradNorm}, {"terms", m.terms}, {"health", m.health}};
}

StepMetrics stepMetricsFromJson(const nlohmann::json& j) {
    StepMetrics m;
    m.step = j.at("step").get<int64_t>();
    m.lr = j.at("lr").get<double>();
    m.gradNorm = j.at("grad_norm").get<double>();
    m.terms = j.at("terms").get<std::map<std::string, double>>();
    m.health = j.at("health").get<std::map<std::string, double>>();
    return m;
}

std::string checkpointPath(const std::string& dir, int64_t step) {
    return dir + "/checkpoint-" + std::to_string(step);
}

namespace {

using Clock = std::chrono::steady_clock;

std::string formatValue(double v) {
    std::ostringstream s;
    s.precision(6);
    s << v;
    return s.str();
}

class Run {
public:
    Run(Stage& stage, const TrainParams& params, const TrainHooks& hooks)
        : stage_(stage), params_(params), hooks_(hooks), device_(detail::resolveDevice(params.device)) {}

    TrainResult execute();

private:
    void prepareModules();
    void resume();
    void trainOneStep();
    void checkFinite(double value, const std::string& term) const;
    void checkHealth(const StepMetrics& metrics, std::vector<std::string>& warnings);
    bool reportProgress(const StepMetrics& metrics, std::vector<std::string> warnings);
    void writeCheckpoint();
    nlohmann::json describe() const;

    Stage& stage_;
    const TrainParams& params_;
    const TrainHooks& hooks_;
    c10::Device device_;
    bool autocast_ = false;
    std::vector<NamedTensor> tensors_;  // every module tensor, by checkpoint name
    std::unique_ptr<RunOptimizer> optimizer_;
    std::vector<HealthGuard> guards_;
    std::vector<int> violations_;       // consecutive steps out of bounds, per guard
    int64_t step_ = 0;                  // optimizer steps done
    int64_t lastCheckpointStep_ = -1;
    std::string lastGood_;
    bool stopOnCollapse_ = false;
    TrainResult result_;
    Clock::time_point sessionStart_;
    int64_t sessionSteps_ = 0;
    int64_t sessionSamples_ = 0;
};

void Run::prepareModules() {
    const auto modules = stage_.modules();
    for (const auto& [prefix, module] : modules) {
        if (!module) throw UsageError("stage " + stage_.name() + ": module '" + prefix + "' is null");
        module->to(device_);
        module->train(true);
    }
    tensors_ = stageTensors(modules);

    std::map<std::string, torch::Tensor> byName;
    for (const auto& t : tensors_) byName[t.name] = t.tensor;
    const auto groups = stage_.parameterGroups();
    std::set<std::string> grouped;
    for (const auto& group : groups) {
        for (const auto& p : group.parameters) {
            const auto it = byName.find(p.name);
            if (it == byName.end() || !it->second.is_same(p.tensor))
                throw UsageError("stage " + stage_.name() + ": parameter group '" + group.name + "' lists '" +
                                 p.name + "', which is not that tensor of the stage's modules");
            if (!grouped.insert(p.name).second)
                throw UsageError("stage " + stage_.name() + ": parameter '" + p.name +
                                 "' is in more than one parameter group");
            p.tensor.requires_grad_(!group.frozen);
        }
    }
    for (const auto& [prefix, module] : modules)
        for (const auto& item : module->named_parameters(true))
            if (item.value().requires_grad() && !grouped.count(prefix + item.key()))
                throw UsageError("stage " + stage_.name() + ": parameter '" + prefix + item.key() +
                                 "' requires a gradient but is in no parameter group (add it to one, frozen or not)");
    optimizer_ = std::make_unique<RunOptimizer>(groups, params_);

    guards_ = stage_.healthGuards();
    guards_.insert(guards_.end(), params_.healthGuards.begin(), params_.healthGuards.end());
    violations_.assign(guards_.size(), 0);
}

void Run::resume() {
    auto loaded = readRunCheckpoint(params_.resumeFrom);
    const std::string infoPath = loaded.path + ".json";
    const std::string written = loaded.info["stage"].is_string() ? loaded.info["stage"].get<std::string>() : "";
    if (written != stage_.name())
        throw FileError(infoPath, "was written by stage '" + written + "', not '" + stage_.name() +
                                      "': resume with the stage that made it, or use it with --init");
    step_ = loaded.info["step"].get<int64_t>();
    if (step_ > params_.steps)
        throw FileError(infoPath, "is at step " + std::to_string(step_) + ", past this run's " +
                                      std::to_string(params_.steps) + " steps: raise --steps to continue");
    copyModelTensors(tensors_, loaded.tensors, "stage " + stage_.name() + " (resuming from " + loaded.path + ")");
    optimizer_->loadState(loaded.tensors, loaded.path + ".safetensors");

    std::map<std::string, torch::Tensor> extra;
    for (const auto& [name, tensor] : loaded.tensors)
        if (name.rfind("extra.", 0) == 0) extra[name.substr(6)] = tensor.to(device_);
    stage_.loadExtraState(extra);
    stage_.loadDataState(loaded.info["data_state"]);

    const auto cpuState = loaded.tensors.find("rng.torch_cpu");
    if (cpuState == loaded.tensors.end())
        throw FileError(loaded.path + ".safetensors", "has no rng.torch_cpu: the random state cannot be restored");
    detail::setGeneratorState(c10::Device(c10::kCPU), cpuState->second);
    if (device_.is_cuda()) {
        const auto cudaState = loaded.tensors.find("rng.torch_cuda");
        if (cudaState != loaded.tensors.end())
            detail::setGeneratorState(device_, cudaState->second);
        else
            logWarning("resuming on " + device_.str() + " from a checkpoint made without CUDA: the CUDA random "
                       "stream starts afresh, so the run will not repeat a straight run exactly");
    }
    try {
        for (const auto& m : loaded.info["metrics"]) result_.history.push_back(stepMetricsFromJson(m));
    } catch (const nlohmann::json::exception& e) {
        throw FileError(infoPath, std::string("has malformed \"metrics\": ") + e.what());
    }
    lastGood_ = loaded.path;
    lastCheckpointStep_ = step_;
    logInfo("resuming stage " + stage_.name() + " at step " + std::to_string(step_) + " from " + loaded.path);
}

void Run::checkFinite(double value, const std::string& term) const {
    if (std::isfinite(value)) return;
    const std::string where = "training of stage " + stage_.name() + " diverged at step " + std::to_string(step_ + 1) +
                              ": " + term + " is " + formatValue(value) + ". ";
    const std::string advice = lastGood_.empty()
                                   ? "No checkpoint was written yet; lower the learning rate or enable gradient "
                                     "clipping and start again."
                                   : "The last good checkpoint is " + lastGood_ +
                                         "; lower the learning rate or enable gradient clipping and resume from it.";
    throw TrainingDiverged(where + advice, step_ + 1, term, lastGood_);
}

void Run::trainOneStep() {
    const double lr = scheduledLr(params_, step_);
    optimizer_->setLearningRate(lr);
    for (const auto& p : optimizer_->trainable()) p.tensor.mutable_grad() = torch::Tensor();

    StepMetrics metrics;
    metrics.step = step_ + 1;
    metrics.lr = lr;
    const StepContext context{device_, 0, params_.accumulate, autocast_};
    for (int micro = 0; micro < params_.accumulate; ++micro) {
        StepContext ctx = context;
        ctx.microStep = micro;
        LossTerms out;
        {
            detail::AutocastScope autocast(autocast_);
            out = stage_.step(step_, ctx);
        }
        const auto loss = out.terms.find("loss");
        if (loss == out.terms.end() || !loss->second.defined() || loss->second.numel() != 1)
            throw UsageError("stage " + stage_.name() + " returned no scalar \"loss\" term");
        for (const auto& [name, value] : out.terms) {
            const double v = value.detach().to(torch::kDouble).item<double>();
            checkFinite(v, "loss term '" + name + "'");
            metrics.terms[name] += v / params_.accumulate;
        }
        for (const auto& [name, value] : out.health) metrics.health[name] += value / params_.accumulate;
        sessionSamples_ += out.samples;
        (loss->second / params_.accumulate).backward();
    }

    std::vector<torch::Tensor> withGrad;
    for (const auto& p : optimizer_->trainable())
        if (p.tensor.grad().defined()) withGrad.push_back(p.tensor);
    double norm = 0;
    if (params_.gradClip > 0 && !withGrad.empty()) {
        norm = torch::nn::utils::clip_grad_norm_(withGrad, params_.gradClip);
    } else if (!withGrad.empty()) {
        std::vector<torch::Tensor> norms;
        for (const auto& p : withGrad) norms.push_back(p.grad().detach().to(torch::kFloat).norm());
        norm = torch::stack(norms).norm().item<double>();
    }
    checkFinite(norm, "the gradient norm");
    metrics.gradNorm = norm;

    optimizer_->step();
    stage_.afterOptimizerStep(step_);
    ++step_;
    ++sessionSteps_;

    std::vector<std::string> warnings;
    checkHealth(metrics, warnings);
    result_.history.push_back(metrics);
    if (hooks_.metrics) hooks_.metrics(metrics);
    const bool keepGoing = reportProgress(metrics, warnings);
    result_.warnings.insert(result_.warnings.end(), warnings.begin(), warnings.end());

    const bool periodic = params_.checkpointEvery > 0 && step_ % params_.checkpointEvery == 0;
    const bool stopping = !keepGoing || stopOnCollapse_;
    if (periodic || stopping || step_ == params_.steps) writeCheckpoint();
    if (!keepGoing) result_.status = TrainStatus::Cancelled;
    else if (stopOnCollapse_) result_.status = TrainStatus::StoppedOnCollapse;
}

void Run::checkHealth(const StepMetrics& metrics, std::vector<std::string>& warnings) {
    for (std::size_t i = 0; i < guards_.size(); ++i) {
        const auto& guard = guards_[i];
        const auto it = metrics.health.find(guard.metric);
        if (it == metrics.health.end()) continue;
        const double v = it->second;
        const bool low = guard.floor && !(v >= *guard.floor);
        const bool high = guard.ceiling && !(v <= *guard.ceiling);
        violations_[i] = (low || high) ? violations_[i] + 1 : 0;
        if (violations_[i] != guard.patience) continue;
        result_.collapsed = true;
        warnings.push_back("collapse suspected at step " + std::to_string(metrics.step) + ": " + guard.metric +
                           " = " + formatValue(v) + (low ? " below its floor " + formatValue(*guard.floor)
                                                         : " above its ceiling " + formatValue(*guard.ceiling)) +
                           " for " + std::to_string(guard.patience) + " consecutive steps");
        logWarning(warnings.back());
        if (guard.stopRun) stopOnCollapse_ = true;
    }
}

bool Run::reportProgress(const StepMetrics& metrics, std::vector<std::string> warnings) {
    if (!hooks_.progress) return true;
    TrainProgress p;
    p.step = step_;
    p.totalSteps = params_.steps;
    p.lr = metrics.lr;
    p.terms = metrics.terms;
    p.health = metrics.health;
    const double seconds = std::chrono::duration<double>(Clock::now() - sessionStart_).count();
    if (seconds > 0) {
        p.stepsPerSecond = static_cast<double>(sessionSteps_) / seconds;
        p.samplesPerSecond = static_cast<double>(sessionSamples_) / seconds;
    }
    if (p.stepsPerSecond > 0) p.etaSeconds = static_cast<double>(params_.steps - step_) / p.stepsPerSecond;
    p.peakMemoryBytes = detail::peakMemoryBytes(device_, &p.memoryKind);
    p.device = device_.str();
    p.warnings = std::move(warnings);
    return hooks_.progress(p);
}

nlohmann::json Run::describe() const {
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& m : result_.history) metrics.push_back(toJson(m));
    return {{"kind", kTrainingCheckpointKind},
            {"format_version", 1},
            {"stage", stage_.name()},
            {"step", step_},
            {"total_steps", params_.steps},
            {"config", {{"trainer", toJson(params_)}, {"stage", stage_.config()}}},
            {"optimizer", optimizer_->describe()},
            {"data_state", stage_.dataState()},
            {"provenance", stage_.provenance()},
            {"metrics", metrics},
            {"collapsed", result_.collapsed},
            {"device", device_.str()},
            {"threads", torch::get_num_threads()},
            {"torch", detail::torchDescription()}};
}

void Run::writeCheckpoint() {
    if (params_.outDir.empty() || lastCheckpointStep_ == step_) return;
    std::vector<NamedTensor> tensors = tensors_;
    for (auto& t : optimizer_->stateTensors()) tensors.push_back(std::move(t));
    for (auto& [name, tensor] : stage_.extraState()) tensors.push_back({"extra." + name, tensor});
    tensors.push_back({"rng.torch_cpu", detail::generatorState(c10::Device(c10::kCPU))});
    if (device_.is_cuda()) tensors.push_back({"rng.torch_cuda", detail::generatorState(device_)});
    const std::string path = checkpointPath(params_.outDir, step_);
    const auto [dir, name] = splitCheckpointPath(path);
    writeRunCheckpoint(dir, name, tensors, describe());
    lastGood_ = path;
    lastCheckpointStep_ = step_;
    result_.lastCheckpoint = path;
}

TrainResult Run::execute() {
    validate(params_);
    const int threads = params_.threads > 0 ? params_.threads
                                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
    autocast_ = params_.mixedPrecision && device_.is_cuda();
    result_.device = device_.str();
    logInfo("training stage " + stage_.name() + " on " + device_.str() + " (" + detail::torchDescription() + ", " +
            std::to_string(threads) + " CPU threads" + (autocast_ ? ", bf16 autocast)" : ", fp32)"));

    // Running out of memory ends the run with a message that says what to change; the
    // checkpoints already written stay as they are (each write is atomic).
    const auto job = [&] { return "training stage " + stage_.name() + " (step " + std::to_string(step_ + 1) + ")"; };
    const auto advice = [&] {
        std::string text = lastGood_.empty() ? std::string("No checkpoint was written yet. ")
                                             : "The last checkpoint, " + lastGood_ + ", is intact. ";
        text += "Lower the stage's batch_size in a --config JSON and raise the trainer's accumulate by the same "
                "factor to keep the effective batch";
        if (device_.is_cuda() && !autocast_) text += ", turn on the trainer's mixed_precision (bf16)";
        return text + ", or choose a smaller preset.";
    };
    models::reportingOutOfMemory(device_, job, advice, [&] {
        prepareModules();
        if (!params_.resumeFrom.empty())
            resume();
        else
            torch::manual_seed(params_.seed);
        detail::resetPeakMemory(device_);

        sessionStart_ = Clock::now();
        while (step_ < params_.steps) {
            trainOneStep();
            if (result_.status != TrainStatus::Completed) break;
        }
    });
    result_.step = step_;
    if (result_.lastCheckpoint.empty() && !lastGood_.empty()) result_.lastCheckpoint = lastGood_;
    return result_;
}

} // namespace

TrainResult train(Stage& stage, const TrainParams& params, const TrainHooks& hooks) {
    Run run(stage, params, hooks);
    return run.execute();
}

} // namespace astroclip::train
