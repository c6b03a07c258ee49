#pragma once
// UMAP's high-dimensional side, internal to core/maps: the k-NN graph and the fuzzy
// simplicial set built from it (umap-learn 0.5.3's nearest_neighbors, smooth_knn_dist,
// compute_membership_strengths and fuzzy_simplicial_set).
#include "core/common/progress.h"
#include "core/maps/umap.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::maps::detail {

// k nearest neighbours of every point among all points, the point itself first (distance 0),
// rows sorted by distance. Distances are Euclidean, or cosine distances 1 - cos for Cosine.
struct KnnGraph {
    int64_t n = 0;
    int k = 0;
    std::vector<int64_t> indices;  // n × k
    std::vector<float> distances;  // n × k
    std::string method;
};
// Exact (FAISS flat) up to kExactKnnLimit points, else random-projection trees + NN-descent
// (knn_descent.h, seeded). Reports "umap: neighbours" per block of 4096 searched points or per
// NN-descent round, so a long search can be cancelled.
KnnGraph nearestNeighbours(const float* x, int64_t n, int64_t d, int k, UmapMetric metric, UmapKnn method, int threads,
                           uint64_t seed, const ProgressFn& progress = {});

// A symmetric sparse graph in CSR form, columns sorted within each row, no self-loops.
struct SparseGraph {
    int64_t n = 0;
    std::vector<int64_t> rowStart;  // n + 1
    std::vector<int32_t> column;
    std::vector<float> weight;
    int64_t edges() const { return int64_t(column.size()); }
};

// σ and ρ per point: ρ the distance to the nearest other point at a positive distance, σ by
// binary search (64 steps, tolerance 1e-5) so Σ_j exp(-(d_j - ρ)/σ) = log2 k over the
// neighbours after the first, floored at 1e-3 × the mean neighbour distance.
void smoothKnnDistances(const KnnGraph& knn, std::vector<float>& sigma, std::vector<float>& rho);

// Memberships exp(-(d - ρ)/σ) (1 within ρ, 0 to the point itself), then the fuzzy union
// w = p + q - p q of each edge with its mirror; zero weights are dropped.
SparseGraph fuzzySimplicialSet(const KnnGraph& knn);

// Drops edges with weight < max weight / epochs (umap-learn's simplicial_set_embedding).
void pruneWeakEdges(SparseGraph& graph, int epochs);

// Connected components (labels 0..count-1 in order of first appearance); returns the count.
int64_t connectedComponents(const SparseGraph& graph, std::vector<int32_t>* labels = nullptr);

// The OpenMP thread count for a params.threads value (0 = all cores).
int resolveThreads(int threads);

} // namespace astroclip::maps::detail
