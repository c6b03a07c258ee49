#include "core/discovery/fewshot.h"

#include "core/common/error.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_set>

namespace astroclip::discovery {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a fixed, portable generator, so a seeded draw picks
// the same objects with any compiler and standard library (std::shuffle and the std
// distributions are implementation-defined).
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) without modulo bias (rejects the incomplete top block).
    uint64_t below(uint64_t n) {
        assert(n > 0);
        const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
        uint64_t v;
        do v = next();
        while (v >= limit);
        return v % n;
    }

private:
    uint64_t state_;
};

// The first `count` entries of `pool` become a uniform random sample (partial Fisher–Yates).
void sampleFront(std::vector<size_t>& pool, size_t count, SplitMix64& rng) {
    assert(count <= pool.size());
    for (size_t i = 0; i < count; ++i) std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
}

// Trains on candidate rows with their labels (rows distinct, both classes present).
FewShotHead trainOnRows(const CandidateSet& c, const std::vector<size_t>& rows, const std::vector<uint8_t>& positive,
                        const LogisticParams& params) {
    const size_t d = size_t(c.dim());
    std::vector<double> x(rows.size() * d);
    for (size_t r = 0; r < rows.size(); ++r) std::copy_n(c.standardised(rows[r]), d, x.data() + r * d);
    FewShotHead head;
    head.fit = fitLogistic(x.data(), int64_t(rows.size()), int64_t(d), positive, params);
    head.mean = c.mean();
    head.scale = c.scale();
    for (const uint8_t p : positive) (p ? head.positives : head.negatives) += 1;
    return head;
}

} // namespace

CandidateSet::CandidateSet(std::vector<int64_t> ids, const std::vector<float>& vectors, int dim)
    : ids_(std::move(ids)), dim_(dim) {
    const size_t n = ids_.size();
    if (dim < 1) throw UsageError("few-shot candidates need vectors of at least one dimension (got " + std::to_string(dim) + ")");
    if (vectors.size() != n * size_t(dim))
        throw UsageError("few-shot candidates: " + std::to_string(vectors.size()) + " values do not make " +
                         std::to_string(n) + " vectors of dimension " + std::to_string(dim));
    if (n < 2) throw UsageError("few-shot discovery needs at least 2 objects with vectors (got " + std::to_string(n) + ")");
    rows_.reserve(n);
    for (size_t i = 0; i < n; ++i)
        if (!rows_.emplace(ids_[i], i).second)
            throw UsageError("few-shot candidates: object " + std::to_string(ids_[i]) + " has two vectors");

    const size_t d = size_t(dim);
    unit_.resize(n * d);
    for (size_t i = 0; i < n; ++i) {
        const float* v = vectors.data() + i * d;
        double norm2 = 0;
        for (size_t j = 0; j < d; ++j) {
            if (!std::isfinite(v[j]))
                throw UsageError("few-shot candidates: the vector of object " + std::to_string(ids_[i]) +
                                 " has a value that is not finite");
            norm2 += double(v[j]) * double(v[j]);
        }
        const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
        for (size_t j = 0; j < d; ++j) unit_[i * d + j] = double(v[j]) * inv;
    }
    // Two passes (mean, then squared deviations) keep the variance accurate.
    mean_.assign(d, 0.0);
    scale_.assign(d, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) mean_[j] += unit_[i * d + j];
    for (auto& m : mean_) m /= double(n);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) {
            const double dev = unit_[i * d + j] - mean_[j];
            scale_[j] += dev * dev;
        }
    for (auto& s : scale_) {
        s = std::sqrt(s / double(n));
        // As StandardScaler: a dimension (numerically) without spread is only centred.
        if (!(s > 10 * std::numeric_limits<double>::epsilon())) s = 1.0;
    }
    standard_.resize(n * d);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) standard_[i * d + j] = (unit_[i * d + j] - mean_[j]) / scale_[j];
}

std::optional<size_t> CandidateSet::rowOf(int64_t id) const {
    const auto it = rows_.find(id);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
}

double FewShotHead::probability(const std::vector<float>& embedding) const {
    const size_t d = mean.size();
    if (embedding.size() != d)
        throw UsageError("the few-shot head scores " + std::to_string(d) + "-dimensional embeddings; got one of " +
                         std::to_string(embedding.size()) + " dimensions");
    double norm2 = 0;
    for (const float v : embedding) norm2 += double(v) * double(v);
    const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
    std::vector<double> z(d);
    for (size_t j = 0; j < d; ++j) z[j] = (double(embedding[j]) * inv - mean[j]) / scale[j];
    return fit.probability(z.data());
}

