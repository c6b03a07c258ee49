#pragma once
// Approximate k-NN graph for large n, internal to core/maps: random-projection trees for a
// first guess, then NN-descent (Dong, Moses & Li 2011; what umap-learn uses through
// pynndescent) — "a neighbour of a neighbour is likely a neighbour".
//
// Why not FAISS HNSW here: Debian's FAISS is built for baseline x86-64, so its per-vector
// distances (HNSW, IVF) run ~10× slower than a vectorised kernel; and FAISS inserts HNSW nodes
// concurrently, so a reproducible graph needs a single-threaded build. Measured on 100k
// clustered 512-d vectors on 2 loaded cores: HNSW (M 16, efConstruction 40, efSearch 64)
// 170 s for the graph, more than umap-learn's whole fit.
//
// Deterministic for a seed and any thread count: trees are split by keyed random streams;
// leaves of one tree are disjoint, so their all-pairs updates run in parallel without races;
// each NN-descent round rebuilds every point's list from the previous round's lists only.
#include "core/common/progress.h"

#include <cstdint>
#include <vector>

namespace astroclip::maps::detail {

struct DescentSettings {
    int trees = 6;          // random-projection trees for the initial graph
    int leafSize = 48;      // points per leaf at most
    int maxRounds = 12;     // NN-descent rounds at most
    double stopFraction = 0.002;  // stop when fewer than this share of the n k entries change
    uint64_t seed = 0;
};

// k nearest neighbours of each of the n rows (squared Euclidean), self excluded, unsorted
// within a row: indices n × k (-1 where fewer were found).
// Reports "umap: neighbours" after each tree and each round (a false return cancels).
std::vector<int64_t> descentNeighbours(const float* x, int64_t n, int64_t d, int k, const DescentSettings& s,
                                       const ProgressFn& progress = {});

// Squared Euclidean distance of two float vectors, vectorised (runtime-selected AVX-512/AVX2).
float squaredL2(const float* a, const float* b, int64_t d);

} // namespace astroclip::maps::detail
