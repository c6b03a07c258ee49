#include "core/maps/umap_layout.h"

#include <Eigen/SparseCore>
#include <Spectra/MatOp/SparseSymMatProd.h>
#include <Spectra/SymEigsSolver.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace astroclip::maps::detail {

double KeyedRandom::normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::optional<std::vector<double>> spectralLayout(const SparseGraph& graph, int dim, std::string* whyNot) {
    const int64_t n = graph.n;
    if (const int64_t parts = connectedComponents(graph); parts > 1) {
        if (whyNot) *whyNot = "the neighbour graph has " + std::to_string(parts) + " disconnected components";
        return std::nullopt;
    }
    // The smallest eigenvalues of L = I - D^-½ W D^-½ are the largest of M = D^-½ W D^-½
    // (eigenvalues in [-1, 1], the largest 1 for D^½·1); Lanczos on M for the top dim + 1.
    std::vector<double> invSqrtDegree(n, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        double degree = 0;
        for (int64_t e = graph.rowStart[i]; e < graph.rowStart[i + 1]; ++e) degree += graph.weight[e];
        invSqrtDegree[i] = degree > 0 ? 1.0 / std::sqrt(degree) : 0.0;
    }
    std::vector<Eigen::Triplet<double, int64_t>> entries;
    entries.reserve(graph.edges());
    for (int64_t i = 0; i < n; ++i)
        for (int64_t e = graph.rowStart[i]; e < graph.rowStart[i + 1]; ++e)
            entries.emplace_back(i, graph.column[e], invSqrtDegree[i] * graph.weight[e] * invSqrtDegree[graph.column[e]]);
    Eigen::SparseMatrix<double, Eigen::ColMajor, int64_t> m(n, n);
    m.setFromTriplets(entries.begin(), entries.end());

    using Op = Spectra::SparseSymMatProd<double, Eigen::Lower | Eigen::Upper, Eigen::ColMajor, int64_t>;
    Op op(m);
    const int nev = dim + 1;
    // umap-learn's Lanczos basis size (√n), tolerance and iteration cap, with the basis capped at
    // 64 vectors: n × √n doubles would be 8 GB at a million points.
    const int64_t ncv = std::min<int64_t>(n, std::max<int64_t>(2 * nev + 1, std::min<int64_t>(64, int64_t(std::sqrt(double(n))))));
    Spectra::SymEigsSolver<Op> solver(op, nev, ncv);
    solver.init();  // Spectra's fixed-seed start vector: deterministic
    solver.compute(Spectra::SortRule::LargestAlge, std::max<int64_t>(1000, 5 * n), 1e-4,
                   Spectra::SortRule::LargestAlge);
    if (solver.info() != Spectra::CompInfo::Successful) {
        if (whyNot) *whyNot = "the Lanczos eigen-solver did not converge (too small an eigengap)";
        return std::nullopt;
    }
    const Eigen::MatrixXd vectors = solver.eigenvectors();  // columns by decreasing eigenvalue of M
    std::vector<double> layout(n * dim);
    for (int64_t i = 0; i < n; ++i)
        for (int c = 0; c < dim; ++c) layout[i * dim + c] = vectors(i, c + 1);
    return layout;
}

std::vector<float> noisyScale(const std::vector<double>& layout, uint64_t seed) {
    double largest = 0;
    for (double v : layout) largest = std::max(largest, std::fabs(v));
    const double expansion = largest > 0 ? 10.0 / largest : 1.0;
    KeyedRandom rng(seed, 0x5ca1e);
    std::vector<float> out(layout.size());
    for (size_t i = 0; i < layout.size(); ++i)
        out[i] = float(layout[i] * expansion) + float(1e-4 * rng.normal());
    return out;
}

std::vector<float> randomLayout(int64_t n, int dim, uint64_t seed) {
    KeyedRandom rng(seed, 0x4a9d0);
    std::vector<float> out(n * dim);
    for (auto& v : out) v = float(-10.0 + 20.0 * rng.uniform());
    return out;
}

