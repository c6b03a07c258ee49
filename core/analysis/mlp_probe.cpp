#include "core/analysis/mlp_probe.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

namespace astroclip::analysis {

namespace {

void checkOptions(const MlpProbeOptions& o) {
    for (const int64_t h : o.hidden)
        if (h < 1) throw UsageError("MLP hidden layer widths must be at least 1, got " + std::to_string(h));
    if (!(o.learningRate > 0)) throw UsageError("MLP learning rate must be positive");
    if (o.epochs < 1 || o.batchSize < 1 || o.minSteps < 0)
        throw UsageError("MLP epochs and batch size must be at least 1");
}

void checkData(const at::Tensor& x, size_t targets, const at::Tensor& queries) {
    if (x.dim() != 2 || queries.dim() != 2 || x.size(1) != queries.size(1))
        throw UsageError("MLP probe needs training [N, D] and query [M, D] vectors, got " + c10::str(x.sizes()) +
                         " and " + c10::str(queries.sizes()));
    if (int64_t(targets) != x.size(0))
        throw UsageError("MLP probe got " + std::to_string(targets) + " targets for " + std::to_string(x.size(0)) +
                         " vectors");
    if (x.size(0) < 2) throw UsageError("MLP probe needs at least 2 labelled objects, got " + std::to_string(x.size(0)));
    if (!torch::isfinite(x).all().item<bool>() || !torch::isfinite(queries).all().item<bool>())
        throw UsageError("MLP probe got a vector with a value that is not finite");
}

struct Standardizer {
    torch::Tensor mean, std;
    explicit Standardizer(const torch::Tensor& x) {
        mean = x.mean(0, true);
        std = (x - mean).pow(2).mean(0, true).sqrt();
        std = torch::where(std > 0, std, torch::ones_like(std));
    }
    torch::Tensor operator()(const torch::Tensor& x) const { return (x - mean) / std; }
};

torch::nn::Sequential buildMlp(int64_t in, int64_t out, const std::vector<int64_t>& hidden) {
    torch::nn::Sequential net;
    int64_t width = in;
    for (const int64_t h : hidden) {
        net->push_back(torch::nn::Linear(width, h));
        net->push_back(torch::nn::ReLU());
        width = h;
    }
    net->push_back(torch::nn::Linear(width, out));
    return net;
}

// Trains `net` on (x, target) with `loss(output, target rows)`; seeded init and order.
template <typename LossFn>
void trainMlp(torch::nn::Sequential& net, const torch::Tensor& x, const torch::Tensor& target,
              const MlpProbeOptions& o, LossFn&& loss) {
    torch::optim::Adam optimizer(net->parameters(),
                                 torch::optim::AdamOptions(o.learningRate).weight_decay(o.weightDecay));
    const int64_t n = x.size(0);
    const int64_t stepsPerEpoch = (n + o.batchSize - 1) / o.batchSize;
    const int64_t epochs = std::max(o.epochs, (o.minSteps + stepsPerEpoch - 1) / stepsPerEpoch);
    net->train();
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
        const auto order = torch::randperm(n, torch::kLong);
        for (int64_t start = 0; start < n; start += o.batchSize) {
            const auto rows = order.narrow(0, start, std::min(o.batchSize, n - start));
            optimizer.zero_grad();
            const auto l = loss(net->forward(x.index_select(0, rows)), target.index_select(0, rows));
            l.backward();
            optimizer.step();
        }
    }
    net->eval();
}

} // namespace

std::vector<double> mlpRegress(const at::Tensor& xIn, const std::vector<double>& y, const at::Tensor& queriesIn,
                               const MlpProbeOptions& options) {
    checkOptions(options);
    checkData(xIn, y.size(), queriesIn);
    for (size_t i = 0; i < y.size(); ++i)
        if (!std::isfinite(y[i])) throw UsageError("MLP probe target " + std::to_string(i) + " is not finite");
    torch::manual_seed(options.seed);
    const auto x = xIn.to(torch::kCPU, torch::kFloat32), queries = queriesIn.to(torch::kCPU, torch::kFloat32);
    const Standardizer scale(x);
    auto t = torch::tensor(y, torch::kDouble);
    const double yMean = t.mean().item<double>();
    double yStd = t.std(/*unbiased=*/false).item<double>();
    if (!(yStd > 0)) yStd = 1.0;
    const auto target = ((t - yMean) / yStd).to(torch::kFloat32).unsqueeze(1);
    auto net = buildMlp(x.size(1), 1, options.hidden);
    trainMlp(net, scale(x), target, options,
             [](const torch::Tensor& out, const torch::Tensor& rows) { return torch::mse_loss(out, rows); });
    torch::NoGradGuard noGrad;
    const auto predicted = (net->forward(scale(queries)).squeeze(1).to(torch::kDouble) * yStd + yMean).contiguous();
    return {predicted.data_ptr<double>(), predicted.data_ptr<double>() + predicted.numel()};
}

at::Tensor mlpClassify(const at::Tensor& xIn, const std::vector<int64_t>& labels, int64_t numClasses,
                       const at::Tensor& queriesIn, const MlpProbeOptions& options) {
    checkOptions(options);
    checkData(xIn, labels.size(), queriesIn);
    if (numClasses < 2) throw UsageError("classification needs at least 2 classes, got " + std::to_string(numClasses));
    for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= numClasses)
            throw UsageError("MLP probe label " + std::to_string(i) + " is outside the " + std::to_string(numClasses) +
                             " classes");
    torch::manual_seed(options.seed);
    const auto x = xIn.to(torch::kCPU, torch::kFloat32), queries = queriesIn.to(torch::kCPU, torch::kFloat32);
    const Standardizer scale(x);
    auto net = buildMlp(x.size(1), numClasses, options.hidden);
    trainMlp(net, scale(x), torch::tensor(labels, torch::kLong), options,
             [](const torch::Tensor& out, const torch::Tensor& rows) { return torch::cross_entropy_loss(out, rows); });
    torch::NoGradGuard noGrad;
    return torch::softmax(net->forward(scale(queries)), 1).to(torch::kDouble).contiguous();
}

} // namespace astroclip::analysis
