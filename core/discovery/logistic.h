#pragma once
// Binary L2-regularised logistic regression with balanced class weights, solved by Newton's
// method: the few-shot head's solver. The objective is scikit-learn's LogisticRegression
// (penalty 'l2', class_weight 'balanced', intercept not penalised):
//
//     minimise  ½‖w‖² + C Σᵢ sᵢ log(1 + exp(−yᵢ (xᵢ·w + b))),   yᵢ ∈ {−1, +1},
//     sᵢ = n / (2 n_class(i))   (each class weighs half of the total).
//
// The objective is strictly convex in w and, with both classes present, in b; Newton's method
// with a backtracking line search reaches the minimum to machine precision in a handful of
// steps. Each step solves the (d+1)-square Newton system directly when there are at least as
// many labels as dimensions, and otherwise through the n × n system of the labelled rows
// (Woodbury identity + a Schur complement for the unpenalised intercept), so a step costs
// O(n d² + d³) or O(n² d + n³), whichever is smaller: few labels in many dimensions (the
// few-shot case: 40 labels, 512-d) cost a few milliseconds.
#include <cstdint>
#include <vector>

namespace astroclip::discovery {

struct LogisticParams {
    double C = 1.0;        // inverse regularisation strength, as scikit-learn's C (> 0)
    int maxIter = 100;     // Newton steps at most
    double tol = 1e-10;    // stop when max |gradient| ≤ tol · max(1, max |gradient at w = 0, b = 0|)
};

struct LogisticFit {
    std::vector<double> coef;  // w, one per dimension
    double intercept = 0;      // b
    int iterations = 0;        // Newton steps taken
    bool converged = false;    // the gradient test passed within maxIter
    double objective = 0;      // the minimised objective above

    double decision(const double* x) const;     // x·w + b
    double probability(const double* x) const;  // σ(x·w + b), the probability of the positive class
};

// Fits n rows of d values (row-major, finite) with labels positive[i] (1 = positive class).
// Throws UsageError for n or d < 1, C ≤ 0, a non-finite value, or labels of one class only.
LogisticFit fitLogistic(const double* x, int64_t n, int64_t d, const std::vector<uint8_t>& positive,
                        const LogisticParams& params = {});

} // namespace astroclip::discovery
