#include "core/maps/map_job.h"

#include "core/catalog/model_lookup.h"
#include "core/common/error.h"
#include "core/maps/pca.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace astroclip::maps {

namespace {

void checkParams(const MapJobParams& p) {
    if (p.modality != "image" && p.modality != "spectrum")
        throw UsageError("the modality of a map is image or spectrum (got '" + p.modality + "')");
    if (p.method != "umap" && p.method != "pca")
        throw UsageError("the map method is umap or pca (got '" + p.method + "')");
    if (p.dims != 2 && p.dims != 3) throw UsageError("a map has 2 or 3 dimensions (got " + std::to_string(p.dims) + ")");
    if (p.method == "umap") {
        if (p.nNeighbors < 2) throw UsageError("UMAP needs at least 2 neighbours (got " + std::to_string(p.nNeighbors) + ")");
        if (!(p.minDist >= 0) || !std::isfinite(p.minDist))
            throw UsageError("UMAP's min_dist must be a finite number ≥ 0 (got " + std::to_string(p.minDist) + ")");
    }
    if (p.threads < 0) throw UsageError("the thread count cannot be negative");
}

// Scales each row to unit length in place (see the header: maps show cosine geometry). A zero
// row has no direction; it is refused naming its object.
void normaliseRows(EmbeddingMatrix& m, const std::string& what) {
    const size_t d = size_t(m.dim);
    for (size_t i = 0; i < m.ids.size(); ++i) {
        float* row = m.values.data() + i * d;
        double norm = 0;
        for (size_t j = 0; j < d; ++j) norm += double(row[j]) * row[j];
        if (norm == 0)
            throw UsageError("the " + what + " vector of object " + std::to_string(m.ids[i]) +
                             " is zero: it has no direction to map (cosine is undefined)");
        const double scale = 1.0 / std::sqrt(norm);
        for (size_t j = 0; j < d; ++j) row[j] = float(row[j] * scale);
    }
}

bool sameJson(const std::string& a, const std::string& b) {
    const auto ja = nlohmann::json::parse(a, nullptr, /*allow_exceptions=*/false);
    return !ja.is_discarded() && ja == nlohmann::json::parse(b, nullptr, false);
}

} // namespace

std::string mapParamsJson(const MapJobParams& p) {
    if (p.method == "pca") return nlohmann::json{{"input", "l2-normalised"}, {"centred", true}}.dump();
    return nlohmann::json{{"metric", "cosine"},
                          {"n_neighbors", p.nNeighbors},
                          {"min_dist", p.minDist},
                          {"spread", 1.0},
                          {"seed", p.seed},
                          {"init", "spectral"},
                          {"n_epochs", "auto"}}
        .dump();
}

MapJobResult makeMap(Catalog& catalog, const MapJobParams& params, const ProgressFn& progress) {
    checkParams(params);
    MapJobResult r;
    r.model = findModel(catalog, params.model);
    r.set = requireEmbeddingSet(catalog, r.model, params.modality, params.space);
    const EmbeddingKey& key = r.set.key;
    const std::string what = key.modality + " " + key.space;
    const std::string paramsJson = mapParamsJson(params);
    report(progress, {"map: read", 0, 0, std::to_string(r.set.count) + " " + what + " vectors"});

    // What to map: every vector of the set, or those of the selected objects.
    EmbeddingMatrix vectors;
    if (params.where.empty()) {
        vectors = catalog.embeddings(key);
    } else {
        const auto ids = catalog.select(params.where);
        r.selected = int64_t(ids.size());
        if (ids.empty()) throw UsageError(catalog.path() + ": no object matches --where \"" + params.where + "\"");
        vectors = catalog.embeddings(key, &ids);
        r.withoutVector = r.selected - int64_t(vectors.ids.size());
        if (vectors.ids.empty())
            throw UsageError(catalog.path() + ": none of the " + std::to_string(r.selected) + " objects matching \"" +
                             params.where + "\" has a " + what + " vector of model '" + r.model.name + "'");
    }
    const std::vector<int64_t> setIds = catalog.embeddedObjects(key);
    const bool wholeSet = vectors.ids == setIds;

    // A current stored map of the whole set is returned as it is.
    const auto stored = catalog.map(key, params.method, params.dims);
    if (stored && wholeSet) {
        MapPoints points = catalog.mapPoints(stored->id);
        if (params.recompute) r.replaced = "recompute";
        else if (stored->source != r.set.source) r.replaced = "stale";
        else if (points.ids != setIds) r.replaced = "objects";
        else if (!sameJson(stored->params, paramsJson)) r.replaced = "params";
        if (r.replaced.empty()) {
            r.map = *stored;
            r.points = std::move(points);
            r.reused = true;
            return r;
        }
    }

    const int64_t n = int64_t(vectors.ids.size()), d = vectors.dim;
    const std::string count = std::to_string(n) + " " + what + " vector" + (n == 1 ? "" : "s");
    if (params.method == "umap" && n <= params.nNeighbors)
        throw UsageError("UMAP with " + std::to_string(params.nNeighbors) + " neighbours needs more than " +
                         std::to_string(params.nNeighbors) + " points; " + count +
                         " to map (use fewer --neighbors, or --method pca)");
    if (params.method == "pca" && (n <= params.dims || d < params.dims))
        throw UsageError("a " + std::to_string(params.dims) + "-D PCA map needs more than " +
                         std::to_string(params.dims) + " points of at least " + std::to_string(params.dims) +
                         " dimensions; got " + count + " of " + std::to_string(d) + " dimensions");
    normaliseRows(vectors, what);

    std::vector<float> coords;
    if (params.method == "umap") {
        UmapParams up;
        up.nComponents = params.dims;
        up.nNeighbors = params.nNeighbors;
        up.minDist = float(params.minDist);
        up.metric = UmapMetric::Cosine;
        up.init = UmapInit::Spectral;
        up.seed = params.seed;
        up.threads = params.threads;
        coords = Umap::fit(vectors.values.data(), n, d, up, progress, &r.umap);
    } else {
        PcaModel model;
        coords = pcaMap(vectors.values.data(), n, d, params.dims, progress, &model);
        r.explainedVarianceRatio = model.explainedVarianceRatio;
    }
    // Cancellation and every refusal happen above: nothing stored is touched before here.
    r.points.ids = std::move(vectors.ids);
    r.points.dims = params.dims;
    r.points.coords = std::move(coords);

    MapRecord rec;
    rec.key = key;
    rec.model = r.model.name;
    rec.method = params.method;
    rec.dims = params.dims;
    rec.params = paramsJson;
    rec.source = r.set.source;
    rec.count = n;
    if (!wholeSet) {
        r.map = rec;  // a selection's map: returned, not stored (see the header)
        return r;
    }
    report(progress, {"map: store", 0, 0, std::to_string(n) + " points"});
    catalog.storeMap(rec, r.points.ids, r.points.coords.data());
    r.map = *catalog.map(key, params.method, params.dims);
    r.stored = true;
    return r;
}

} // namespace astroclip::maps
