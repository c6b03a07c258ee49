#include "core/train/optimizer.h"

#include "core/common/error.h"
#include "core/train/torch_compat.h"

#include <torch/torch.h>

#include <set>

namespace astroclip::train {

namespace {

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

std::string shapeOf(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

} // namespace

bool decaysWeight(const std::string& name, const torch::Tensor& param) {
    if (param.dim() <= 1) return false;
    if (endsWith(name, "bias") || contains(name, "norm") || contains(name, "gamma") || contains(name, "token"))
        return false;
    return true;
}

RunOptimizer::RunOptimizer(const std::vector<ParamGroup>& stageGroups, const TrainParams& params) {
    std::vector<torch::optim::OptimizerParamGroup> adamGroups;
    for (const auto& group : stageGroups) {
        if (group.frozen) continue;
        OptimizerGroup decayed{group.name, group.lrMultiplier, true, {}};
        OptimizerGroup undecayed{group.name + "/no_decay", group.lrMultiplier, false, {}};
        for (const auto& p : group.parameters)
            (decaysWeight(p.name, p.tensor) ? decayed : undecayed).parameters.push_back(p);
        for (auto* half : {&decayed, &undecayed}) {
            if (half->parameters.empty()) continue;
            std::vector<torch::Tensor> tensors;
            for (const auto& p : half->parameters) {
                tensors.push_back(p.tensor);
                trainable_.push_back(p);
            }
            auto options = std::make_unique<torch::optim::AdamWOptions>(params.lr * half->lrMultiplier);
            options->betas({params.beta1, params.beta2});
            options->eps(params.eps);
            options->weight_decay(half->decay ? params.weightDecay : 0.0);
            adamGroups.emplace_back(std::move(tensors), std::move(options));
            groups_.push_back(std::move(*half));
        }
    }
    if (trainable_.empty())
        throw UsageError("the stage has no parameter to train: every parameter group is frozen or empty");
    torch::optim::AdamWOptions defaults(params.lr);
    defaults.betas({params.beta1, params.beta2}).eps(params.eps).weight_decay(params.weightDecay);
    adamw_ = std::make_unique<torch::optim::AdamW>(std::move(adamGroups), defaults);
}

RunOptimizer::~RunOptimizer() = default;

void RunOptimizer::setLearningRate(double scheduled) {
    auto& adamGroups = adamw_->param_groups();
    for (std::size_t i = 0; i < groups_.size(); ++i)
        static_cast<torch::optim::AdamWOptions&>(adamGroups[i].options()).lr(scheduled * groups_[i].lrMultiplier);
}

double RunOptimizer::groupLearningRate(std::size_t group) const {
    return static_cast<const torch::optim::AdamWOptions&>(adamw_->param_groups().at(group).options()).lr();
}

void RunOptimizer::step() { adamw_->step(); }

std::vector<NamedTensor> RunOptimizer::stateTensors() const {
    std::vector<NamedTensor> out;
    for (const auto& p : trainable_) {
        auto* state = static_cast<torch::optim::AdamWParamState*>(detail::findParamState(*adamw_, p.tensor));
        if (!state) continue;  // no gradient has reached this parameter yet
        out.push_back({kExpAvgPrefix + p.name, state->exp_avg()});
        out.push_back({kExpAvgSqPrefix + p.name, state->exp_avg_sq()});
        out.push_back({kStepPrefix + p.name, torch::tensor(static_cast<int64_t>(state->step()), torch::kLong)});
    }
    return out;
}

void RunOptimizer::loadState(const std::map<std::string, torch::Tensor>& tensors, const std::string& source) {
    std::map<std::string, const NamedTensor*> byName;
    for (const auto& p : trainable_) byName[p.name] = &p;
    std::set<std::string> seen;
    for (const auto& [key, value] : tensors) {
        for (const auto* prefix : {&kExpAvgPrefix, &kExpAvgSqPrefix, &kStepPrefix}) {
            if (key.rfind(*prefix, 0) != 0) continue;
            const std::string name = key.substr(prefix->size());
            if (!byName.count(name))
                throw FileError(source, "holds optimizer state for '" + name +
                                            "', which this stage does not train (frozen, renamed or another "
                                            "stage): resume with the configuration the checkpoint was made with");
            seen.insert(name);
        }
    }
    for (const auto& name : seen) {
        const auto find = [&](const std::string& prefix) -> const torch::Tensor& {
            const auto it = tensors.find(prefix + name);
            if (it == tensors.end())
                throw FileError(source, "has incomplete optimizer state for '" + name + "': " + prefix + name +
                                            " is missing");
            return it->second;
        };
        const auto& param = byName.at(name)->tensor;
        const auto& expAvg = find(kExpAvgPrefix);
        const auto& expAvgSq = find(kExpAvgSqPrefix);
        const auto& step = find(kStepPrefix);
        if (!expAvg.sizes().equals(param.sizes()) || !expAvgSq.sizes().equals(param.sizes()))
            throw FileError(source, "optimizer state of '" + name + "' has shape " + shapeOf(expAvg) +
                                        " but the parameter is " + shapeOf(param));
        if (step.numel() != 1 || step.scalar_type() != torch::kLong)
            throw FileError(source, "optimizer step count of '" + name + "' is not an int64 scalar");
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->exp_avg(expAvg.to(param.options(), /*non_blocking=*/false, /*copy=*/true));
        state->exp_avg_sq(expAvgSq.to(param.options(), false, true));
        state->step(static_cast<std::remove_cvref_t<decltype(state->step())>>(step.item<int64_t>()));
        detail::setParamState(*adamw_, param, std::move(state));
    }
}

nlohmann::json RunOptimizer::describe() const {
    nlohmann::json groups = nlohmann::json::array();
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        nlohmann::json names = nlohmann::json::array();
        for (const auto& p : groups_[i].parameters) names.push_back(p.name);
        groups.push_back({{"name", groups_[i].name},
                          {"lr_multiplier", groups_[i].lrMultiplier},
                          {"weight_decay", groups_[i].decay},
                          {"parameters", names}});
    }
    return {{"type", "AdamW"}, {"groups", groups}};
}

} // namespace astroclip::train