FewShotHead trainHead(const CandidateSet& candidates, const std::vector<LabelledObject>& labels,
                      const LogisticParams& params) {
    std::vector<size_t> rows;
    std::vector<uint8_t> positive;
    std::unordered_set<int64_t> seen;
    for (const auto& l : labels) {
        if (!seen.insert(l.id).second)
            throw UsageError("object " + std::to_string(l.id) + " is labelled twice for the few-shot head");
        const auto row = candidates.rowOf(l.id);
        if (!row)
            throw UsageError("labelled object " + std::to_string(l.id) +
                             " has no vector in these embeddings (embed it first, or leave it out)");
        rows.push_back(*row);
        positive.push_back(l.positive ? 1 : 0);
    }
    const auto positives = std::count(positive.begin(), positive.end(), uint8_t(1));
    if (positives == 0 || positives == int64_t(positive.size()))
        throw UsageError("the few-shot head needs at least one positive and one negative label (got " +
                         std::to_string(positives) + " positive, " + std::to_string(positive.size() - positives) +
                         " negative)");
    return trainOnRows(candidates, rows, positive, params);
}

std::vector<ScoredObject> rank(const CandidateSet& candidates, const FewShotHead& head,
                               const std::vector<LabelledObject>& labels) {
    if (head.fit.coef.size() != size_t(candidates.dim()))
        throw UsageError("the few-shot head was trained on " + std::to_string(head.fit.coef.size()) +
                         "-dimensional vectors; these candidates have " + std::to_string(candidates.dim()));
    std::unordered_set<int64_t> labelled;
    for (const auto& l : labels) labelled.insert(l.id);
    // Sorted by the decision value x·w + b, not the probability: far from the boundary many
    // probabilities round to exactly 0 or 1, while their decision values still order them.
    struct Scored {
        double decision;
        int64_t id;
    };
    std::vector<Scored> scored;
    scored.reserve(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i)
        if (!labelled.count(candidates.ids()[i]))
            scored.push_back({head.fit.decision(candidates.standardised(i)), candidates.ids()[i]});
    std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
        return a.decision != b.decision ? a.decision > b.decision : a.id < b.id;
    });
    std::vector<ScoredObject> out;
    out.reserve(scored.size());
    for (const auto& s : scored) out.push_back({s.id, 1.0 / (1.0 + std::exp(-s.decision))});
    return out;
}

std::vector<Suggestion> suggest(const CandidateSet& candidates, const std::vector<ScoredObject>& ranked, size_t n,
                                size_t poolFactor) {
    if (n == 0 || ranked.empty()) return {};
    // The pool: most uncertain first, ties by id.
    std::vector<ScoredObject> pool(ranked);
    std::sort(pool.begin(), pool.end(), [](const ScoredObject& a, const ScoredObject& b) {
        const double ua = std::abs(a.probability - 0.5), ub = std::abs(b.probability - 0.5);
        return ua != ub ? ua < ub : a.id < b.id;
    });
    pool.resize(std::min(pool.size(), std::max<size_t>(1, poolFactor) * n));
    std::vector<size_t> rows;
    for (const auto& p : pool) {
        const auto row = candidates.rowOf(p.id);
        if (!row) throw UsageError("suggest: ranked object " + std::to_string(p.id) + " is not a candidate");
        rows.push_back(*row);
    }
    const size_t d = size_t(candidates.dim());
    const auto cosineDistance = [&](size_t a, size_t b) {
        const double* u = candidates.unit(rows[a]);
        const double* v = candidates.unit(rows[b]);
        double dot = 0;
        for (size_t j = 0; j < d; ++j) dot += u[j] * v[j];
        return 1.0 - dot;
    };
    std::vector<double> nearest(pool.size(), std::numeric_limits<double>::infinity());
    std::vector<uint8_t> taken(pool.size(), 0);
    std::vector<Suggestion> out;
    size_t pick = 0;  // the most uncertain
    double pickDistance = 0;
    while (true) {
        taken[pick] = 1;
        out.push_back({pool[pick].id, pool[pick].probability, pickDistance});
        if (out.size() == std::min(n, pool.size())) break;
        // Farthest point: strict '>' in pool order breaks ties towards the more uncertain.
        double best = -1;
        size_t next = pool.size();
        for (size_t i = 0; i < pool.size(); ++i) {
            if (taken[i]) continue;
            nearest[i] = std::min(nearest[i], cosineDistance(i, pick));
            if (nearest[i] > best) {
                best = nearest[i];
                next = i;
            }
        }
        assert(next < pool.size());
        pick = next;
        pickDistance = best;
    }
    return out;
}