void rescaleColumns(std::vector<float>& layout, int64_t n, int dim) {
    for (int c = 0; c < dim; ++c) {
        float lo = layout[c], hi = layout[c];
        for (int64_t i = 0; i < n; ++i) {
            lo = std::min(lo, layout[i * dim + c]);
            hi = std::max(hi, layout[i * dim + c]);
        }
        const float range = hi - lo;
        for (int64_t i = 0; i < n; ++i)
            layout[i * dim + c] = range > 0 ? 10.0f * (layout[i * dim + c] - lo) / range : 0.0f;
    }
}

namespace {

inline float clip4(float v) { return std::clamp(v, -4.0f, 4.0f); }

} // namespace

void optimizeLayout(const SparseGraph& graph, std::vector<float>& layout, const SgdSettings& s,
                    const ProgressFn& progress) {
    const int64_t n = graph.n;
    const int dim = s.dim;
    assert(dim == 2 || dim == 3);
    assert(int64_t(layout.size()) == n * dim);
    const int64_t edges = graph.edges();
    if (edges == 0) return;
    // Edge e is due every maxWeight / w_e epochs (make_epochs_per_sample); its negative samples
    // every 1/negativeSampleRate of that.
    const float maxWeight = *std::max_element(graph.weight.begin(), graph.weight.end());
    std::vector<double> period(edges), nextDue(edges), negPeriod(edges), nextNeg(edges);
    for (int64_t e = 0; e < edges; ++e) {
        period[e] = double(maxWeight) / graph.weight[e];
        nextDue[e] = period[e];
        negPeriod[e] = period[e] / s.negativeSampleRate;
        nextNeg[e] = negPeriod[e];
    }
    const float a = float(s.a), b = float(s.b), gamma = s.repulsionStrength;
    std::vector<float> before(layout.size());
    float alpha = s.learningRate;
    for (int epoch = 0; epoch < s.epochs; ++epoch) {
        before = layout;  // every point moves against the others' positions at the epoch start
#pragma omp parallel for schedule(dynamic, 512)
        for (int64_t j = 0; j < n; ++j) {
            float cur[3] = {before[j * dim], before[j * dim + 1], dim == 3 ? before[j * dim + 2] : 0.0f};
            KeyedRandom rng(s.seed, uint64_t(j), uint64_t(epoch));
            for (int64_t e = graph.rowStart[j]; e < graph.rowStart[j + 1]; ++e) {
                if (nextDue[e] > epoch) continue;
                const float* other = before.data() + int64_t(graph.column[e]) * dim;
                // Attraction, twice: once for j→k and once for its mirror k→j, which in
                // umap-learn's sequential SGD also moves j (move_other).
                for (int pull = 0; pull < 2; ++pull) {
                    float d2 = 0;
                    for (int c = 0; c < dim; ++c) d2 += (cur[c] - other[c]) * (cur[c] - other[c]);
                    float coeff = 0;
                    if (d2 > 0) {
                        const float pb = std::exp(b * std::log(d2));  // d2^b
                        coeff = -2.0f * a * b * (pb / d2) / (a * pb + 1.0f);
                    }
                    for (int c = 0; c < dim; ++c) cur[c] += clip4(coeff * (cur[c] - other[c])) * alpha;
                }
                nextDue[e] += period[e];
                const int negatives = int((epoch - nextNeg[e]) / negPeriod[e]);
                for (int p = 0; p < negatives; ++p) {
                    const int64_t k = rng.below(uint32_t(n));
                    if (k == j) continue;
                    const float* far = before.data() + k * dim;
                    float d2 = 0;
                    for (int c = 0; c < dim; ++c) d2 += (cur[c] - far[c]) * (cur[c] - far[c]);
                    if (d2 > 0) {
                        const float pb = std::exp(b * std::log(d2));
                        const float coeff = 2.0f * gamma * b / ((0.001f + d2) * (a * pb + 1.0f));
                        for (int c = 0; c < dim; ++c) cur[c] += clip4(coeff * (cur[c] - far[c])) * alpha;
                    } else {
                        for (int c = 0; c < dim; ++c) cur[c] += 4.0f * alpha;  // umap-learn's rule for coincident points
                    }
                }
                nextNeg[e] += negatives * negPeriod[e];
            }
            for (int c = 0; c < dim; ++c) layout[j * dim + c] = cur[c];
        }
        alpha = s.learningRate * (1.0f - float(epoch) / float(s.epochs));
        report(progress, {"umap: optimise", epoch + 1, s.epochs, {}});
    }
}

} // namespace astroclip::maps::detail
