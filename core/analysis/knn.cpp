#include "core/analysis/knn.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace astroclip::analysis {

namespace {

std::string shapeText(const at::Tensor& t) { return c10::str(t.sizes()); }

void checkInputs(const at::Tensor& reference, const std::vector<double>& targets, const at::Tensor& queries,
                 const KnnOptions& options) {
    if (reference.dim() != 2 || queries.dim() != 2)
        throw UsageError("k-NN regression needs reference [N, D] and queries [M, D], got " + shapeText(reference) +
                         " and " + shapeText(queries));
    if (reference.size(1) != queries.size(1))
        throw UsageError("k-NN reference vectors have " + std::to_string(reference.size(1)) +
                         " dimensions but the queries have " + std::to_string(queries.size(1)) +
                         ": embed both with the same model");
    if (int64_t(targets.size()) != reference.size(0))
        throw UsageError("k-NN regression got " + std::to_string(targets.size()) + " targets for " +
                         std::to_string(reference.size(0)) + " reference vectors");
    if (options.k < 1)
        throw UsageError("k-NN regression needs k ≥ 1, got " + std::to_string(options.k));
    if (reference.size(0) < options.k)
        throw UsageError("k-NN regression with k = " + std::to_string(options.k) + " needs at least that many "
                         "reference vectors, got " + std::to_string(reference.size(0)));
    if (options.queryBlock < 1)
        throw UsageError("k-NN query block must hold at least one query, got " + std::to_string(options.queryBlock));
    for (size_t i = 0; i < targets.size(); ++i)
        if (!std::isfinite(targets[i]))
            throw UsageError("k-NN target " + std::to_string(i) + " is not a finite number (" +
                             std::to_string(targets[i]) + "): drop objects without a value first");
}

} // namespace

namespace {

// The k nearest reference rows of every query and their weights (uniform or 1/distance, an
// exact match taking the whole weight), a block of queries at a time: fn(start, nearest [b, k]
// int64, weights [b, k] float64), on the reference's device.
template <typename Fn>
void forNeighbours(const at::Tensor& reference, const at::Tensor& queries, const KnnOptions& options, Fn&& fn) {
    torch::NoGradGuard noGrad;
    // Double precision throughout: neighbour order and 1/distance weights then agree with
    // scikit-learn (which works in float64) except for genuine ties.
    const auto device = reference.device();
    auto ref = reference.to(device, torch::kDouble);
    auto qry = queries.to(device, torch::kDouble);
    if (options.standardize) {
        // StandardScaler: population std; a constant dimension is left unscaled (std → 1).
        const auto mean = ref.mean(0, true);
        auto std = (ref - mean).pow(2).mean(0, true).sqrt();
        std = torch::where(std > 0, std, torch::ones_like(std));
        ref = (ref - mean) / std;
        qry = (qry - mean) / std;
    }
    const auto refNorm2 = ref.pow(2).sum(1);  // [N]
    const int64_t m = qry.size(0);
    for (int64_t start = 0; start < m; start += options.queryBlock) {
        const int64_t count = std::min(options.queryBlock, m - start);
        const auto q = qry.narrow(0, start, count);
        // |q − r|² = |q|² + |r|² − 2 q·r: one matrix product per block, enough to rank.
        const auto d2 = (q.pow(2).sum(1, true) + refNorm2.unsqueeze(0) - 2.0 * q.matmul(ref.t())).clamp_min(0.0);
        const auto nearest = std::get<1>(d2.topk(options.k, 1, /*largest=*/false, /*sorted=*/true));  // [b, k]
        torch::Tensor weights;
        if (options.distanceWeighted) {
            // The chosen neighbours' distances computed directly, so an identical vector is
            // exactly 0 (the expanded form leaves rounding residue) and takes the whole weight.
            const auto diff = ref.index({nearest}) - q.unsqueeze(1);  // [b, k, D]
            const auto dist = diff.pow(2).sum(2).sqrt();
            const auto exact = dist == 0;
            const auto rowHasExact = exact.any(1, true);
            weights = torch::where(rowHasExact, exact.to(torch::kDouble), 1.0 / dist);
        } else {
            weights = torch::ones(nearest.sizes(), torch::TensorOptions().dtype(torch::kDouble).device(device));
        }
        fn(start, nearest, weights);
    }
}

} // namespace

std::vector<double> knnRegress(const at::Tensor& reference, const std::vector<double>& targets,
                               const at::Tensor& queries, const KnnOptions& options) {
    checkInputs(reference, targets, queries, options);
    const auto y = torch::tensor(targets, torch::kDouble).to(reference.device());
    std::vector<double> predictions;
    predictions.reserve(size_t(queries.size(0)));
    forNeighbours(reference, queries, options, [&](int64_t, const at::Tensor& nearest, const at::Tensor& weights) {
        const auto prediction = (weights * y.index({nearest})).sum(1) / weights.sum(1);
        const auto cpu = prediction.to(torch::kCPU).contiguous();
        predictions.insert(predictions.end(), cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
    });
    return predictions;
}

std::vector<int64_t> knnClassify(const at::Tensor& reference, const std::vector<int64_t>& labels, int64_t numClasses,
                                 const at::Tensor& queries, const KnnOptions& options) {
    if (numClasses < 1) throw UsageError("k-NN classification needs at least one class");
    std::vector<double> asTargets(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] >= numClasses)
            throw UsageError("k-NN label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                             ", outside the " + std::to_string(numClasses) + " classes");
        asTargets[i] = double(labels[i]);
    }
    checkInputs(reference, asTargets, queries, options);
    const auto y = torch::tensor(labels, torch::kLong).to(reference.device());
    std::vector<int64_t> predicted;
    predicted.reserve(size_t(queries.size(0)));
    forNeighbours(reference, queries, options, [&](int64_t, const at::Tensor& nearest, const at::Tensor& weights) {
        // Votes per class; argmax keeps the lowest class on a tie, as scikit-learn's does.
        auto votes = torch::zeros({nearest.size(0), numClasses}, weights.options());
        votes.scatter_add_(1, y.index({nearest}), weights);
        const auto best = votes.argmax(1).to(torch::kCPU).contiguous();
        predicted.insert(predicted.end(), best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel());
    });
    return predicted;
}

double accuracyScore(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted) {
    if (truth.size() != predicted.size() || truth.empty())
        throw UsageError("accuracy needs one prediction per true label, got " + std::to_string(predicted.size()) +
                         " for " + std::to_string(truth.size()));
    size_t right = 0;
    for (size_t i = 0; i < truth.size(); ++i) right += truth[i] == predicted[i];
    return double(right) / double(truth.size());
}

double r2Score(const std::vector<double>& truth, const std::vector<double>& predicted) {
    if (truth.size() != predicted.size())
        throw UsageError("R² needs one prediction per true value, got " + std::to_string(predicted.size()) + " for " +
                         std::to_string(truth.size()));
    if (truth.size() < 2)
        throw UsageError("R² needs at least two values, got " + std::to_string(truth.size()));
    double mean = 0;
    for (double t : truth) mean += t;
    mean /= double(truth.size());
    double residual = 0, total = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
        residual += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
        total += (truth[i] - mean) * (truth[i] - mean);
    }
    // scikit-learn's convention for a constant truth: 1 for a perfect prediction, else 0.
    if (total == 0) return residual == 0 ? 1.0 : 0.0;
    return 1.0 - residual / total;
}

} // namespace astroclip::analysis
