#pragma once
// AdamW over the stage's parameter groups, with the DINOv2 weight-decay convention and the
// optimizer state by parameter name for checkpoints.
#include "core/train/stage.h"
#include "core/train/train_params.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace torch::optim {
class AdamW;
}

namespace astroclip::train {

// Checkpoint names of the optimizer state of parameter NAME.
inline const std::string kExpAvgPrefix = "optim.exp_avg.";
inline const std::string kExpAvgSqPrefix = "optim.exp_avg_sq.";
inline const std::string kStepPrefix = "optim.step.";

// False for parameters that weight decay must not shrink (DINOv2): biases, normalisation
// weights and layer-scale gammas (all names ending in "bias", containing "norm" or "gamma",
// and every tensor of at most one dimension), and learned tokens ("cls_token", "mask_token",
// "register_tokens"; any name containing "token").
bool decaysWeight(const std::string& name, const torch::Tensor& param);

// One AdamW parameter group: a stage group's decayed or undecayed half.
struct OptimizerGroup {
    std::string name;        // "<stage group>" or "<stage group>/no_decay"
    double lrMultiplier = 1.0;
    bool decay = true;
    std::vector<NamedTensor> parameters;
};

class RunOptimizer {
public:
    // Frozen groups are left out. Throws UsageError when no parameter is left to train.
    RunOptimizer(const std::vector<ParamGroup>& groups, const TrainParams& params);
    ~RunOptimizer();
    RunOptimizer(const RunOptimizer&) = delete;
    RunOptimizer& operator=(const RunOptimizer&) = delete;

    // Group learning rate = scheduled × the group's multiplier.
    void setLearningRate(double scheduled);
    // The learning rate AdamW will use for group i.
    double groupLearningRate(std::size_t group) const;
    void step();

    const std::vector<OptimizerGroup>& groups() const { return groups_; }
    // Every optimised parameter, in group order.
    const std::vector<NamedTensor>& trainable() const { return trainable_; }

    // exp_avg, exp_avg_sq (parameter dtype and shape) and step (int64 scalar) of every
    // parameter that has state, named with the prefixes above; CPU copies are not made here.
    std::vector<NamedTensor> stateTensors() const;
    // Restores state from checkpoint tensors (names with the prefixes above; others ignored).
    // Throws FileError(source, ...) for state of a name that is not optimised here, a shape
    // that differs, or an incomplete triple.
    void loadState(const std::map<std::string, torch::Tensor>& tensors, const std::string& source);

    // Groups with multipliers, decay and parameter names, for the checkpoint description.
    nlohmann::json describe() const;

private:
    std::vector<OptimizerGroup> groups_;
    std::vector<NamedTensor> trainable_;
    std::unique_ptr<torch::optim::AdamW> adamw_;
};

} // namespace astroclip::train
