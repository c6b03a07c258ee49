// Opening a catalog file and bringing its schema up to date.
//
// The schema version lives in PRAGMA user_version; migration i takes a catalog from version
// i to i + 1 and they all run in one transaction, so a catalog is always at one version.
// Past migrations are never edited: a change is a new migration.
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <cassert>
#include <filesystem>
#include <mutex>

namespace astroclip {
namespace schema {

namespace {

// v1: objects with their keys, catalogue columns, images, spectra, and the ingest ledger.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE source_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);
-- Catalogue and truth columns are added to this table with ALTER TABLE as they first appear
-- and registered in object_columns.
CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    ra REAL,
    dec REAL,
    source_file_id INTEGER REFERENCES source_files(id) ON DELETE SET NULL
);
CREATE TABLE object_keys (
    key TEXT PRIMARY KEY NOT NULL,
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX object_keys_by_object ON object_keys(object_id);
CREATE TABLE object_columns (
    name TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('catalog', 'truth')),
    type TEXT NOT NULL CHECK (type IN ('integer', 'real', 'text'))
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('cutout', 'band')),
    path TEXT NOT NULL,
    hdu INTEGER NOT NULL,
    bands TEXT NOT NULL,        -- band of each plane, comma separated, file order
    planes TEXT NOT NULL,       -- cutouts: plane of g,r,z, comma separated, -1 = absent
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    pixscale REAL NOT NULL,     -- arcsec/pixel, 0 = unknown
    unit TEXT NOT NULL,
    ivar_ref TEXT NOT NULL,
    segmap_ref TEXT NOT NULL,
    depthmap_ref TEXT NOT NULL,
    psf_ref TEXT NOT NULL,
    pixels BLOB                 -- float32 [bands][height][width], only when not referenceable
);
CREATE INDEX images_by_object ON images(object_id, kind);
CREATE TABLE spectra (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    flux BLOB NOT NULL,         -- float32 on the DESI grid, little-endian
    ivar BLOB NOT NULL,         -- float32
    mask BLOB NOT NULL,         -- one byte per pixel, 1 = no valid data
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    native TEXT NOT NULL,
    unit TEXT NOT NULL,         -- of flux; ivar is its inverse square
    native_wave_min REAL NOT NULL,
    native_wave_max REAL NOT NULL
);
CREATE INDEX spectra_by_object ON spectra(object_id);
CREATE TABLE ingested_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed')),
    reader TEXT NOT NULL,
    message TEXT NOT NULL,
    objects INTEGER NOT NULL
);
)sql";

// v2: what learning adds: models, their training runs and metric histories, embeddings,
// and label sets made by users (classes or values per object).
constexpr const char* kVersion2 = R"sql(
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    stage TEXT NOT NULL,         -- "image", "spectrum", "align", "probe" ...
    path TEXT NOT NULL,          -- checkpoint (.safetensors beside its .json)
    config TEXT NOT NULL DEFAULT '{}',  -- JSON
    step INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    created INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE TABLE training_runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    params TEXT NOT NULL DEFAULT '{}',  -- JSON
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed')),
    started INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    finished INTEGER,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX training_runs_by_model ON training_runs(model_id);
CREATE TABLE training_metrics (
    run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,          -- "loss", "lr", "val_knn_r2" ...
    value REAL,
    PRIMARY KEY (run_id, name, step)
) WITHOUT ROWID;
CREATE TABLE embeddings (
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,      -- "image", "spectrum"
    space TEXT NOT NULL,         -- "backbone", "aligned" ...
    dim INTEGER NOT NULL CHECK (dim > 0),
    vector BLOB NOT NULL CHECK (length(vector) = 4 * dim),  -- float32, little-endian
    PRIMARY KEY (model_id, modality, space, object_id)
);
CREATE INDEX embeddings_by_object ON embeddings(object_id);
CREATE TABLE label_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('class', 'value')),
    description TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE TABLE labels (
    label_set_id INTEGER NOT NULL REFERENCES label_sets(id) ON DELETE CASCADE,
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    value,                       -- class name (text) or a number
    source TEXT NOT NULL DEFAULT '',  -- "user", "import:<file>", "model:<name>" ...
    PRIMARY KEY (label_set_id, object_id)
) WITHOUT ROWID;
CREATE INDEX labels_by_object ON labels(object_id);
)sql";

// v3: one row per set of embeddings (model, modality, space) saying what made its vectors, so
// vectors of a retrained model are never mixed with older ones and indices know when to rebuild.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE embedding_sets (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    space TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim > 0),
    source TEXT NOT NULL DEFAULT '',  -- what made the vectors: a checkpoint and step, an imported file
    updated INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    PRIMARY KEY (model_id, modality, space)
) WITHOUT ROWID;
INSERT INTO embedding_sets(model_id, modality, space, dim)
    SELECT model_id, modality, space, max(dim) FROM embeddings GROUP BY model_id, modality, space;
)sql";