double averagePrecision(const std::vector<double>& scores, const std::vector<uint8_t>& truth) {
    if (scores.size() != truth.size())
        throw UsageError("average precision: " + std::to_string(scores.size()) + " scores for " +
                         std::to_string(truth.size()) + " truth values");
    if (scores.empty()) throw UsageError("average precision of nothing: no scores given");
    for (const double s : scores)
        if (std::isnan(s)) throw UsageError("average precision: a score is NaN");
    const auto positives = std::count_if(truth.begin(), truth.end(), [](uint8_t t) { return t != 0; });
    if (positives == 0) throw UsageError("average precision is undefined without a positive");
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    double ap = 0, truePositives = 0, seen = 0, lastRecall = 0;
    for (size_t i = 0; i < order.size();) {
        // One threshold per distinct score: its ties enter together.
        size_t j = i;
        for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) truePositives += truth[order[j]] ? 1 : 0;
        seen += double(j - i);
        const double recall = truePositives / double(positives);
        ap += (recall - lastRecall) * (truePositives / seen);
        lastRecall = recall;
        i = j;
    }
    return ap;
}

FewShotEvaluation evaluateFewShot(const CandidateSet& candidates, const std::vector<uint8_t>& truth,
                                  const FewShotEvalParams& params, const ProgressFn& progress) {
    if (truth.size() != candidates.size())
        throw UsageError("few-shot evaluation: " + std::to_string(truth.size()) + " truth values for " +
                         std::to_string(candidates.size()) + " candidates");
    if (params.seeds < 1) throw UsageError("few-shot evaluation needs at least one seed");
    std::vector<size_t> positiveRows, negativeRows;
    for (size_t i = 0; i < truth.size(); ++i) (truth[i] ? positiveRows : negativeRows).push_back(i);
    FewShotEvaluation out;
    out.candidates = int64_t(candidates.size());
    out.positives = int64_t(positiveRows.size());
    for (const int k : params.ks)
        if (k < 1 || size_t(k) >= positiveRows.size() || size_t(k) >= negativeRows.size())
            throw UsageError("few-shot evaluation with k = " + std::to_string(k) + " needs k ≥ 1 and more than k " +
                             "positives and negatives (there are " + std::to_string(positiveRows.size()) +
                             " positives and " + std::to_string(negativeRows.size()) + " negatives)");

    const int64_t draws = int64_t(params.ks.size()) * params.seeds;
    int64_t done = 0;
    report(progress, {"few-shot", 0, draws, ""});
    for (const int k : params.ks) {
        FewShotEvalRow row;
        row.k = k;
        row.ranked = int64_t(candidates.size()) - 2 * k;
        row.prevalence = double(positiveRows.size() - size_t(k)) / double(row.ranked);
        for (int s = 0; s < params.seeds; ++s) {
            SplitMix64 rng(params.seed ^ (uint64_t(k) << 32) ^ uint64_t(s) * 0x2545F4914F6CDD1Dull);
            // Each draw starts from the rows in order, so it depends on (seed, k, s) alone.
            std::vector<size_t> pos(positiveRows), neg(negativeRows);
            sampleFront(pos, size_t(k), rng);
            sampleFront(neg, size_t(k), rng);
            std::vector<size_t> rows(pos.begin(), pos.begin() + k);
            rows.insert(rows.end(), neg.begin(), neg.begin() + k);
            std::vector<uint8_t> positive(size_t(2 * k), 0);
            std::fill(positive.begin(), positive.begin() + k, uint8_t(1));
            const FewShotHead head = trainOnRows(candidates, rows, positive, params.head);

            std::vector<uint8_t> labelled(candidates.size(), 0);
            for (const size_t r : rows) labelled[r] = 1;
            std::vector<double> scores;
            std::vector<uint8_t> rankedTruth;
            scores.reserve(size_t(row.ranked));
            rankedTruth.reserve(size_t(row.ranked));
            for (size_t i = 0; i < candidates.size(); ++i) {
                if (labelled[i]) continue;
                scores.push_back(head.fit.decision(candidates.standardised(i)));  // monotone in probability
                rankedTruth.push_back(truth[i]);
            }
            row.ap.push_back(averagePrecision(scores, rankedTruth));
            report(progress, {"few-shot", ++done, draws, "k = " + std::to_string(k) + ", draw " + std::to_string(s + 1)});
        }
        row.mean = std::accumulate(row.ap.begin(), row.ap.end(), 0.0) / double(row.ap.size());
        double ss = 0;
        for (const double a : row.ap) ss += (a - row.mean) * (a - row.mean);
        row.std = row.ap.size() > 1 ? std::sqrt(ss / double(row.ap.size() - 1)) : 0.0;
        out.rows.push_back(std::move(row));
    }
    return out;
}

} // namespace astroclip::discovery
