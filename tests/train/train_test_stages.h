#pragma once
// Small real stages for the trainer's tests: they train genuine models on seeded synthetic
// data with their own samplers, so resume, accumulation and RNG handling are exercised the
// way a real stage exercises them.
#include "core/train/stage.h"

#include <torch/torch.h>

#include <random>

namespace astroclip::train::test {

// Shuffled pass over [0, size) with its own RNG; the state (epoch, position, RNG) is JSON.
class EpochSampler {
public:
    EpochSampler(int64_t size, uint64_t seed);
    // The next `count` sample indices, starting a new shuffled epoch when one runs out.
    std::vector<int64_t> next(int64_t count);
    nlohmann::json state() const;
    void load(const nlohmann::json& state);

private:
    void shuffle();
    int64_t size_;
    std::mt19937_64 rng_;
    std::vector<int64_t> order_;
    int64_t position_ = 0;
    int64_t epoch_ = 0;
};

// Regression y = f(x) of 8 features by an MLP 8 → 32 → 1 with dropout.
struct RegressionOptions {
    int64_t batchSize = 32;
    double dropout = 0.2;
    double lossScale = 1.0;     // multiplies the loss (large values make clipping bite)
    int64_t nanAtStep = -1;     // global step (0-based) whose loss is NaN
    bool collapseObjective = false; // minimise the hidden features' energy instead (they collapse)
    uint64_t dataSeed = 7;
    uint64_t initSeed = 11;
};

struct RegressionMlpImpl : torch::nn::Module {
    explicit RegressionMlpImpl(double dropout);
    torch::Tensor hidden(const torch::Tensor& x);  // [B, 32] after ReLU and dropout
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(RegressionMlp);

class RegressionStage : public Stage {
public:
    explicit RegressionStage(RegressionOptions options = {});
    std::string name() const override { return "test-regression"; }
    nlohmann::json config() const override;
    std::vector<NamedModule> modules() override { return {{"mlp.", model.ptr()}}; }
    std::vector<ParamGroup> parameterGroups() override;
    LossTerms step(int64_t globalStep, const StepContext& ctx) override;
    void afterOptimizerStep(int64_t globalStep) override;
    nlohmann::json dataState() const override { return sampler.state(); }
    void loadDataState(const nlohmann::json& state) override { sampler.load(state); }

    RegressionOptions options;
    RegressionMlp model{nullptr};
    torch::Tensor inputs, targets;  // the whole synthetic set [N, 8], [N, 1]
    EpochSampler sampler;
    std::vector<double> gradNormAfterStep; // global gradient norm seen by the optimizer
};

// A frozen backbone (Linear + LayerNorm) and a trainable head with its own lr multiplier.
struct TwoPartImpl : torch::nn::Module {
    TwoPartImpl();
    torch::nn::Sequential backbone{nullptr};
    torch::nn::Linear head{nullptr};
};
TORCH_MODULE(TwoPart);

class FrozenBackboneStage : public Stage {
public:
    explicit FrozenBackboneStage(double headLrMultiplier = 0.5, uint64_t seed = 5);
    std::string name() const override { return "test-frozen-backbone"; }
    std::vector<NamedModule> modules() override { return {{"", model.ptr()}}; }
    std::vector<ParamGroup> parameterGroups() override;
    LossTerms step(int64_t globalStep, const StepContext& ctx) override;
    std::map<std::string, torch::Tensor> extraState() override { return {{"seen", seen}}; }
    void loadExtraState(const std::map<std::string, torch::Tensor>& state) override;
    nlohmann::json dataState() const override { return sampler.state(); }
    void loadDataState(const nlohmann::json& state) override { sampler.load(state); }

    double headLrMultiplier;
    TwoPart model{nullptr};
    torch::Tensor inputs, targets;
    torch::Tensor seen;  // running count of samples, an extra state tensor
    EpochSampler sampler;
};

// Parameters that get exactly zero gradient, so AdamW's update reduces to its decoupled
// weight decay: decayed tensors shrink by (1 − lr·wd) per step, the rest stay as they are.
struct DecayProbeImpl : torch::nn::Module {
    DecayProbeImpl();
    torch::nn::Linear proj{nullptr};
    torch::nn::LayerNorm norm{nullptr};
    torch::Tensor gamma, clsToken;
};
TORCH_MODULE(DecayProbe);

class DecayProbeStage : public Stage {
public:
    explicit DecayProbeStage(double lrMultiplier) : lrMultiplier(lrMultiplier) {}
    std::string name() const override { return "test-decay-probe"; }
    std::vector<NamedModule> modules() override { return {{"", model.ptr()}}; }
    std::vector<ParamGroup> parameterGroups() override {
        return {ParamGroup::fromModule("probe", "", *model, lrMultiplier)};
    }
    LossTerms step(int64_t globalStep, const StepContext& ctx) override;
    nlohmann::json dataState() const override { return nlohmann::json::object(); }
    void loadDataState(const nlohmann::json&) override {}

    double lrMultiplier;
    DecayProbe model;
};

} // namespace astroclip::train::test
