#include "core/maps/umap_graph.h"

#include "core/maps/knn_descent.h"

#include <faiss/IndexFlat.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

namespace astroclip::maps::detail {

namespace {

// FAISS takes its thread count from OpenMP's global setting; set it for one call and restore.
class OmpThreads {
public:
    explicit OmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
    ~OmpThreads() { omp_set_num_threads(saved_); }
    OmpThreads(const OmpThreads&) = delete;
    OmpThreads& operator=(const OmpThreads&) = delete;
private:
    int saved_;
};

constexpr int64_t kQueryBlock = 4096;

double exactDistance(const float* a, const float* b, int64_t d, UmapMetric metric) {
    if (metric == UmapMetric::Cosine) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += double(a[j]) * b[j];
        return std::max(0.0, 1.0 - dot);  // both rows are unit length here
    }
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
        const double t = double(a[j]) - b[j];
        s += t * t;
    }
    return std::sqrt(s);
}

void searchInBlocks(const faiss::Index& index, const float* data, int64_t n, int64_t d, int k, std::vector<float>& scores,
                    std::vector<int64_t>& indices, const ProgressFn& progress) {
    for (int64_t b = 0; b < n; b += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, n - b);
        index.search(rows, data + b * d, k, scores.data() + b * k, indices.data() + b * k);
        report(progress, {"umap: neighbours", b + rows, n, "searching"});
    }
}

} // namespace

int resolveThreads(int threads) {
    return threads > 0 ? threads : std::max(1, omp_get_num_procs());
}

KnnGraph nearestNeighbours(const float* x, int64_t n, int64_t d, int k, UmapMetric metric, UmapKnn method, int threads,
                           uint64_t seed, const ProgressFn& progress) {
    assert(n > k && k >= 2);
    // Cosine: unit rows, then inner product (exact) or L2 (NN-descent) order the same as 1 - cos.
    std::vector<float> unit;
    const float* data = x;
    if (metric == UmapMetric::Cosine) {
        unit.assign(x, x + n * d);
        for (int64_t i = 0; i < n; ++i) {
            float* row = unit.data() + i * d;
            double s = 0;
            for (int64_t j = 0; j < d; ++j) s += double(row[j]) * row[j];
            const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
            for (int64_t j = 0; j < d; ++j) row[j] = float(row[j] * inv);
        }
        data = unit.data();
    }

    const OmpThreads ompThreads(threads);
    KnnGraph g;
    g.n = n;
    g.k = k;
    g.indices.assign(n * k, -1);
    g.distances.assign(n * k, 0.0f);
    std::vector<float> scores(n * k);
    if (method == UmapKnn::Exact || (method == UmapKnn::Auto && n <= kExactKnnLimit)) {
        g.method = "exact (FAISS flat)";
        std::unique_ptr<faiss::IndexFlat> index;
        if (metric == UmapMetric::Cosine)
            index = std::make_unique<faiss::IndexFlatIP>(d);
        else
            index = std::make_unique<faiss::IndexFlatL2>(d);
        index->add(n, data);
        searchInBlocks(*index, data, n, d, k, scores, g.indices, progress);
    } else {
        g.method = "approximate (random-projection trees + NN-descent)";
        DescentSettings settings;
        settings.seed = seed;
        g.indices = descentNeighbours(data, n, d, k, settings, progress);
    }

    // FAISS's distances come from |x|² + |y|² - 2x·y in float, which loses the small distances
    // that σ and ρ hinge on, and NN-descent's are float sums; recompute each neighbour's distance
    // in double, put the point itself first (an approximate search may miss it, duplicates may
    // precede it) and sort.
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) {
        int64_t* idx = g.indices.data() + i * k;
        float* dist = g.distances.data() + i * k;
        std::vector<std::pair<double, int64_t>> row;
        row.reserve(k);
        row.emplace_back(0.0, i);
        for (int j = 0; j < k; ++j)
            if (idx[j] >= 0 && idx[j] != i)
                row.emplace_back(exactDistance(data + i * d, data + idx[j] * d, d, metric), idx[j]);
        std::sort(row.begin() + 1, row.end());
        for (int j = 0; j < k; ++j) {
            idx[j] = j < int(row.size()) ? row[j].second : -1;
            dist[j] = j < int(row.size()) ? float(row[j].first) : std::numeric_limits<float>::infinity();
        }
    }
    return g;
}

