#include "core/catalog/model_lookup.h"

#include "core/common/error.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip {

namespace {

// The path made absolute and canonical as far as it exists.
std::string canonicalPath(const fs::path& path) {
    std::error_code ec;
    const auto full = fs::absolute(path.empty() ? fs::path(".") : path, ec);
    if (ec) return path.string();
    const auto p = fs::weakly_canonical(full, ec);
    return ec ? full.string() : p.string();
}

} // namespace

ModelRecord findModel(Catalog& catalog, const std::string& given) {
    if (const auto byName = catalog.model(given)) return *byName;
    std::error_code ec;
    const fs::path path(given);
    const std::string folder = canonicalPath(fs::is_directory(path, ec) ? path : path.parent_path());
    const auto models = catalog.models();
    for (const auto& m : models)
        if (!m.path.empty() && canonicalPath(fs::path(m.path).parent_path()) == folder) return m;
    std::string names;
    for (const auto& m : models) names += (names.empty() ? "" : ", ") + m.name;
    throw UsageError(catalog.path() + ": no model called or trained in '" + given + "' (models: " +
                     (names.empty() ? std::string("none yet") : names) + ")");
}

std::string defaultEmbeddingSpace(const ModelRecord& model) {
    return model.stage == "clip" ? "aligned" : "backbone";
}

EmbeddingSet requireEmbeddingSet(Catalog& catalog, const ModelRecord& model, const std::string& modality,
                                 const std::optional<std::string>& space) {
    const EmbeddingKey key{model.id, modality, space.value_or(defaultEmbeddingSpace(model))};
    const auto set = catalog.embeddingSet(key);
    if (!set || set->count == 0)
        throw UsageError(catalog.path() + ": model '" + model.name + "' has no " + key.modality + " " + key.space +
                         " embeddings; compute them with astroclip embed first");
    return *set;
}

} // namespace astroclip