// v4: maps of embedding sets (UMAP, PCA) kept per model, so views reopen them at once.
constexpr const char* kVersion4 = R"sql(
CREATE TABLE maps (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    space TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('umap', 'pca')),
    dims INTEGER NOT NULL CHECK (dims IN (2, 3)),
    params TEXT NOT NULL DEFAULT '{}',  -- JSON: what it was made with
    source TEXT NOT NULL DEFAULT '',    -- the embedding set's source it was made from
    created INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    UNIQUE (model_id, modality, space, method, dims)
);
CREATE TABLE map_points (
    map_id INTEGER NOT NULL REFERENCES maps(id) ON DELETE CASCADE,
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    x REAL NOT NULL,
    y REAL NOT NULL,
    z REAL,                      -- NULL for 2-D maps
    PRIMARY KEY (map_id, object_id)
) WITHOUT ROWID;
CREATE INDEX map_points_by_object ON map_points(object_id);
)sql";

constexpr const char* kMigrations[] = {kVersion1, kVersion2, kVersion3, kVersion4};
static_assert(std::size(kMigrations) == Catalog::kSchemaVersion, "one migration per schema version");

} // namespace

int64_t pragmaInt(sqlite3* db, const char* pragma) {
    sql::Stmt s(db, std::string("PRAGMA ") + pragma);
    s.step(std::string("reading ") + pragma);
    return s.int64(0);
}

int userVersion(sqlite3* db) { return static_cast<int>(pragmaInt(db, "user_version")); }

void migrate(sqlite3* db, const std::string& path, int version) {
    sql::exec(db, "BEGIN IMMEDIATE", "starting the schema upgrade");
    try {
        // Read again under the write lock: another process may have upgraded meanwhile.
        const int from = userVersion(db);
        for (int v = from; v < version; ++v) {
            sql::exec(db, kMigrations[v], "upgrading the schema to version " + std::to_string(v + 1));
            logInfo(path + ": catalog schema upgraded to version " + std::to_string(v + 1));
        }
        if (from < version) {
            sql::exec(db, "PRAGMA user_version = " + std::to_string(version), "recording the schema version");
            sql::exec(db, "PRAGMA application_id = " + std::to_string(kApplicationId), "marking the file");
        }
        sql::exec(db, "COMMIT", "committing the schema upgrade");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

} // namespace schema

namespace {

// Opened connection that closes itself unless handed over.
struct DbHandle {
    sqlite3* db = nullptr;
    ~DbHandle() { if (db) sqlite3_close_v2(db); }
};

} // namespace

std::unique_ptr<Catalog::Impl> Catalog::Impl::open(const std::string& path, bool create, int version) {
    assert(version >= 1 && version <= kSchemaVersion);
    std::error_code ec;
    if (!create && !std::filesystem::exists(path, ec))
        throw CatalogError(path + ": no such catalog file");
    if (std::filesystem::is_directory(path, ec))
        throw CatalogError(path + ": is a folder, not a catalog file");

    // Memory statistics make SQLite take a global lock on every allocation; the catalog never
    // reads them. Only possible before SQLite starts; if it already has, it stays as it was.
    static std::once_flag configured;
    std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });

    DbHandle h;
    // NOMUTEX: a Catalog is used by one thread at a time (see catalog.h), so SQLite need
    // not lock around every call; that locking cost a fifth of a bulk import.
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (const int rc = sqlite3_open_v2(path.c_str(), &h.db, flags, nullptr); rc != SQLITE_OK)
        throw CatalogError(path + ": cannot open the catalog: " + (h.db ? sqlite3_errmsg(h.db) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(h.db, 1);
    sqlite3_busy_timeout(h.db, 10000);

    // The first read of the header tells an SQLite file from anything else.
    int64_t found = 0, appId = 0;
    try {
        found = schema::userVersion(h.db);
        appId = schema::pragmaInt(h.db, "application_id");
    } catch (const CatalogError&) {
        throw CatalogError(path + ": not an AstroCLIP catalog (not an SQLite database: " +
                           sqlite3_errmsg(h.db) + ")");
    }
    if (found > kSchemaVersion)
        throw CatalogError(path + ": written by a newer AstroCLIP (schema " + std::to_string(found) + " > " +
                           std::to_string(kSchemaVersion) + "); upgrade AstroCLIP to open it");
    if (appId != 0 && appId != schema::kApplicationId)
        throw CatalogError(path + ": not an AstroCLIP catalog (an SQLite database of another program)");
    if (found == 0) {
        sql::Stmt anyTable(h.db, "SELECT count(*) FROM sqlite_schema");
        anyTable.step("reading the schema");
        if (anyTable.int64(0) > 0)
            throw CatalogError(path + ": not an AstroCLIP catalog (an SQLite database of another program)");
    }

    sql::exec(h.db, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    {
        sql::Stmt wal(h.db, "PRAGMA journal_mode = WAL");
        wal.step("switching to write-ahead logging");
        if (wal.text(0) != "wal")
            logWarning(path + ": the file system does not allow write-ahead logging; using journal mode " + wal.text(0));
    }
    // NORMAL is durable across application crashes under WAL and much faster than FULL;
    // a power cut can lose the last commits but never corrupts the file.
    sql::exec(h.db,
              "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; "
              // 64 MiB of page cache keeps the key index of a million-object import in memory.
              "PRAGMA cache_size = -65536;",
              "setting up the connection");

    if (found < version) schema::migrate(h.db, path, version);

    auto impl = std::make_unique<Impl>();
    impl->db = std::exchange(h.db, nullptr);
    impl->path = path;
    impl->version = schema::userVersion(impl->db);
    impl->loadColumns();
    return impl;
}

} // namespace astroclip
