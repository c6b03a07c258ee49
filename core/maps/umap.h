#pragma once
// UMAP (McInnes, Healy & Melville 2018) of embeddings into 2-D or 3-D, following umap-learn
// 0.5.3 step by step so its maps and ours can be compared on the same data:
//   1. k-NN graph (FAISS exact flat search up to kExactKnnLimit points; above, random-
//      projection trees + NN-descent as umap-learn's pynndescent, see knn_descent.h),
//   2. per point ρ (distance to the nearest neighbour) and σ (binary search so the fuzzy
//      memberships sum to log2 k), memberships exp(-(d - ρ)/σ), fuzzy union P + Pᵀ - P∘Pᵀ,
//      edges weaker than max/nEpochs dropped,
//   3. a, b of the low-dimensional curve 1/(1 + a d^2b) fitted to the minDist/spread curve,
//   4. spectral initialisation (smallest non-trivial eigenvectors of the normalised graph
//      Laplacian, Spectra's Lanczos solver), PCA or uniform random; scaled to [0, 10].
//      A disconnected graph (well-separated clusters: common for embeddings) or a solver that
//      does not converge falls back to PCA initialisation with a warning; umap-learn 0.5.3
//      instead places each component's own spectral layout around a layout of the component
//      centroids. The maps' trustworthiness is the same (tst_umap_quality, the benchmark),
//   5. SGD over edges sampled in proportion to their weight, negativeSampleRate negative
//      samples per positive one, gradients clipped to ±4, learning rate decaying linearly.
//
// Deterministic: the same input, parameters, seed and thread count give the same bytes; and in
// practice any thread count does (tested for 1 and 2): the NN-descent graph and the SGD do not
// depend on it, and the exact graph only through BLAS rounding in FAISS's candidate search
// (distances are then recomputed in double). The SGD runs epoch by epoch; in an epoch each
// point is moved by one thread only, along its own edges, against the other points' positions
// at the start of the epoch (so no thread reads what another writes), and its negative samples
// come from a counter-based random stream keyed by (seed, point, epoch), not by thread.
// umap-learn's parallel SGD is Hogwild (racy) and so not reproducible; its sequential SGD
// moves both ends of an edge at once, which this does by pulling a point twice for each
// sampled edge (the edge j→k and its mirror k→j carry the same weight in the symmetric graph,
// so both are due in the same epochs).
//
// Qt-free and LibTorch-free.
#include "core/common/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::maps {

enum class UmapInit { Spectral, Pca, Random };
enum class UmapMetric { Euclidean, Cosine };
// How the k-NN graph is found: Auto = Exact up to kExactKnnLimit points, Approximate above.
enum class UmapKnn { Auto, Exact, Approximate };

// Defaults are umap-learn 0.5.3's.
struct UmapParams {
    int nNeighbors = 15;            // size of the local neighbourhood (k, the point itself included)
    int nComponents = 2;            // 2 or 3
    float minDist = 0.1f;           // how tightly points may pack in the map
    float spread = 1.0f;            // scale of the map's clusters
    int nEpochs = 0;                // 0: 500 for n ≤ 10,000 points, else 200 (umap-learn)
    float learningRate = 1.0f;      // initial SGD step, decays linearly to 0
    int negativeSampleRate = 5;     // negative samples per positive edge sample
    float repulsionStrength = 1.0f; // γ, weight of the negative samples
    UmapInit init = UmapInit::Spectral;
    UmapMetric metric = UmapMetric::Euclidean;
    UmapKnn knn = UmapKnn::Auto;
    uint64_t seed = 42;
    int threads = 0;                // 0: all cores
};

// What a fit did, for logs and reports.
struct UmapInfo {
    std::string knnMethod;      // "exact (FAISS flat)" or "approximate (random-projection trees + NN-descent)"
    std::string initUsed;       // "spectral", "pca" or "random" (spectral falls back to pca)
    int nEpochs = 0;
    double a = 0, b = 0;
    int64_t edges = 0;          // directed edges of the symmetric graph after pruning
    int64_t graphComponents = 0;
};

// Up to this many points the k-NN graph is exact (FAISS flat search: BLAS products, n² d work).
// Measured on clustered 512-d vectors, 2 loaded cores: at 10k points exact and NN-descent
// both take 1.6 s (trustworthiness of the maps equal); exact grows as n² (52 s at 50k),
// NN-descent about as n log n. (umap-learn switches at 4,096.)
constexpr int64_t kExactKnnLimit = 10000;

// a and b of 1/(1 + a x^2b) fitted by least squares to 1 for x < minDist and
// exp(-(x - minDist)/spread) beyond, on 300 points of [0, 3·spread] (umap-learn's find_ab_params).
struct CurveParams {
    double a = 0, b = 0;
};
CurveParams findAbParams(double spread, double minDist);

class Umap {
public:
    // x: n rows of d float32 values, row-major. Returns the map, n rows of nComponents floats.
    // Reports phases "umap: neighbours", "umap: graph", "umap: init" and "umap: optimise"
    // (done/total = epochs); a false return from progress throws Cancelled.
    // Throws UsageError for n ≤ nNeighbors, NaN/Inf values, nComponents not 2 or 3, and other
    // parameters out of range.
    static std::vector<float> fit(const float* x, int64_t n, int64_t d, const UmapParams& params,
                                  const ProgressFn& progress = {}, UmapInfo* info = nullptr);
};

} // namespace astroclip::maps
