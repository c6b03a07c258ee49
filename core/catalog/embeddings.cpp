// Embeddings (tables embeddings and, from schema 3, embedding_sets): one float32 vector per
// (model, modality, space, object), written in batches by `astroclip embed` and read back whole
// for search, probes and maps. A batch is one transaction, so an interrupted embedding keeps
// every finished batch and a resumed one skips them (embeddedObjects). The set row records
// the dimension and what made the vectors, so one set never mixes model states.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

namespace astroclip {

namespace {

void requireEmbeddingTable(const std::string& path, int version) {
    if (version < 3)
        throw CatalogError(path + ": catalog schema " + std::to_string(version) +
                           " has no embeddings; open it with this build to upgrade it");
}

std::string describe(const EmbeddingKey& key) {
    return "model " + std::to_string(key.modelId) + " " + key.modality + " " + key.space + " embeddings";
}

void checkKey(const std::string& path, const EmbeddingKey& key) {
    if (key.modality.empty() || key.space.empty())
        throw UsageError(path + ": an embedding needs a modality and a space (got '" + key.modality + "', '" +
                         key.space + "')");
}

void bindKey(sql::Stmt& s, const EmbeddingKey& key) {
    s.bind(1, key.modelId);
    s.bind(2, key.modality);
    s.bind(3, key.space);
}

constexpr const char* kKeyWhere = "model_id = ?1 AND modality = ?2 AND space = ?3";

} // namespace

void Catalog::storeEmbeddings(const EmbeddingKey& key, const std::vector<int64_t>& objectIds, const float* vectors,
                              int dim, const std::string& source) {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    checkKey(I.path, key);
    if (source.empty()) throw UsageError(I.path + ": " + describe(key) + " need a source (what made them)");
    if (dim < 1) throw UsageError(I.path + ": embeddings need a dimension of at least 1 (got " + std::to_string(dim) + ")");
    if (objectIds.empty()) return;
    if (!vectors) throw UsageError(I.path + ": no vectors given for " + std::to_string(objectIds.size()) + " objects");
    if (!model(key.modelId))
        throw UsageError(I.path + ": no model with id " + std::to_string(key.modelId) + " to store embeddings for");

    const size_t n = objectIds.size();
    for (size_t i = 0; i < n * size_t(dim); ++i)
        if (!std::isfinite(vectors[i]))
            throw UsageError(I.path + ": the vector of object " + std::to_string(objectIds[i / size_t(dim)]) +
                             " has a value that is not finite; nothing was stored");
    std::unordered_set<int64_t> seen;
    for (const int64_t id : objectIds)
        if (!seen.insert(id).second)
            throw UsageError(I.path + ": object " + std::to_string(id) + " appears twice in one batch of " +
                             describe(key));

    Transaction tx(*this);
    if (const auto set = embeddingSet(key)) {
        if (set->dim != dim)
            throw UsageError(I.path + ": " + describe(key) + " are " + std::to_string(set->dim) +
                             "-dimensional; refusing to add " + std::to_string(dim) +
                             "-dimensional vectors (delete the stored ones first)");
        if (set->source != source)
            throw UsageError(I.path + ": " + describe(key) + " were made by " + set->source +
                             "; refusing to mix in vectors made by " + source + " (delete the stored ones first)");
    }
    {
        auto& upsert = I.stmt(
            "INSERT INTO embedding_sets(model_id, modality, space, dim, source) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT DO UPDATE SET updated = CAST(strftime('%s', 'now') AS INTEGER)");
        sql::Use u(upsert);
        bindKey(upsert, key);
        upsert.bind(4, int64_t(dim));
        upsert.bind(5, source);
        upsert.step("recording the embedding set");
    }
    auto& exists = I.stmt("SELECT 1 FROM objects WHERE id = ?1");
    auto& insert = I.stmt(
        "INSERT OR REPLACE INTO embeddings(object_id, model_id, modality, space, dim, vector) "
        "VALUES (?4, ?1, ?2, ?3, ?5, ?6)");
    for (size_t i = 0; i < n; ++i) {
        {
            sql::Use u(exists);
            exists.bind(1, objectIds[i]);
            if (!exists.step("checking an object exists"))
                throw UsageError(I.path + ": no object with id " + std::to_string(objectIds[i]) +
                                 "; nothing of this batch was stored");
        }
        sql::Use u(insert);
        bindKey(insert, key);
        insert.bind(4, objectIds[i]);
        insert.bind(5, int64_t(dim));
        insert.bindBlob(6, vectors + i * size_t(dim), size_t(dim) * sizeof(float));
        insert.step("storing an embedding");
    }
    tx.commit();
}

namespace {

EmbeddingSet readSet(const sql::Stmt& q) {
    EmbeddingSet e;
    e.key = {q.int64(0), q.text(1), q.text(2)};
    e.model = q.text(3);
    e.dim = static_cast<int>(q.int64(4));
    e.source = q.text(5);
    e.updated = q.int64(6);
    e.count = q.int64(7);
    return e;
}

constexpr const char* kSetQuery =
    "SELECT s.model_id, s.modality, s.space, m.name, s.dim, s.source, s.updated, "
    "(SELECT count(*) FROM embeddings e WHERE e.model_id = s.model_id AND e.modality = s.modality "
    "AND e.space = s.space) FROM embedding_sets s JOIN models m ON m.id = s.model_id";

} // namespace

std::optional<EmbeddingSet> Catalog::embeddingSet(const EmbeddingKey& key) {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    auto& q = I.stmt(std::string(kSetQuery) + " WHERE s.model_id = ?1 AND s.modality = ?2 AND s.space = ?3");
    sql::Use u(q);
    bindKey(q, key);
    if (!q.step("reading an embedding set")) return std::nullopt;
    return readSet(q);
}

std::vector<EmbeddingSet> Catalog::embeddingSets() {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    auto& q = I.stmt(std::string(kSetQuery) + " ORDER BY s.model_id, s.modality, s.space");
    sql::Use u(q);
    std::vector<EmbeddingSet> sets;
    while (q.step("listing embedding sets")) sets.push_back(readSet(q));
    return sets;
}

std::vector<int64_t> Catalog::embeddedObjects(const EmbeddingKey& key) {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    auto& q = I.stmt(std::string("SELECT object_id FROM embeddings WHERE ") + kKeyWhere + " ORDER BY object_id");
    sql::Use u(q);
    bindKey(q, key);
    std::vector<int64_t> ids;
    while (q.step("listing embedded objects")) ids.push_back(q.int64(0));
    return ids;
}

EmbeddingMatrix Catalog::embeddings(const EmbeddingKey& key, const std::vector<int64_t>* only) {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    EmbeddingMatrix m;
    // Copies one row's blob; every row of a key has the key's dim (storeEmbeddings keeps it so).
    const auto take = [&](const sql::Stmt& q, int64_t id) {
        const auto blob = q.blob(1);
        const int dim = static_cast<int>(blob.size() / sizeof(float));
        if (m.ids.empty()) m.dim = dim;
        if (dim != m.dim || blob.size() != size_t(dim) * sizeof(float))
            throw CatalogError(I.path + ": " + describe(key) + " have rows of different sizes (object " +
                               std::to_string(id) + ")");
        const size_t at = m.values.size();
        m.values.resize(at + size_t(dim));
        std::memcpy(m.values.data() + at, blob.data(), blob.size());
        m.ids.push_back(id);
    };
    if (!only) {
        auto& q = I.stmt(std::string("SELECT object_id, vector FROM embeddings WHERE ") + kKeyWhere +
                         " ORDER BY object_id");
        sql::Use u(q);
        bindKey(q, key);
        while (q.step("reading embeddings")) take(q, q.int64(0));
        return m;
    }
    std::vector<int64_t> wanted(*only);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    auto& q = I.stmt(std::string("SELECT object_id, vector FROM embeddings WHERE ") + kKeyWhere +
                     " AND object_id = ?4");
    for (const int64_t id : wanted) {
        sql::Use u(q);
        bindKey(q, key);
        q.bind(4, id);
        if (q.step("reading an embedding")) take(q, id);
    }
    return m;
}

int64_t Catalog::deleteEmbeddings(const EmbeddingKey& key) {
    Impl& I = *impl_;
    requireEmbeddingTable(I.path, I.version);
    Transaction tx(*this);
    auto& d = I.stmt(std::string("DELETE FROM embeddings WHERE ") + kKeyWhere);
    int64_t removed = 0;
    {
        sql::Use u(d);
        bindKey(d, key);
        d.step("deleting embeddings");
        removed = sqlite3_changes64(I.db);
    }
    auto& ds = I.stmt(std::string("DELETE FROM embedding_sets WHERE ") + kKeyWhere);
    {
        sql::Use u(ds);
        bindKey(ds, key);
        ds.step("deleting an embedding set");
    }
    tx.commit();
    return removed;
}

} // namespace astroclip
