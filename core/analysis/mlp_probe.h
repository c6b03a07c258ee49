#pragma once
// The few-shot head of the AstroCLIP evaluation: a small MLP (ReLU between layers) trained on
// standardised embeddings with Adam, full-data mini-batches in a seeded order. Regression
// trains on standardised targets (MSE) and returns them in their own units; classification
// trains with cross-entropy and returns class probabilities. Deterministic for a seed and a
// thread count (it reseeds LibTorch's global generator with options.seed). AstroCLIP: hidden
// [64, 64] ([32] for redshift), Adam 1e-3, 10 epochs.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace astroclip::analysis {

struct MlpProbeOptions {
    std::vector<int64_t> hidden = {64, 64};
    double learningRate = 1e-3;
    double weightDecay = 0.0;
    int64_t epochs = 10;
    int64_t batchSize = 64;
    // Few labels make an epoch a handful of steps: at least this many optimizer steps are taken
    // (epochs are added) so ten labelled objects still train the head.
    int64_t minSteps = 200;
    uint64_t seed = 0;
};

// x [N, D] → predictions [M] for queries [M, D]; y [N] finite. UsageError for bad shapes,
// N < 2, non-finite values or bad options.
std::vector<double> mlpRegress(const at::Tensor& x, const std::vector<double>& y, const at::Tensor& queries,
                               const MlpProbeOptions& options = {});

// labels [N] in 0..numClasses−1 → class probabilities [M, numClasses] (float64, CPU) for the
// queries; the prediction is each row's argmax.
at::Tensor mlpClassify(const at::Tensor& x, const std::vector<int64_t>& labels, int64_t numClasses,
                       const at::Tensor& queries, const MlpProbeOptions& options = {});

} // namespace astroclip::analysis
