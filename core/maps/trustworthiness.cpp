#include "core/maps/trustworthiness.h"

#include "core/common/error.h"
#include "core/maps/umap_graph.h"
#include "core/maps/umap_layout.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace astroclip::maps {

namespace {

constexpr int64_t kBlockFloats = int64_t(1) << 22;  // query block × n distances: 16 MiB

double exactSquared(const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
        const double t = double(a[j]) - double(b[j]);
        s += t * t;
    }
    return s;
}

// The k nearest map neighbours of point i, itself excluded (exact, double).
std::vector<int64_t> mapNeighbours(const float* embedded, int64_t n, int64_t e, int64_t i, int k) {
    std::vector<std::pair<double, int64_t>> best;  // max-heap of the k nearest so far
    best.reserve(k + 1);
    for (int64_t l = 0; l < n; ++l) {
        if (l == i) continue;
        const double dist = exactSquared(embedded + i * e, embedded + l * e, e);
        if (int(best.size()) < k) {
            best.emplace_back(dist, l);
            std::push_heap(best.begin(), best.end());
        } else if (std::make_pair(dist, l) < best.front()) {
            std::pop_heap(best.begin(), best.end());
            best.back() = {dist, l};
            std::push_heap(best.begin(), best.end());
        }
    }
    std::vector<int64_t> out;
    for (const auto& b : best) out.push_back(b.second);
    return out;
}

} // namespace

double trustworthiness(const float* x, int64_t n, int64_t d, const float* embedded, int64_t e,
                       const TrustworthinessOptions& options, const ProgressFn& progress) {
    const int k = options.k;
    if (!x || !embedded || n < 1 || d < 1 || e < 1) throw UsageError("trustworthiness: empty input");
    if (k < 1 || 2 * int64_t(k) >= n)
        throw UsageError("trustworthiness: k must be at least 1 and below half the number of points (k = " +
                         std::to_string(k) + ", " + std::to_string(n) + " points)");
    if (options.maxQueries < 0) throw UsageError("trustworthiness: maxQueries cannot be negative");
    for (int64_t i = 0; i < n * d; ++i)
        if (!std::isfinite(x[i])) throw UsageError("trustworthiness: input row " + std::to_string(i / d) + " holds NaN or Inf");
    for (int64_t i = 0; i < n * e; ++i)
        if (!std::isfinite(embedded[i]))
            throw UsageError("trustworthiness: map row " + std::to_string(i / e) + " holds NaN or Inf");

    // The query points: all, or a seeded sample (partial Fisher–Yates), in increasing order.
    std::vector<int64_t> queries(n);
    std::iota(queries.begin(), queries.end(), 0);
    if (options.maxQueries > 0 && options.maxQueries < n) {
        detail::KeyedRandom rng(options.seed, 0x7125);
        for (int64_t i = 0; i < options.maxQueries; ++i)
            std::swap(queries[i], queries[i + int64_t(rng.uniform() * double(n - i))]);
        queries.resize(options.maxQueries);
        std::sort(queries.begin(), queries.end());
    }
    const int64_t m = int64_t(queries.size());

    const int threads = detail::resolveThreads(options.threads);
    std::vector<double> norm2(n);
    for (int64_t l = 0; l < n; ++l) {
        double s = 0;
        for (int64_t j = 0; j < d; ++j) s += double(x[l * d + j]) * x[l * d + j];
        norm2[l] = s;
    }
    // |float dot - exact dot| ≤ γ |x||y| with γ = (d + 2) u for any summation order; the
    // squared distance carries twice that (margin 1 % for the norms' own rounding).
    const double gamma = 2.0 * double(d + 2) * std::ldexp(1.0, -24) * 1.01;

    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(m, kBlockFloats / n));
    std::vector<float> queryRows(block * d), dots(block * n);
    int64_t penalty = 0;  // Σ (r - k) over the map neighbours ranked beyond k
    for (int64_t b0 = 0; b0 < m; b0 += block) {
        const int64_t rows = std::min(block, m - b0);
        for (int64_t r = 0; r < rows; ++r) std::copy_n(x + queries[b0 + r] * d, d, queryRows.data() + r * d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n), int(d), 1.0f, queryRows.data(), int(d), x,
                    int(d), 0.0f, dots.data(), int(n));
        int64_t blockPenalty = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : blockPenalty) num_threads(threads)
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = queries[b0 + r];
            const auto nearInMap = mapNeighbours(embedded, n, e, i, k);
            std::vector<double> thresholds;  // exact squared input distances to them, sorted
            for (int64_t j : nearInMap) thresholds.push_back(exactSquared(x + i * d, x + j * d, d));
            std::sort(thresholds.begin(), thresholds.end());
            // below[t] = number of points whose distance lies below thresholds[t..]: a point
            // below thresholds[t] is below every later one, so count at the first and sum up.
            std::vector<int64_t> firstAbove(k + 1, 0);
            const float* dotRow = dots.data() + r * n;
            const double normI = std::sqrt(norm2[i]);
            for (int64_t l = 0; l < n; ++l) {
                if (l == i) continue;
                const double approx = norm2[i] + norm2[l] - 2.0 * double(dotRow[l]);
                const double slack = gamma * normI * std::sqrt(norm2[l]);
                if (approx - slack >= thresholds.back()) continue;
                auto lo = std::upper_bound(thresholds.begin(), thresholds.end(), approx - slack);
                auto hi = std::upper_bound(thresholds.begin(), thresholds.end(), approx + slack);
                double dist = approx;
                if (lo != hi) dist = exactSquared(x + i * d, x + l * d, d);  // rounding could matter: decide exactly
                const auto first = std::upper_bound(thresholds.begin(), thresholds.end(), dist);
                ++firstAbove[first - thresholds.begin()];
            }
            int64_t below = 0;
            for (int t = 0; t < k; ++t) {
                below += firstAbove[t];
                const int64_t rank = below + 1;  // 1 + points strictly nearer than this neighbour
                if (rank > k) blockPenalty += rank - k;
            }
        }
        penalty += blockPenalty;
        report(progress, {"trustworthiness", b0 + rows, m, {}});
    }
    const double nk = double(m) * k;
    return 1.0 - double(penalty) * (2.0 / (nk * (2.0 * double(n) - 3.0 * k - 1.0)));
}

} // namespace astroclip::maps
