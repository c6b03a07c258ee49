#include "core/maps/knn_descent.h"

#include "core/maps/umap_layout.h"  // KeyedRandom

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>
#include <string>

namespace astroclip::maps::detail {

// Sixteen independent partial sums the compiler turns into SIMD lanes; target_clones picks
// AVX-512 or AVX2 at run time where the CPU has them, baseline SSE2 elsewhere.
__attribute__((target_clones("avx512f", "avx2", "default"))) float squaredL2(const float* a, const float* b, int64_t d) {
    float acc[16] = {};
    int64_t j = 0;
    for (; j + 16 <= d; j += 16)
        for (int t = 0; t < 16; ++t) {
            const float diff = a[j + t] - b[j + t];
            acc[t] += diff * diff;
        }
    float s = 0;
    for (; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    for (float v : acc) s += v;
    return s;
}

namespace {

__attribute__((target_clones("avx512f", "avx2", "default"))) float dot(const float* a, const float* b, int64_t d) {
    float acc[16] = {};
    int64_t j = 0;
    for (; j + 16 <= d; j += 16)
        for (int t = 0; t < 16; ++t) acc[t] += a[j + t] * b[j + t];
    float s = 0;
    for (; j < d; ++j) s += a[j] * b[j];
    for (float v : acc) s += v;
    return s;
}

// One point's current neighbours: a max-heap on distance of at most k entries.
struct Entry {
    float dist;
    int32_t index;
    bool fresh;  // entered in the last round: pairs through it have not been tried yet
};

class NeighbourLists {
public:
    NeighbourLists(int64_t n, int k) : k_(k), size_(n, 0), entries_(n * k, Entry{std::numeric_limits<float>::infinity(), -1, false}) {}
    Entry* row(int64_t i) { return entries_.data() + i * k_; }
    const Entry* row(int64_t i) const { return entries_.data() + i * k_; }
    int size(int64_t i) const { return size_[i]; }
    // Inserts (dist, j) into i's list if it beats the worst and is not there yet.
    bool push(int64_t i, float dist, int32_t j) {
        Entry* r = row(i);
        int& sz = size_[i];
        if (sz == k_ && !(dist < r[0].dist)) return false;
        for (int t = 0; t < sz; ++t)
            if (r[t].index == j) return false;
        auto less = [](const Entry& a, const Entry& b) { return a.dist < b.dist || (a.dist == b.dist && a.index < b.index); };
        if (sz == k_) {
            std::pop_heap(r, r + sz, less);
            --sz;
        }
        r[sz++] = {dist, j, true};
        std::push_heap(r, r + sz, less);
        return true;
    }
private:
    int k_;
    std::vector<int> size_;
    std::vector<Entry> entries_;
};

// Leaves (ranges of `order`) of one random-projection tree.
std::vector<std::pair<int64_t, int64_t>> projectionTree(const float* x, int64_t n, int64_t d, int leafSize, uint64_t seed,
                                                        int tree, std::vector<int32_t>& order) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    std::vector<std::pair<int64_t, int64_t>> leaves;
    struct Node {
        int64_t begin, end;
        uint64_t id;
    };
    std::vector<Node> stack{{0, n, 1}};
    std::vector<float> normal(d);
    while (!stack.empty()) {
        const Node node = stack.back();
        stack.pop_back();
        const int64_t size = node.end - node.begin;
        if (size <= leafSize) {
            leaves.emplace_back(node.begin, node.end);
            continue;
        }
        // The hyperplane halfway between two random points of the node, normal to their difference.
        KeyedRandom rng(seed, uint64_t(tree) + 1, node.id);
        const int64_t p = order[node.begin + rng.below(uint32_t(size))];
        int64_t q = order[node.begin + rng.below(uint32_t(size - 1))];
        if (q == p) q = order[node.end - 1];
        float offset = 0;
        for (int64_t j = 0; j < d; ++j) {
            normal[j] = x[p * d + j] - x[q * d + j];
            offset += normal[j] * 0.5f * (x[p * d + j] + x[q * d + j]);
        }
        auto mid = std::stable_partition(order.begin() + node.begin, order.begin() + node.end,
                                         [&](int32_t i) { return dot(x + int64_t(i) * d, normal.data(), d) < offset; });
        int64_t split = mid - order.begin();
        if (split == node.begin || split == node.end) split = node.begin + size / 2;  // degenerate: duplicates
        stack.push_back({node.begin, split, node.id * 2});
        stack.push_back({split, node.end, node.id * 2 + 1});
    }
    return leaves;
}

} // namespace

std::vector<int64_t> descentNeighbours(const float* x, int64_t n, int64_t d, int k, const DescentSettings& s,
                                       const ProgressFn& progress) {
    assert(n > k && n < std::numeric_limits<int32_t>::max());
    NeighbourLists lists(n, k);

    // Initial graph: all pairs within each leaf of each tree. Trees are built in parallel;
    // then tree by tree, leaves (disjoint) in parallel.
    std::vector<std::vector<int32_t>> orders(s.trees);
    std::vector<std::vector<std::pair<int64_t, int64_t>>> leaves(s.trees);
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < s.trees; ++t) leaves[t] = projectionTree(x, n, d, s.leafSize, s.seed, t, orders[t]);
    for (int t = 0; t < s.trees; ++t) {
        const auto& order = orders[t];
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t l = 0; l < int64_t(leaves[t].size()); ++l) {
            const auto [begin, end] = leaves[t][l];
            for (int64_t a = begin; a < end; ++a)
                for (int64_t b = a + 1; b < end; ++b) {
                    const float dist = squaredL2(x + int64_t(order[a]) * d, x + int64_t(order[b]) * d, d);
                    lists.push(order[a], dist, order[b]);
                    lists.push(order[b], dist, order[a]);
                }
        }
        report(progress, {"umap: neighbours", 0, s.maxRounds, "random-projection tree " + std::to_string(t + 1)});
    }

    // NN-descent rounds. Each point's joint neighbourhood: its list plus up to k reverse
    // neighbours (points that list it), each marked fresh if the edge entered last round.
    struct Link {
        int32_t index;
        bool fresh;
    };
    const int maxLinks = 2 * k;
    std::vector<Link> links(n * maxLinks);
    std::vector<int> linkCount(n);
    for (int round = 0; round < s.maxRounds; ++round) {
        std::fill(linkCount.begin(), linkCount.end(), 0);
        for (int64_t u = 0; u < n; ++u)
            for (int t = 0; t < lists.size(u); ++t) {
                const Entry& e = lists.row(u)[t];
                links[u * maxLinks + linkCount[u]++] = {e.index, e.fresh};
            }
        for (int64_t u = 0; u < n; ++u)  // reverse links, in increasing u: deterministic
            for (int t = 0; t < lists.size(u); ++t) {
                const Entry& e = lists.row(u)[t];
                if (linkCount[e.index] < maxLinks) links[int64_t(e.index) * maxLinks + linkCount[e.index]++] = {int32_t(u), e.fresh};
            }
        NeighbourLists next = lists;
        for (int64_t u = 0; u < n; ++u)
            for (int t = 0; t < next.size(u); ++t) next.row(u)[t].fresh = false;
        int64_t updates = 0;
#pragma omp parallel reduction(+ : updates)
        {
            std::vector<int64_t> seen(n, -1);  // the last u that tried each candidate
#pragma omp for schedule(dynamic, 256)
            for (int64_t u = 0; u < n; ++u) {
                seen[u] = u;
                for (int t = 0; t < lists.size(u); ++t) seen[lists.row(u)[t].index] = u;
                const Link* mine = links.data() + u * maxLinks;
                for (int a = 0; a < linkCount[u]; ++a) {
                    const int64_t v = mine[a].index;
                    const Link* theirs = links.data() + v * maxLinks;
                    for (int b = 0; b < linkCount[v]; ++b) {
                        if (!mine[a].fresh && !theirs[b].fresh) continue;  // tried in an earlier round
                        const int64_t w = theirs[b].index;
                        if (seen[w] == u) continue;
                        seen[w] = u;
                        if (next.push(u, squaredL2(x + u * d, x + w * d, d), int32_t(w))) ++updates;
                    }
                }
            }
        }
        lists = std::move(next);
        report(progress, {"umap: neighbours", round + 1, s.maxRounds, "NN-descent, " + std::to_string(updates) + " updates"});
        if (updates < s.stopFraction * double(n) * k) break;
    }

    std::vector<int64_t> out(n * k, -1);
    for (int64_t u = 0; u < n; ++u)
        for (int t = 0; t < lists.size(u); ++t) out[u * k + t] = lists.row(u)[t].index;
    return out;
}

} // namespace astroclip::maps::detail
