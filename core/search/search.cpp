#include "core/search/search.h"

#include "core/catalog/model_lookup.h"
#include "core/common/error.h"

#include <algorithm>

namespace astroclip::search {

namespace {

std::string keyName(const EmbeddingKey& key) { return key.modality + " " + key.space; }

// Whether the object holds the data a modality is made from (for the message when it has no vector).
bool hasData(Catalog& catalog, int64_t id, const std::string& modality) {
    if (modality == "spectrum") return !catalog.spectra(id).empty();
    const auto images = catalog.images(id);
    return std::any_of(images.begin(), images.end(), [](const ImageRecord& r) { return r.kind == ImageRecord::Kind::Cutout; });
}

// Runs the queries [labels.size(), dim] against the `to` index. `self[i]` is the query's own
// object id (same-modal object queries), left out of its results.
SearchResult runQueries(Catalog& catalog, const SearchParams& params, const std::vector<std::string>& labels,
                        const std::vector<std::optional<int64_t>>& self, const std::vector<float>& vectors,
                        const ProgressFn& progress) {
    if (params.k < 1) throw UsageError("--k must be at least 1 (got " + std::to_string(params.k) + ")");
    const auto set = catalog.embeddingSet(params.to);
    if (!set || set->count == 0)
        throw UsageError(catalog.path() + ": no " + keyName(params.to) + " embeddings to search; compute them with astroclip embed first");

    SearchResult result;
    std::optional<index::IdSelection> allowed;
    if (!params.where.empty()) {
        allowed.emplace(catalog.select(params.where));
        if (allowed->empty()) throw UsageError(catalog.path() + ": no object matches --where '" + params.where + "'");
        result.allowed = allowed->size();
    }

    auto opened = openSetIndex(catalog, *set, params.index, progress);
    result.indexPath = opened.path;
    result.indexFactory = params.index.factory;
    result.indexBuilt = opened.built;
    result.indexReason = opened.reason;
    result.indexed = opened.index->size();

    const int64_t nq = int64_t(labels.size());
    const bool sameModal = params.from.modality == params.to.modality;
    // One extra neighbour when the query's own vector is in the index: it comes back first.
    const int64_t kAsked = params.k + (sameModal ? 1 : 0);
    report(progress, {"search", 0, nq, ""});
    const auto found = opened.index->search(vectors, nq, kAsked, allowed ? &*allowed : nullptr);
    for (int64_t q = 0; q < nq; ++q) {
        QueryResult r;
        r.query = labels[size_t(q)];
        r.objectId = self[size_t(q)];
        for (int64_t j = 0; j < kAsked && int64_t(r.hits.size()) < params.k; ++j) {
            const int64_t id = found.id(q, j);
            if (id < 0) break;
            if (sameModal && r.objectId && id == *r.objectId) continue;
            r.hits.push_back({id, found.score(q, j)});
        }
        result.queries.push_back(std::move(r));
    }
    report(progress, {"search", nq, nq, ""});
    return result;
}

} // namespace

std::pair<EmbeddingKey, EmbeddingKey> searchKeys(Catalog& catalog, const ModelRecord& model, const std::string& from,
                                                 const std::string& to, const std::optional<std::string>& space) {
    const bool crossModal = from != to;
    if (crossModal && space && *space != "aligned")
        throw UsageError("a search from " + from + " to " + to + " compares vectors of two encoders: it needs the "
                         "shared space of a clip model (--space aligned), not '" + *space + "'");
    const std::optional<std::string> used = crossModal ? std::optional<std::string>("aligned") : space;
    if (crossModal && model.stage != "clip" && !catalog.embeddingSet({model.id, from, "aligned"}))
        throw UsageError("model '" + model.name + "' is a " + model.stage + " model: a search from " + from + " to " +
                         to + " needs a clip model, whose image and spectrum vectors share one space");
    const EmbeddingSet a = requireEmbeddingSet(catalog, model, from, used);
    const EmbeddingSet b = requireEmbeddingSet(catalog, model, to, used);
    if (a.dim != b.dim)
        throw UsageError(catalog.path() + ": model '" + model.name + "' has " + std::to_string(a.dim) + "-d " + from +
                         " and " + std::to_string(b.dim) + "-d " + to + " vectors; they cannot be compared");
    return {a.key, b.key};
}

ModelRecord chooseSearchModel(Catalog& catalog, const std::string& from, const std::string& to,
                              const std::optional<std::string>& space) {
    std::vector<ModelRecord> candidates;
    for (const auto& m : catalog.models()) {
        const std::string s = from != to ? "aligned" : space.value_or(defaultEmbeddingSpace(m));
        const auto a = catalog.embeddingSet({m.id, from, s});
        const auto b = catalog.embeddingSet({m.id, to, s});
        if (a && b && a->count > 0 && b->count > 0) candidates.push_back(m);
    }
    if (candidates.size() == 1) return candidates.front();
    const std::string what = from + " → " + to + (from != to ? " (aligned space)" : "");
    if (candidates.empty())
        throw UsageError(catalog.path() + ": no model has stored embeddings for a " + what +
                         " search; compute them with astroclip embed first");
    std::string names;
    for (const auto& m : candidates) names += (names.empty() ? "" : ", ") + m.name;
    throw UsageError(catalog.path() + ": several models can answer a " + what + " search (" + names +
                     "); choose one with --model");
}

SearchResult searchByObjects(Catalog& catalog, const SearchParams& params, const std::vector<int64_t>& objectIds,
                             const ProgressFn& progress) {
    if (objectIds.empty()) throw UsageError("no query object given");
    const EmbeddingMatrix m = catalog.embeddings(params.from, &objectIds);
    std::vector<std::string> labels;
    std::vector<std::optional<int64_t>> self;
    std::vector<float> vectors;
    for (const int64_t id : objectIds) {
        catalog.object(id);  // CatalogError naming the catalog for an unknown id
        const auto it = std::lower_bound(m.ids.begin(), m.ids.end(), id);
        if (it == m.ids.end() || *it != id) {
            const auto model = catalog.model(params.from.modelId);
            const std::string name = model ? model->name : std::to_string(params.from.modelId);
            if (!hasData(catalog, id, params.from.modality))
                throw UsageError(catalog.path() + ": object " + std::to_string(id) + " has no " + params.from.modality +
                                 " to search from");
            throw UsageError(catalog.path() + ": object " + std::to_string(id) + " has no " + keyName(params.from) +
                             " vector of model '" + name + "'; embed it with astroclip embed first");
        }
        const size_t row = size_t(it - m.ids.begin());
        vectors.insert(vectors.end(), m.values.begin() + long(row * size_t(m.dim)),
                       m.values.begin() + long((row + 1) * size_t(m.dim)));
        labels.push_back("object " + std::to_string(id));
        self.push_back(id);
    }
    return runQueries(catalog, params, labels, self, vectors, progress);
}

SearchResult searchByVectors(Catalog& catalog, const SearchParams& params, const std::vector<std::string>& labels,
                             const std::vector<float>& vectors, int dim, const ProgressFn& progress) {
    if (labels.empty()) throw UsageError("no query vector given");
    const auto set = catalog.embeddingSet(params.to);
    if (set && set->dim != dim)
        throw UsageError(catalog.path() + ": query vectors are " + std::to_string(dim) + "-d but the " +
                         keyName(params.to) + " vectors searched are " + std::to_string(set->dim) + "-d");
    if (vectors.size() != labels.size() * size_t(dim))
        throw UsageError("query vectors: " + std::to_string(vectors.size()) + " values for " +
                         std::to_string(labels.size()) + " queries of " + std::to_string(dim) + "-d");
    return runQueries(catalog, params, labels, std::vector<std::optional<int64_t>>(labels.size()), vectors, progress);
}

} // namespace astroclip::search
