#include "train_test_stages.h"

#include <numeric>
#include <sstream>

namespace astroclip::train::test {

namespace {

constexpr int64_t kSamples = 512;
constexpr int64_t kFeatures = 8;

// Seeded data from a private generator, so building a stage leaves LibTorch's default
// generator alone.
torch::Tensor gaussian(std::vector<int64_t> shape, at::Generator& gen) {
    return at::normal(0.0, 1.0, shape, gen);
}

torch::Tensor indexTensor(const std::vector<int64_t>& indices) {
    return torch::tensor(indices, torch::kLong);
}

} // namespace

EpochSampler::EpochSampler(int64_t size, uint64_t seed) : size_(size), rng_(seed), order_(size) { shuffle(); }

void EpochSampler::shuffle() {
    std::iota(order_.begin(), order_.end(), 0);
    std::shuffle(order_.begin(), order_.end(), rng_);
    position_ = 0;
}

std::vector<int64_t> EpochSampler::next(int64_t count) {
    std::vector<int64_t> out;
    while (static_cast<int64_t>(out.size()) < count) {
        if (position_ == size_) {
            shuffle();
            ++epoch_;
        }
        out.push_back(order_[position_++]);
    }
    return out;
}

nlohmann::json EpochSampler::state() const {
    std::ostringstream rng;
    rng << rng_;
    return {{"epoch", epoch_}, {"position", position_}, {"order", order_}, {"rng", rng.str()}};
}

void EpochSampler::load(const nlohmann::json& state) {
    epoch_ = state.at("epoch").get<int64_t>();
    position_ = state.at("position").get<int64_t>();
    order_ = state.at("order").get<std::vector<int64_t>>();
    std::istringstream rng(state.at("rng").get<std::string>());
    rng >> rng_;
}

RegressionMlpImpl::RegressionMlpImpl(double dropout) {
    fc1 = register_module("fc1", torch::nn::Linear(kFeatures, 32));
    fc2 = register_module("fc2", torch::nn::Linear(32, 1));
    drop = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor RegressionMlpImpl::hidden(const torch::Tensor& x) { return drop(torch::relu(fc1(x))); }

torch::Tensor RegressionMlpImpl::forward(const torch::Tensor& x) { return fc2(hidden(x)); }

RegressionStage::RegressionStage(RegressionOptions opts) : options(opts), sampler(kSamples, opts.dataSeed + 1) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(options.dataSeed);
    inputs = gaussian({kSamples, kFeatures}, gen);
    // A smooth non-linear target with a little noise: learnable, not trivially linear.
    targets = (torch::sin(inputs.narrow(1, 0, 1) * 1.5) + 0.5 * inputs.narrow(1, 1, 1) * inputs.narrow(1, 2, 1) +
               0.3 * inputs.narrow(1, 3, 1) + 0.05 * gaussian({kSamples, 1}, gen));
    torch::manual_seed(options.initSeed);
    model = RegressionMlp(options.dropout);
}

nlohmann::json RegressionStage::config() const {
    return {{"batch_size", options.batchSize}, {"dropout", options.dropout}, {"data_seed", options.dataSeed}};
}

std::vector<ParamGroup> RegressionStage::parameterGroups() {
    return {ParamGroup::fromModule("mlp", "mlp.", *model)};
}

LossTerms RegressionStage::step(int64_t globalStep, const StepContext& ctx) {
    const auto rows = indexTensor(sampler.next(options.batchSize));
    const auto x = inputs.index_select(0, rows).to(ctx.device);
    const auto y = targets.index_select(0, rows).to(ctx.device);
    const auto h = model->hidden(x);
    LossTerms out;
    out.samples = options.batchSize;
    // Spread of the features across the batch: near zero once they have collapsed.
    out.health["embedding_std"] = h.detach().std(0).mean().item<double>();
    torch::Tensor loss;
    if (options.collapseObjective) {
        loss = h.pow(2).mean();
    } else {
        const auto mse = torch::mse_loss(model->fc2(h), y);
        out.terms["mse"] = mse;
        loss = mse * options.lossScale;
    }
    if (globalStep == options.nanAtStep) loss = loss * std::numeric_limits<double>::quiet_NaN();
    out.terms["loss"] = loss;
    return out;
}

void RegressionStage::afterOptimizerStep(int64_t) {
    double sum = 0;
    for (const auto& p : model->parameters())
        if (p.grad().defined()) sum += p.grad().pow(2).sum().item<double>();
    gradNormAfterStep.push_back(std::sqrt(sum));
}

TwoPartImpl::TwoPartImpl() {
    backbone = register_module("backbone", torch::nn::Sequential(torch::nn::Linear(4, 8),
                                                                 torch::nn::LayerNorm(torch::nn::LayerNormOptions({8}))));
    head = register_module("head", torch::nn::Linear(8, 1));
}

FrozenBackboneStage::FrozenBackboneStage(double multiplier, uint64_t seed)
    : headLrMultiplier(multiplier), seen(torch::zeros({1}, torch::kLong)), sampler(128, seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    inputs = gaussian({128, 4}, gen);
    targets = inputs.sum(1, true);
    torch::manual_seed(seed + 100);
    model = TwoPart();
    // A "trained" backbone whose LayerNorm affine is not the identity.
    torch::NoGradGuard noGrad;
    for (auto& p : model->backbone->parameters()) p.add_(0.1);
}

std::vector<ParamGroup> FrozenBackboneStage::parameterGroups() {
    return {ParamGroup::fromModule("backbone", "backbone.", *model->backbone, 1.0, /*frozen=*/true),
            ParamGroup::fromModule("head", "head.", *model->head, headLrMultiplier)};
}

LossTerms FrozenBackboneStage::step(int64_t, const StepContext& ctx) {
    const auto rows = indexTensor(sampler.next(16));
    const auto x = inputs.index_select(0, rows).to(ctx.device);
    const auto y = targets.index_select(0, rows).to(ctx.device);
    seen += 16;
    LossTerms out;
    out.samples = 16;
    out.terms["loss"] = torch::mse_loss(model->head(model->backbone->forward(x)), y);
    return out;
}

void FrozenBackboneStage::loadExtraState(const std::map<std::string, torch::Tensor>& state) {
    seen = state.at("seen").clone();
}

DecayProbeImpl::DecayProbeImpl() {
    proj = register_module("proj", torch::nn::Linear(4, 4));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4})));
    gamma = register_parameter("gamma", torch::zeros({4}));
    clsToken = register_parameter("cls_token", torch::zeros({1, 1, 4}));
    // Distinct, exactly representable values well away from zero.
    torch::NoGradGuard noGrad;
    double start = 1.0;
    for (auto& p : parameters()) {
        p.copy_(torch::arange(p.numel(), torch::kFloat).reshape(p.sizes()) * 0.125 + start);
        start += 1.0;
    }
}

LossTerms DecayProbeStage::step(int64_t, const StepContext&) {
    torch::Tensor total = torch::zeros({});
    for (const auto& p : model->parameters()) total = total + p.sum();
    LossTerms out;
    out.samples = 1;
    out.terms["loss"] = total * 0.0;  // zero gradient everywhere, but a gradient
    return out;
}

} // namespace astroclip::train::test
