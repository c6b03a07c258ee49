#pragma once
// Exact k-nearest-neighbour regression and classification and the scores the evaluation reports, on LibTorch
// tensors (CPU or CUDA). AstroCLIP's zero-shot recipe: standardise each embedding dimension
// with the reference set's mean and std, then average the targets of the k nearest reference
// vectors by Euclidean distance, optionally weighted by 1/distance (scikit-learn's
// KNeighborsRegressor(weights="distance") semantics: an exact match takes the whole weight).
// Standardisation follows scikit-learn's StandardScaler (population std; a constant
// dimension is left unscaled). Arithmetic is float64 on the reference tensor's device.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace astroclip::analysis {

struct KnnOptions {
    int64_t k = 16;
    bool standardize = true;       // per-dimension z-score with the reference set's statistics
    bool distanceWeighted = false; // false: plain mean (scikit-learn weights="uniform")
    int64_t queryBlock = 4096;     // queries per distance block (memory ≈ 8 bytes × block × N)
};

// reference [N, D], targets [N] (no NaN), queries [M, D] → predictions [M] (double).
// UsageError when shapes disagree, k < 1, N < k, queryBlock < 1 or a target is not finite.
std::vector<double> knnRegress(const at::Tensor& reference, const std::vector<double>& targets,
                               const at::Tensor& queries, const KnnOptions& options = {});

// k-NN classification with the same neighbours: labels [N] in 0..numClasses−1 → the class
// with the most votes among the k nearest (each vote 1, or 1/distance when distanceWeighted;
// scikit-learn's KNeighborsClassifier, ties to the lowest class). UsageError as above and for
// a label outside the classes.
std::vector<int64_t> knnClassify(const at::Tensor& reference, const std::vector<int64_t>& labels, int64_t numClasses,
                                 const at::Tensor& queries, const KnnOptions& options = {});

// Fraction of predictions equal to the truth. UsageError for different lengths or none.
double accuracyScore(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted);

// Coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (scikit-learn's r2_score; for a
// constant truth, as there, 1 when every prediction is exact and 0 otherwise).
// UsageError for different lengths or fewer than two values.
double r2Score(const std::vector<double>& truth, const std::vector<double>& predicted);

} // namespace astroclip::analysis
