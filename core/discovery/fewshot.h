#pragma once
// Few-shot discovery, the Label tab's engine: a user labels a handful of objects as one class
// (positives) or anything else (negatives); a binary head trained on their embeddings scores
// every other object, ranks them best first, and suggests what to label next. Also the
// few-shot evaluation against a known truth (average precision with k labelled positives and k
// negatives over seeds), which `astroclip eval` reports as "tidal average precision".
//
// The head is L2-regularised logistic regression with balanced class weights (logistic.h) on
// vectors that are L2-normalised (embeddings are compared by direction) and then standardised
// per dimension with the mean and standard deviation of ALL candidate objects — not of the
// labelled few, whose statistics would be noise — so a handful of labels suffices.
// Qt-free and LibTorch-free.
#include "core/common/progress.h"
#include "core/discovery/logistic.h"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace astroclip::discovery {

// The candidates' vectors, prepared once for any number of heads.
class CandidateSet {
public:
    // n = ids.size() rows of `dim` float32 values (row-major), one per object. UsageError when
    // vectors.size() ≠ n · dim, dim < 1, an id repeats or a value is not finite, or there are
    // fewer than 2 candidates.
    CandidateSet(std::vector<int64_t> ids, const std::vector<float>& vectors, int dim);

    size_t size() const { return ids_.size(); }
    int dim() const { return dim_; }
    const std::vector<int64_t>& ids() const { return ids_; }
    std::optional<size_t> rowOf(int64_t id) const;
    // Row i L2-normalised (a zero vector stays zero): what cosine similarity compares.
    const double* unit(size_t i) const { return unit_.data() + i * size_t(dim_); }
    // Row i L2-normalised then standardised: what the head sees.
    const double* standardised(size_t i) const { return standard_.data() + i * size_t(dim_); }
    // The standardisation (population std, ddof 0, as scikit-learn's StandardScaler; a
    // dimension without spread keeps scale 1).
    const std::vector<double>& mean() const { return mean_; }
    const std::vector<double>& scale() const { return scale_; }

private:
    std::vector<int64_t> ids_;
    int dim_ = 0;
    std::unordered_map<int64_t, size_t> rows_;
    std::vector<double> unit_, standard_, mean_, scale_;
};

// One labelled object: positive (the class sought) or negative (any other label).
struct LabelledObject {
    int64_t id = 0;
    bool positive = false;
};

// A trained head with the standardisation it was trained under, so it can score a new vector
// (e.g. of a query file) on its own.
struct FewShotHead {
    LogisticFit fit;
    std::vector<double> mean, scale;
    int64_t positives = 0, negatives = 0;

    // The probability of the positive class for a raw embedding of the candidates' width.
    // UsageError when the width differs.
    double probability(const std::vector<float>& embedding) const;
};

struct ScoredObject {
    int64_t id = 0;
    double probability = 0;
};

// Trains the head on the labelled objects. UsageError when a labelled object is not a
// candidate (it has no vector), is labelled twice, or no positive or no negative is labelled.
FewShotHead trainHead(const CandidateSet& candidates, const std::vector<LabelledObject>& labels,
                      const LogisticParams& params = {});

// Every candidate that is not labelled, scored by the head, best first: ordered by the decision
// value (probabilities far from the boundary round to 0 or 1 and would tie), ties by id.
std::vector<ScoredObject> rank(const CandidateSet& candidates, const FewShotHead& head,
                               const std::vector<LabelledObject>& labels);

struct Suggestion {
    int64_t id = 0;
    double probability = 0;
    double distance = 0;  // cosine distance to the nearest earlier suggestion (the first: 0)
};

// What to label next: n unlabelled objects that are uncertain AND unlike each other.
// Rule: take the poolFactor · n candidates whose probability is nearest 0.5 (the head's
// boundary, where a label teaches it most), then pick greedily by farthest-point selection in
// embedding space — start with the most uncertain, then repeatedly the pool member whose
// cosine distance to its nearest pick is largest (ties: the more uncertain, then the lower
// id). Uncertainty alone suggests near-duplicates from one stretch of the boundary; the
// farthest-point step spreads the suggestions along it. Deterministic.
// `ranked` is rank()'s output for the same candidates.
std::vector<Suggestion> suggest(const CandidateSet& candidates, const std::vector<ScoredObject>& ranked, size_t n,
                                size_t poolFactor = 10);

// Average precision of scores against binary truth, with scikit-learn's semantics
// (average_precision_score): Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct score thresholds, tied scores
// forming one threshold. UsageError for sizes that differ, an empty input or no positive.
double averagePrecision(const std::vector<double>& scores, const std::vector<uint8_t>& truth);

struct FewShotEvalParams {
    std::vector<int> ks = {5, 10, 20};  // labelled positives (and as many negatives) per draw
    int seeds = 10;                     // draws per k
    uint64_t seed = 0;                  // draw s of k uses a generator seeded from (seed, k, s)
    LogisticParams head;
};

struct FewShotEvalRow {
    int k = 0;
    std::vector<double> ap;    // per draw
    double mean = 0, std = 0;  // over draws (std with ddof 1; 0 for one draw)
    double prevalence = 0;     // positive fraction of the ranked objects (a random ranking's AP)
    int64_t ranked = 0;        // objects ranked per draw: candidates − 2k
};

struct FewShotEvaluation {
    int64_t candidates = 0, positives = 0;
    std::vector<FewShotEvalRow> rows;  // in the order of params.ks
};

// For each k and draw: k positives and k negatives drawn at random (seeded, reproducible on any
// platform) from the candidates, the head trained on them, every other candidate ranked, AP
// against truth. truth[i] says whether candidates row i is positive. Reports phase
// "few-shot" (draws done of all); UsageError when a k is < 1 or leaves no positive or
// negative to rank, or seeds < 1; Cancelled when progress asks to stop.
FewShotEvaluation evaluateFewShot(const CandidateSet& candidates, const std::vector<uint8_t>& truth,
                                  const FewShotEvalParams& params = {}, const ProgressFn& progress = {});

} // namespace astroclip::discovery
