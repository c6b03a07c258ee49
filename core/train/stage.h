#pragma once
// A Stage is one kind of training (DINOv2 image pre-training, SpecFormer masked modelling,
// CLIP alignment, a probe...). It owns its modules and its data; the trainer (trainer.h) owns
// the loop: device, optimizer, schedule, accumulation, clipping, checkpoints, progress.
//
// Names: every tensor of the stage is known by one name ("<module prefix><parameter name>",
// e.g. "student.blocks.0.attn.qkv.weight"), used in checkpoints, for optimizer state and for
// loading weights. Names starting with "optim.", "rng." or "extra." are reserved for the
// trainer's own checkpoint entries.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace astroclip::train {

// A module whose parameters and buffers are checkpointed as "<prefix><name>". The trainer
// moves it to the run's device and puts it into training mode before anything else.
struct NamedModule {
    std::string prefix;  // "" or ending in '.', e.g. "student."
    std::shared_ptr<torch::nn::Module> module;
};

struct NamedTensor {
    std::string name;
    torch::Tensor tensor;
};

// Parameters optimised together. The trainer splits each group into a decayed and an
// undecayed part (decaysWeight() in optimizer.h) and sets the group's learning rate to
// schedule(step) × lrMultiplier, which is how layer-wise lr decay is expressed (one group per
// block with multiplier decay^(depth − i)). A frozen group gets requires_grad = false, hence
// no gradient and no optimizer state; its values stay as loaded.
struct ParamGroup {
    std::string name;                    // for messages and the checkpoint description
    std::vector<NamedTensor> parameters; // names as in the stage's modules (with prefix)
    double lrMultiplier = 1.0;
    bool frozen = false;

    // Every parameter of `module`, named "<prefix><name>".
    static ParamGroup fromModule(std::string name, const std::string& prefix, const torch::nn::Module& module,
                                 double lrMultiplier = 1.0, bool frozen = false);
};

// What the trainer tells a stage for one forward pass.
struct StepContext {
    c10::Device device{c10::kCPU};
    int microStep = 0;         // 0 .. accumulate−1 within the optimizer step
    int accumulate = 1;        // micro-batches per optimizer step
    bool mixedPrecision = false; // bf16 autocast is active around step()
};

// The result of one forward pass on one micro-batch.
struct LossTerms {
    // Named scalar loss terms; "loss" is the total that is backpropagated (the trainer divides
    // it by the accumulation count). The others (e.g. "dino", "ibot", "koleo") are reported.
    std::map<std::string, torch::Tensor> terms;
    // Scalar health metrics (e.g. "embedding_std", "teacher_entropy"), reported and checked
    // against HealthGuards; no gradient needed.
    std::map<std::string, double> health;
    int64_t samples = 0;  // samples in this micro-batch, for the throughput figures
};

// A bound on a health metric: `patience` consecutive optimizer steps below `floor` or above
// `ceiling` count as a collapse (e.g. embedding spread falling to zero).
struct HealthGuard {
    std::string metric;
    std::optional<double> floor;
    std::optional<double> ceiling;
    int patience = 10;
    bool stopRun = false;  // stop (with a checkpoint) instead of only flagging it
};

class Stage {
public:
    virtual ~Stage() = default;

    virtual std::string name() const = 0;
    // The stage's configuration, written into checkpoints beside the trainer's parameters.
    virtual nlohmann::json config() const { return nlohmann::json::object(); }
    // Where the data came from (catalog path, selection, counts), written into checkpoints.
    virtual nlohmann::json provenance() const { return nlohmann::json::object(); }

    // Every module the stage runs, including ones it updates itself (an EMA teacher).
    virtual std::vector<NamedModule> modules() = 0;
    // The optimised and frozen parameters, asked for after the modules are on the device.
    // Each parameter at most once; a module parameter in no group must not require a gradient.
    virtual std::vector<ParamGroup> parameterGroups() = 0;
    // Health bounds the stage knows to be meaningful; TrainParams may add more.
    virtual std::vector<HealthGuard> healthGuards() const { return {}; }

    // Forward pass on the stage's next micro-batch (drawn from its own sampler, moved to
    // ctx.device). `globalStep` is the index of the optimizer step being made (0-based), for
    // schedules inside the stage (teacher temperature, momentum).
    virtual LossTerms step(int64_t globalStep, const StepContext& ctx) = 0;
    // After each optimizer step: EMA teacher update, centering update...
    virtual void afterOptimizerStep(int64_t /*globalStep*/) {}

    // State beyond the modules' parameters and buffers (a DINO center), checkpointed as
    // "extra.<name>" and handed back on resume.
    virtual std::map<std::string, torch::Tensor> extraState() { return {}; }
    virtual void loadExtraState(const std::map<std::string, torch::Tensor>& /*state*/) {}

    // The data order: sampler position and the sampler's RNG, so a resumed run sees the same
    // batches a straight run would have seen. loadDataState gets what dataState returned.
    virtual nlohmann::json dataState() const = 0;
    virtual void loadDataState(const nlohmann::json& state) = 0;
};

} // namespace astroclip::train
