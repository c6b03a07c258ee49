// Maps (tables maps and map_points of schema 4): a 2-D or 3-D layout (UMAP or PCA) of one
// embedding set, kept per (model, modality, space, method, dims) so a view reopens it at once
// instead of recomputing minutes of UMAP. A map is stored whole in one transaction: it
// replaces the previous map of its key (same row id, its points all replaced), so a reader
// never sees points of two layouts mixed. The points are REAL columns (x, y, z NULL for 2-D):
// float32 → double → float32 is exact, and SQL and Python read them without decoding blobs.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"

#include <cmath>
#include <unordered_set>

namespace astroclip {

namespace {

void requireMapTables(const std::string& path, int version) {
    if (version < 4)
        throw CatalogError(path + ": catalog schema " + std::to_string(version) +
                           " has no maps; open it with this build to upgrade it");
}

std::string describe(const MapRecord& m) {
    return "the " + std::to_string(m.dims) + "-D " + m.method + " map of model " + std::to_string(m.key.modelId) +
           " " + m.key.modality + " " + m.key.space + " embeddings";
}

constexpr const char* kMapQuery =
    "SELECT m.id, m.model_id, m.modality, m.space, md.name, m.method, m.dims, m.params, m.source, m.created, "
    "(SELECT count(*) FROM map_points p WHERE p.map_id = m.id) FROM maps m JOIN models md ON md.id = m.model_id";

MapRecord readMap(const sql::Stmt& q) {
    MapRecord m;
    m.id = q.int64(0);
    m.key = {q.int64(1), q.text(2), q.text(3)};
    m.model = q.text(4);
    m.method = q.text(5);
    m.dims = static_cast<int>(q.int64(6));
    m.params = q.text(7);
    m.source = q.text(8);
    m.created = q.int64(9);
    m.count = q.int64(10);
    return m;
}

} // namespace

int64_t Catalog::storeMap(const MapRecord& map, const std::vector<int64_t>& ids, const float* coords) {
    Impl& I = *impl_;
    requireMapTables(I.path, I.version);
    if (map.method != "umap" && map.method != "pca")
        throw UsageError(I.path + ": a map's method is umap or pca (got '" + map.method + "')");
    if (map.dims != 2 && map.dims != 3)
        throw UsageError(I.path + ": a map has 2 or 3 dimensions (got " + std::to_string(map.dims) + ")");
    if (map.key.modality.empty() || map.key.space.empty())
        throw UsageError(I.path + ": a map needs the modality and space of its embeddings (got '" + map.key.modality +
                         "', '" + map.key.space + "')");
    if (ids.empty()) throw UsageError(I.path + ": " + describe(map) + " has no points; nothing was stored");
    if (!coords) throw UsageError(I.path + ": no coordinates given for " + std::to_string(ids.size()) + " map points");
    if (!model(map.key.modelId))
        throw UsageError(I.path + ": no model with id " + std::to_string(map.key.modelId) + " to store a map for");

    const size_t dims = size_t(map.dims);
    for (size_t i = 0; i < ids.size() * dims; ++i)
        if (!std::isfinite(coords[i]))
            throw UsageError(I.path + ": the map point of object " + std::to_string(ids[i / dims]) +
                             " has a coordinate that is not finite; nothing was stored");
    std::unordered_set<int64_t> seen;
    for (const int64_t id : ids)
        if (!seen.insert(id).second)
            throw UsageError(I.path + ": object " + std::to_string(id) + " appears twice in " + describe(map) +
                             "; nothing was stored");

    Transaction tx(*this);
    {
        auto& check = I.stmt("SELECT json_valid(?1)");
        sql::Use u(check);
        check.bind(1, map.params);
        check.step("checking a map's parameters");
        if (check.int64(0) != 1)
            throw UsageError(I.path + ": the parameters of " + describe(map) + " are not valid JSON text");
    }
    int64_t mapId = 0;
    {
        auto& upsert = I.stmt(
            "INSERT INTO maps(model_id, modality, space, method, dims, params, source) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
            "ON CONFLICT(model_id, modality, space, method, dims) DO UPDATE SET params = excluded.params, "
            "source = excluded.source, created = CAST(strftime('%s', 'now') AS INTEGER) RETURNING id");
        sql::Use u(upsert);
        upsert.bind(1, map.key.modelId);
        upsert.bind(2, map.key.modality);
        upsert.bind(3, map.key.space);
        upsert.bind(4, map.method);
        upsert.bind(5, int64_t(map.dims));
        upsert.bind(6, map.params);
        upsert.bind(7, map.source);
        upsert.step("recording a map");
        mapId = upsert.int64(0);
    }
    {
        auto& clear = I.stmt("DELETE FROM map_points WHERE map_id = ?1");
        sql::Use u(clear);
        clear.bind(1, mapId);
        clear.step("replacing a map's points");
    }
    auto& exists = I.stmt("SELECT 1 FROM objects WHERE id = ?1");
    auto& insert = I.stmt("INSERT INTO map_points(map_id, object_id, x, y, z) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (size_t i = 0; i < ids.size(); ++i) {
        {
            sql::Use u(exists);
            exists.bind(1, ids[i]);
            if (!exists.step("checking an object exists"))
                throw UsageError(I.path + ": no object with id " + std::to_string(ids[i]) + " for " + describe(map) +
                                 "; nothing was stored");
        }
        const float* p = coords + i * dims;
        sql::Use u(insert);
        insert.bind(1, mapId);
        insert.bind(2, ids[i]);
        insert.bind(3, double(p[0]));
        insert.bind(4, double(p[1]));
        if (dims == 3) insert.bind(5, double(p[2]));
        else insert.bindNull(5);
        insert.step("storing a map point");
    }
    tx.commit();
    return mapId;
}

std::optional<MapRecord> Catalog::map(const EmbeddingKey& key, const std::string& method, int dims) {
    Impl& I = *impl_;
    requireMapTables(I.path, I.version);
    auto& q = I.stmt(std::string(kMapQuery) +
                     " WHERE m.model_id = ?1 AND m.modality = ?2 AND m.space = ?3 AND m.method = ?4 AND m.dims = ?5");
    sql::Use u(q);
    q.bind(1, key.modelId);
    q.bind(2, key.modality);
    q.bind(3, key.space);
    q.bind(4, method);
    q.bind(5, int64_t(dims));
    if (!q.step("reading a map")) return std::nullopt;
    return readMap(q);
}

std::vector<MapRecord> Catalog::maps() {
    Impl& I = *impl_;
    requireMapTables(I.path, I.version);
    auto& q = I.stmt(std::string(kMapQuery) + " ORDER BY m.model_id, m.modality, m.space, m.method, m.dims");
    sql::Use u(q);
    std::vector<MapRecord> out;
    while (q.step("listing maps")) out.push_back(readMap(q));
    return out;
}

MapPoints Catalog::mapPoints(int64_t mapId) {
    Impl& I = *impl_;
    requireMapTables(I.path, I.version);
    MapPoints points;
    {
        auto& q = I.stmt("SELECT dims FROM maps WHERE id = ?1");
        sql::Use u(q);
        q.bind(1, mapId);
        if (!q.step("reading a map")) throw UsageError(I.path + ": no map with id " + std::to_string(mapId));
        points.dims = static_cast<int>(q.int64(0));
    }
    auto& q = I.stmt("SELECT object_id, x, y, z FROM map_points WHERE map_id = ?1 ORDER BY object_id");
    sql::Use u(q);
    q.bind(1, mapId);
    while (q.step("reading map points")) {
        points.ids.push_back(q.int64(0));
        points.coords.push_back(static_cast<float>(q.real(1)));
        points.coords.push_back(static_cast<float>(q.real(2)));
        if (points.dims == 3) {
            // storeMap writes z for every point of a 3-D map; a NULL here is a damaged file.
            if (q.isNull(3))
                throw CatalogError(I.path + ": map " + std::to_string(mapId) + " is 3-D but object " +
                                   std::to_string(q.int64(0)) + " has no z");
            points.coords.push_back(static_cast<float>(q.real(3)));
        }
    }
    return points;
}

bool Catalog::deleteMap(int64_t mapId) {
    Impl& I = *impl_;
    requireMapTables(I.path, I.version);
    // map_points go with it (ON DELETE CASCADE).
    auto& d = I.stmt("DELETE FROM maps WHERE id = ?1");
    sql::Use u(d);
    d.bind(1, mapId);
    d.step("deleting a map");
    return sqlite3_changes64(I.db) > 0;
}

} // namespace astroclip