void smoothKnnDistances(const KnnGraph& knn, std::vector<float>& sigma, std::vector<float>& rho) {
    constexpr int kSteps = 64;
    constexpr double kTolerance = 1e-5;
    constexpr double kMinScale = 1e-3;
    const int64_t n = knn.n;
    const int k = knn.k;
    const double target = std::log2(double(k));
    double meanAll = 0;
    for (float v : knn.distances) meanAll += std::isfinite(v) ? v : 0.0;
    meanAll /= double(knn.distances.size());
    sigma.assign(n, 0.0f);
    rho.assign(n, 0.0f);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const float* dist = knn.distances.data() + i * k;
        // local_connectivity = 1: ρ is the first positive distance.
        float r = 0.0f;
        for (int j = 0; j < k; ++j)
            if (dist[j] > 0.0f && std::isfinite(dist[j])) {
                r = dist[j];
                break;
            }
        double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
        for (int step = 0; step < kSteps; ++step) {
            double psum = 0.0;
            for (int j = 1; j < k; ++j) {
                if (!std::isfinite(dist[j])) continue;
                const double t = double(dist[j]) - r;
                psum += t > 0 ? std::exp(-t / mid) : 1.0;
            }
            if (std::fabs(psum - target) < kTolerance) break;
            if (psum > target) {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
            }
        }
        double meanRow = 0;
        int finite = 0;
        for (int j = 0; j < k; ++j)
            if (std::isfinite(dist[j])) meanRow += dist[j], ++finite;
        meanRow /= std::max(1, finite);
        const double floor = kMinScale * (r > 0.0f ? meanRow : meanAll);
        sigma[i] = float(std::max(mid, floor));
        rho[i] = r;
    }
}

SparseGraph fuzzySimplicialSet(const KnnGraph& knn) {
    std::vector<float> sigma, rho;
    smoothKnnDistances(knn, sigma, rho);
    const int64_t n = knn.n;
    const int k = knn.k;
    // Directed memberships p(i→j); the point itself gets 0 and disappears with the zeros.
    std::vector<float> member(n * k, 0.0f);
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) {
            const int64_t nb = knn.indices[i * k + j];
            if (nb < 0 || nb == i) continue;
            const float t = knn.distances[i * k + j] - rho[i];
            member[i * k + j] = (t <= 0.0f || sigma[i] == 0.0f) ? 1.0f : float(std::exp(-double(t) / sigma[i]));
        }
    auto directed = [&](int64_t from, int64_t to) -> float {
        const int64_t* idx = knn.indices.data() + from * k;
        for (int j = 0; j < k; ++j)
            if (idx[j] == to) return member[from * k + j];
        return 0.0f;
    };
    // Each edge i→j with its mirror: w = p + q - p·q (the same float operations both ways, so
    // the graph is exactly symmetric); an edge without a k-NN mirror also gives j→i.
    struct Edge {
        int32_t row, col;
        float w;
    };
    std::vector<Edge> edges;
    edges.reserve(size_t(n) * k * 2);
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) {
            const int64_t nb = knn.indices[i * k + j];
            if (nb < 0 || nb == i) continue;
            const float p = member[i * k + j];
            const float q = directed(nb, i);
            const float w = p + q - p * q;
            if (w <= 0.0f) continue;
            edges.push_back({int32_t(i), int32_t(nb), w});
            bool mirrored = false;
            for (int m = 0; m < k; ++m) mirrored = mirrored || knn.indices[nb * k + m] == i;
            if (!mirrored) edges.push_back({int32_t(nb), int32_t(i), w});
        }
    std::sort(edges.begin(), edges.end(),
              [](const Edge& a, const Edge& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });
    SparseGraph g;
    g.n = n;
    g.rowStart.assign(n + 1, 0);
    g.column.reserve(edges.size());
    g.weight.reserve(edges.size());
    for (const auto& e : edges) {
        g.column.push_back(e.col);
        g.weight.push_back(e.w);
        ++g.rowStart[e.row + 1];
    }
    std::partial_sum(g.rowStart.begin(), g.rowStart.end(), g.rowStart.begin());
    return g;
}

void pruneWeakEdges(SparseGraph& graph, int epochs) {
    if (graph.weight.empty()) return;
    const float maxWeight = *std::max_element(graph.weight.begin(), graph.weight.end());
    const float threshold = maxWeight / float(epochs);
    SparseGraph kept;
    kept.n = graph.n;
    kept.rowStart.assign(graph.n + 1, 0);
    for (int64_t i = 0; i < graph.n; ++i) {
        for (int64_t e = graph.rowStart[i]; e < graph.rowStart[i + 1]; ++e)
            if (!(graph.weight[e] < threshold)) {
                kept.column.push_back(graph.column[e]);
                kept.weight.push_back(graph.weight[e]);
            }
        kept.rowStart[i + 1] = int64_t(kept.column.size());
    }
    graph = std::move(kept);
}

int64_t connectedComponents(const SparseGraph& graph, std::vector<int32_t>* labels) {
    std::vector<int32_t> label(graph.n, -1);
    std::vector<int64_t> stack;
    int32_t count = 0;
    for (int64_t s = 0; s < graph.n; ++s) {
        if (label[s] >= 0) continue;
        label[s] = count;
        stack.push_back(s);
        while (!stack.empty()) {
            const int64_t v = stack.back();
            stack.pop_back();
            for (int64_t e = graph.rowStart[v]; e < graph.rowStart[v + 1]; ++e)
                if (label[graph.column[e]] < 0) {
                    label[graph.column[e]] = count;
                    stack.push_back(graph.column[e]);
                }
        }
        ++count;
    }
    if (labels) *labels = std::move(label);
    return count;
}

} // namespace astroclip::maps::detail
