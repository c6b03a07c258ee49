#include "core/train/run_checkpoint.h"

#include "core/checkpoint/atomic_file.h"
#include "core/checkpoint/checkpoint.h"
#include "core/common/error.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/train/trainer.h"

#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <set>

namespace astroclip::train {

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Points <dir>/last at the weights of <dir>/<name>: the weights by hard link (or a second
// write when the file system has no links), then the JSON naming last.safetensors.
void refreshLast(const std::string& dir, const std::string& name, const std::vector<TensorData>& tensors,
                 const nlohmann::json& info) {
    const CheckpointPaths source = checkpointPaths(dir, name);
    const CheckpointPaths last = checkpointPaths(dir, "last");
    const fs::path link = fs::path(dir) / (".last.safetensors.link-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove(link, ec);
    fs::create_hard_link(source.weights, link, ec);
    if (ec) {
        saveCheckpoint(dir, "last", std::span<const TensorData>(tensors), info);
        return;
    }
    fs::rename(link, last.weights, ec);
    if (ec) {
        fs::remove(link);
        throw FileError(last.weights, "cannot be replaced: " + ec.message());
    }
    nlohmann::json described = readJsonFile(source.info);
    described[kCheckpointWeightsKey]["file"] = fs::path(last.weights).filename().string();
    writeJsonAtomic(last.info, described);
}

} // namespace

bool isReservedTensorName(const std::string& name) {
    for (const char* prefix : {"optim.", "rng.", "extra."})
        if (name.rfind(prefix, 0) == 0) return true;
    return false;
}

std::pair<std::string, std::string> splitCheckpointPath(const std::string& path) {
    std::string base = path;
    for (const char* ext : {".json", ".safetensors"})
        if (endsWith(base, ext)) base.resize(base.size() - std::string(ext).size());
    const fs::path p(base);
    const std::string dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
    return {dir, p.filename().string()};
}

std::vector<NamedTensor> stageTensors(const std::vector<NamedModule>& modules) {
    std::vector<NamedTensor> out;
    std::set<std::string> names;
    for (const auto& [prefix, module] : modules) {
        if (!module) throw UsageError("stage module '" + prefix + "' is null");
        auto add = [&](const std::string& local, const torch::Tensor& tensor) {
            const std::string name = prefix + local;
            if (isReservedTensorName(name))
                throw UsageError("stage tensor '" + name +
                                 "' uses a name the trainer reserves (optim., rng., extra.): rename its module");
            if (!names.insert(name).second)
                throw UsageError("stage tensor '" + name + "' appears twice: give the modules distinct prefixes");
            out.push_back({name, tensor});
        };
        for (const auto& item : module->named_parameters(/*recurse=*/true)) add(item.key(), item.value());
        for (const auto& item : module->named_buffers(/*recurse=*/true)) add(item.key(), item.value());
    }
    return out;
}

void writeRunCheckpoint(const std::string& dir, const std::string& name, const std::vector<NamedTensor>& tensors,
                        const nlohmann::json& info) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw FileError(dir, "cannot create the checkpoint folder: " + ec.message());
    std::vector<TensorData> data;
    data.reserve(tensors.size());
    for (const auto& t : tensors) data.push_back(models::fromTorch(t.name, t.tensor));
    saveCheckpoint(dir, name, std::span<const TensorData>(data), info);
    refreshLast(dir, name, data, info);
}

LoadedRunCheckpoint readRunCheckpoint(const std::string& path) {
    const auto [dir, name] = splitCheckpointPath(path);
    Checkpoint checkpoint = loadCheckpoint(dir, name);
    const std::string infoPath = checkpointPaths(dir, name).info;
    const auto& info = checkpoint.info;
    if (info.value("kind", std::string()) != kTrainingCheckpointKind)
        throw FileError(infoPath, "is not a training checkpoint (its \"kind\" is not \"" +
                                      std::string(kTrainingCheckpointKind) + "\"); use it with --init instead");
    if (!info.contains("step") || !info["step"].is_number_integer() || info["step"].get<int64_t>() < 0)
        throw FileError(infoPath, "has no valid \"step\": the description was edited or damaged");
    for (const char* key : {"stage", "data_state", "metrics"})
        if (!info.contains(key))
            throw FileError(infoPath, std::string("has no \"") + key + "\": the description was edited or damaged");
    LoadedRunCheckpoint out{dir + "/" + name, info, {}};
    for (const auto& view : checkpoint.weights.tensors()) {
        try {
            out.tensors[view.name] = models::toTorch(view);
        } catch (const UsageError& e) {
            throw FileError(checkpoint.weights.path(), e.what());
        }
    }
    return out;
}

void copyModelTensors(const std::vector<NamedTensor>& targets, const std::map<std::string, torch::Tensor>& values,
                      const std::string& what) {
    std::vector<std::string> missing, unexpected, wrongShape;
    std::set<std::string> known;
    for (const auto& target : targets) {
        known.insert(target.name);
        const auto it = values.find(target.name);
        if (it == values.end()) {
            missing.push_back(target.name);
        } else if (!it->second.sizes().equals(target.tensor.sizes())) {
            wrongShape.push_back("shape of " + target.name + " is " + models::shapeString(it->second) +
                                 " in the file but " + models::shapeString(target.tensor) + " here");
        }
    }
    for (const auto& [name, value] : values)
        if (!isReservedTensorName(name) && !known.count(name)) unexpected.push_back(name);
    if (!missing.empty() || !unexpected.empty() || !wrongShape.empty())
        throw models::WeightsMismatch(what, missing, unexpected, wrongShape);
    torch::NoGradGuard noGrad;
    for (const auto& target : targets) target.tensor.copy_(values.at(target.name));
}

InitReport initWeights(Stage& stage, const std::string& source, const InitOptions& options) {
    std::map<std::string, torch::Tensor> fileTensors;
    if (endsWith(source, ".safetensors")) {
        for (auto& [name, tensor] : models::readStateDict(source)) fileTensors[name] = tensor;
    } else {
        fileTensors = readRunCheckpoint(source).tensors;
    }
    // File names → stage names; reserved entries (optimizer, RNG, extra) are never weights.
    std::map<std::string, torch::Tensor> values;
    InitReport report;
    for (const auto& [name, tensor] : fileTensors) {
        if (isReservedTensorName(name)) continue;
        if (name.rfind(options.filePrefix, 0) != 0) {
            report.ignored.push_back(name);
            continue;
        }
        values[options.stagePrefix + name.substr(options.filePrefix.size())] = tensor;
    }
    std::vector<NamedTensor> targets;
    for (auto& t : stageTensors(stage.modules()))
        if (t.name.rfind(options.stagePrefix, 0) == 0) targets.push_back(std::move(t));

    const std::string what = "stage " + stage.name();
    if (!options.allowSubset) {
        copyModelTensors(targets, values, what);
        for (const auto& t : targets) report.loaded.push_back(t.name);
        return report;
    }
    std::vector<NamedTensor> present;
    std::map<std::string, torch::Tensor> used;
    std::set<std::string> targetNames;
    for (const auto& t : targets) {
        targetNames.insert(t.name);
        const auto it = values.find(t.name);
        if (it == values.end()) {
            report.kept.push_back(t.name);
            continue;
        }
        present.push_back(t);
        used.insert(*it);
    }
    for (const auto& [name, tensor] : values)
        if (!targetNames.count(name)) report.ignored.push_back(name);
    if (present.empty())
        throw FileError(source, "none of its tensors matches a tensor of " + what +
                                    ": check the prefixes (file '" + options.filePrefix + "', stage '" +
                                    options.stagePrefix + "')");
    copyModelTensors(present, used, what);  // shapes must agree
    for (const auto& t : present) report.loaded.push_back(t.name);
    return report;
}

} // namespace astroclip::train
