#pragma once
// Trustworthiness of a map (Venna & Kaski 2001) with scikit-learn's semantics
// (sklearn.manifold.trustworthiness, Euclidean):
//   T(k) = 1 - 2 / (n k (2n - 3k - 1)) · Σ_i Σ_{j ∈ U_i} (r(i, j) - k)
// where U_i are the k nearest neighbours of i in the map that are not among its k nearest in
// the input space, and r(i, j) is j's rank (1 = nearest) among i's input-space neighbours.
// Distances are exact in double precision (scikit-learn's float64 path). Tied distances get
// the smallest rank (1 + the points strictly nearer); scikit-learn ranks ties in numpy
// argsort's arbitrary order, so on data with many ties (integer pixels) the two differ slightly.
//
// Memory-bounded and exact: no n × n matrix. Query rows go in blocks whose input-space
// distances to all points come from one float GEMM (BLAS); a distance whose float rounding
// bound straddles a neighbour's distance is recomputed exactly in double, so every rank is the
// exact one. Time is O(m n d) for m query points.
//
// Large n: with maxQueries = m < n, the sum runs over a seeded uniform sample of m distinct
// query points (ranks still against all n points) and n k in the normalisation becomes m k:
// an unbiased estimate of T whose standard error is the spread of the per-point terms / √m
// (≈ 0.001 for m = 5,000 on typical maps).
#include "core/common/progress.h"

#include <cstdint>

namespace astroclip::maps {

struct TrustworthinessOptions {
    int k = 15;               // neighbours (scikit-learn's n_neighbors; must be < n / 2)
    int64_t maxQueries = 0;   // 0: every point is a query (exact); else a sample of this many
    uint64_t seed = 0;        // for the sample
    int threads = 0;          // 0: all cores
};

// x: n × d input vectors, embedded: n × e map coordinates, both float32 row-major.
// Reports phase "trustworthiness" (queries done). Throws UsageError for k out of range,
// mismatched sizes, NaN/Inf.
double trustworthiness(const float* x, int64_t n, int64_t d, const float* embedded, int64_t e,
                       const TrustworthinessOptions& options = {}, const ProgressFn& progress = {});

} // namespace astroclip::maps
