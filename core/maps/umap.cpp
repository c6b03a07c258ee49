#include "core/maps/umap.h"

#include "core/common/error.h"
#include "core/common/log.h"
#include "core/maps/pca.h"
#include "core/maps/umap_graph.h"
#include "core/maps/umap_layout.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <string>

namespace astroclip::maps {

namespace {

void checkParams(const float* x, int64_t n, int64_t d, const UmapParams& p) {
    auto fail = [](const std::string& m) { throw UsageError("UMAP: " + m); };
    if (p.nComponents != 2 && p.nComponents != 3)
        fail("the map must have 2 or 3 dimensions (got " + std::to_string(p.nComponents) + ")");
    if (p.nNeighbors < 2) fail("the number of neighbours must be at least 2 (got " + std::to_string(p.nNeighbors) + ")");
    if (!x || d < 1) fail("no input vectors");
    if (n <= p.nNeighbors)
        fail("needs more points than neighbours: " + std::to_string(n) + " points for " + std::to_string(p.nNeighbors) +
             " neighbours");
    if (n > std::numeric_limits<int32_t>::max()) fail("more than 2^31 points are not supported");
    if (!(p.spread > 0)) fail("spread must be positive");
    if (!(p.minDist >= 0) || p.minDist > p.spread) fail("minDist must be between 0 and spread");
    if (p.nEpochs < 0) fail("the number of epochs cannot be negative");
    if (!(p.learningRate > 0)) fail("the learning rate must be positive");
    if (p.negativeSampleRate < 0) fail("the negative sample rate cannot be negative");
    if (!(p.repulsionStrength >= 0)) fail("the repulsion strength cannot be negative");
    if (p.threads < 0) fail("the thread count cannot be negative");
    for (int64_t i = 0; i < n; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) {
            const float v = x[i * d + j];
            if (!std::isfinite(v)) fail("input vector " + std::to_string(i) + " holds NaN or Inf");
            norm += double(v) * v;
        }
        if (p.metric == UmapMetric::Cosine && norm == 0)
            fail("input vector " + std::to_string(i) + " is zero: its cosine distance is undefined");
    }
}

// Restores OpenMP's global thread count on every way out.
class ThreadScope {
public:
    explicit ThreadScope(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
    ~ThreadScope() { omp_set_num_threads(saved_); }
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;
private:
    int saved_;
};

} // namespace

std::vector<float> Umap::fit(const float* x, int64_t n, int64_t d, const UmapParams& params, const ProgressFn& progress,
                             UmapInfo* info) {
    checkParams(x, n, d, params);
    const int threads = detail::resolveThreads(params.threads);
    const ThreadScope scope(threads);
    const int dim = params.nComponents;
    UmapInfo out;

    report(progress, {"umap: neighbours", 0, n, {}});
    auto knn = detail::nearestNeighbours(x, n, d, params.nNeighbors, params.metric, params.knn, threads,
                                           params.seed, progress);
    out.knnMethod = knn.method;

    auto graph = detail::fuzzySimplicialSet(knn);
    knn = {};
    const int defaultEpochs = n <= 10000 ? 500 : 200;
    out.nEpochs = params.nEpochs > 0 ? params.nEpochs : defaultEpochs;
    detail::pruneWeakEdges(graph, out.nEpochs > 10 ? out.nEpochs : defaultEpochs);
    out.edges = graph.edges();
    out.graphComponents = detail::connectedComponents(graph);
    const auto curve = findAbParams(params.spread, params.minDist);
    out.a = curve.a;
    out.b = curve.b;
    report(progress, {"umap: graph", 1, 1, std::to_string(out.edges) + " edges"});

    std::vector<float> layout;
    UmapInit init = params.init;
    if (init == UmapInit::Spectral) {
        std::string whyNot;
        if (auto spectral = detail::spectralLayout(graph, dim, &whyNot)) {
            layout = detail::noisyScale(*spectral, params.seed);
            out.initUsed = "spectral";
        } else {
            logWarning("UMAP: spectral initialisation impossible (" + whyNot + "); using PCA initialisation");
            init = UmapInit::Pca;
        }
    }
    if (init == UmapInit::Pca) {
        const auto scores = pcaMap(x, n, d, std::min<int>(dim, int(std::min(n, d))), {});
        std::vector<double> wide(n * dim, 0.0);  // a 1-D input gives one component, the rest 0
        const int got = int(scores.size() / n);
        for (int64_t i = 0; i < n; ++i)
            for (int c = 0; c < got; ++c) wide[i * dim + c] = scores[i * got + c];
        layout = detail::noisyScale(wide, params.seed);
        out.initUsed = "pca";
    } else if (init == UmapInit::Random) {
        layout = detail::randomLayout(n, dim, params.seed);
        out.initUsed = "random";
    }
    detail::rescaleColumns(layout, n, dim);
    report(progress, {"umap: init", 1, 1, out.initUsed});

    detail::SgdSettings sgd;
    sgd.dim = dim;
    sgd.epochs = out.nEpochs;
    sgd.a = curve.a;
    sgd.b = curve.b;
    sgd.learningRate = params.learningRate;
    sgd.repulsionStrength = params.repulsionStrength;
    sgd.negativeSampleRate = params.negativeSampleRate;
    sgd.seed = params.seed;
    detail::optimizeLayout(graph, layout, sgd, progress);
    if (info) *info = std::move(out);
    return layout;
}

} // namespace astroclip::maps
