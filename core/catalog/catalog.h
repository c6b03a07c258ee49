#pragma once
// The catalog: one SQLite file per project, and the only code that speaks SQL.
// Typed rows in, typed rows out; schema versions with migrations; WAL; foreign keys;
// one transaction per batch.
#include "core/data/records.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace astroclip {

struct ColumnInfo {
    std::string name;          // as used in --where (truth columns carry a "truth_" prefix)
    std::string kind;          // "catalog" or "truth"
    std::string type;          // "integer", "real" or "text"
    int64_t count = 0;         // non-null values
    std::optional<double> min, max;  // numeric columns
    std::optional<std::string> example;  // text columns: one value
};

struct CatalogInfo {
    std::string path;
    int schemaVersion = 0;
    int64_t objects = 0;
    int64_t objectsWithImage = 0;      // with a g,r,z cutout
    int64_t objectsWithBandImages = 0; // with native single-band images only
    int64_t objectsWithSpectrum = 0;
    int64_t objectsWithBoth = 0;       // cutout and spectrum
    int64_t images = 0, spectra = 0;
    std::vector<ColumnInfo> columns;
    struct Model { int64_t id; std::string name, stage, path; int64_t step; };
    std::vector<Model> models;
    struct Embeddings { std::string model, modality, space; int64_t count; int dim; };
    std::vector<Embeddings> embeddings;
    // Stored maps (schema 4); stale: made from other vectors than the set now holds.
    struct Map { std::string model, modality, space, method; int dims; int64_t count; bool stale; };
    std::vector<Map> maps;
    int64_t ingestedFiles = 0, failedFiles = 0;  // files recorded with status ok / failed
};

struct IngestedFile {
    std::string path;
    int64_t size = 0;
    int64_t mtime = 0;         // seconds since epoch
    std::string status;        // "ok", "skipped", "failed"
    std::string reader;
    std::string message;
    int64_t objects = 0;
};

// A trained model: its checkpoint and how it was made (schema 2, table models).
struct ModelRecord {
    int64_t id = 0;                 // assigned by registerModel()
    std::string name;               // unique within the catalog
    std::string stage;              // what made it: "image", "spectrum", "clip", "supervised" ...
    std::string path;               // checkpoint (.safetensors beside its .json)
    std::string config = "{}";      // JSON text: the configuration it was trained with
    int64_t step = 0;               // optimizer steps behind the checkpoint
    std::optional<int64_t> parentId;  // the model it was initialised from
    int64_t created = 0;            // seconds since epoch (set by the catalog)
};

// One training session of a model (table training_runs): a resumed training is a new run.
struct TrainingRunRecord {
    int64_t id = 0;
    int64_t modelId = 0;
    std::string model;              // the model's name (read only)
    std::string params = "{}";      // JSON text: what the session was asked to do
    std::string status;             // "running", "finished", "cancelled", "failed"
    int64_t started = 0;            // seconds since epoch
    std::optional<int64_t> finished;
    std::string message;            // why it stopped (cancelled, failed), or a note
};

// One value of a metric at an optimizer step; NaN where none was stored (NULL, or a value
// that was not finite when recorded).
struct MetricSample {
    int64_t step = 0;
    double value = 0;
};

// Which vectors: one model's embeddings of one modality in one space (table embeddings).
struct EmbeddingKey {
    int64_t modelId = 0;
    std::string modality;           // "image" or "spectrum"
    std::string space;              // "backbone" (the encoder's own vector) or "aligned" (CLIP)
};

// A stored set of embeddings and what made it (schema 3, table embedding_sets).
struct EmbeddingSet {
    EmbeddingKey key;
    std::string model;              // the model's name (read only)
    int dim = 0;
    int64_t count = 0;              // objects with a vector
    std::string source;             // what made the vectors, e.g. "runs/clip/checkpoint-100 step 100"
    int64_t updated = 0;            // seconds since epoch of the last store
};

// Vectors read back: row i of `values` ([ids.size(), dim], float32 row-major) is object ids[i].
struct EmbeddingMatrix {
    std::vector<int64_t> ids;       // ascending
    int dim = 0;
    std::vector<float> values;
};

// A named set of labels users give objects (the Label tab, `astroclip label`): a class per
// object ("tidal", "none", ...) for kind "class", a number for kind "value".
struct LabelSetRecord {
    int64_t id = 0;                 // assigned by createLabelSet()
    std::string name;               // unique within the catalog
    std::string kind;               // "class" or "value"
    std::string description;
    int64_t created = 0;            // seconds since epoch (set by the catalog)
    int64_t count = 0;              // labelled objects (read only)
};

// One object's label in a set: text for a class set, a number (int64 or double) for a value set.
struct LabelRecord {
    int64_t objectId = 0;
    Value value;
    std::string source = "user";    // "user", "import:<file>", "model:<name>" ...
};

// A 2-D or 3-D map of one embedding set (UMAP or PCA), stored per model so views reopen it at
// once. `source` is the embedding set's source when the map was made: a map whose source
// differs from the set's current one is stale (its vectors were recomputed) and is remade.
struct MapRecord {
    int64_t id = 0;                 // assigned by storeMap()
    EmbeddingKey key;               // the embeddings it maps
    std::string model;              // the model's name (read only)
    std::string method;             // "umap" or "pca"
    int dims = 2;                   // 2 or 3
    std::string params = "{}";      // JSON text: what it was made with (seed, n_neighbors, ...)
    std::string source;             // the embedding set's source it was made from
    int64_t count = 0;              // points (read only)
    int64_t created = 0;            // seconds since epoch (set by the catalog)
};

// A map's points: row i of `coords` ([ids.size(), dims], float32 row-major) is object ids[i].
struct MapPoints {
    std::vector<int64_t> ids;       // ascending
    int dims = 0;
    std::vector<float> coords;
};

struct ObjectPosition {
    int64_t id;
    double ra, dec;
};

// Catalogue columns are real columns of the objects table, named after the reader's column:
// lower-cased, other characters than [a-z0-9_] → '_', a leading digit prefixed with '_'.
// Truth columns are stored as "truth_" + name. A catalogue column called like a field of the
// object itself (id, ra, dec, source_file_id) or starting with "truth_" is stored as
// "cat_" + name, so it never clobbers the object's position or poses as truth. Null (and
// NaN) values are not stored, so they never erase a known value. A column's type is that of
// the first value stored (integer, real, text); integer widens to real when a real arrives.
//
// A Catalog is used by one thread at a time (the connection takes no locks of its own);
// other threads or processes open their own Catalog on the same file.
class Catalog {
public:
    // Opens (creating if allowed) and migrates to the current schema. A catalog written by
    // a newer build is refused with CatalogError rather than touched.
    static Catalog open(const std::string& path, bool create = true);
    static constexpr int kSchemaVersion = 4;
    // For tests of migrations: like open(), but creates or upgrades the schema only up to
    // `version` (1..kSchemaVersion); a newer file is opened as it is. Only the parts of the
    // API that exist at that version work (v1: objects, columns, images, spectra, files).
    static Catalog openAtVersion(const std::string& path, int version);

    Catalog(Catalog&&) noexcept;
    Catalog& operator=(Catalog&&) noexcept;
    ~Catalog();

    const std::string& path() const;
    int schemaVersion();

    // RAII transaction: rolls back unless commit() was called. Transactions nest (an inner
    // one is a savepoint). Bulk writes go in one per batch: addObject inside a caller's
    // transaction is all or nothing by itself too (a failed one leaves nothing behind).
    class Transaction {
    public:
        explicit Transaction(Catalog& c);
        ~Transaction();
        void commit();
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
    private:
        Catalog* c_;
        bool done_ = false;
    };

    // --- objects ---
    // Inserts a new object with its keys, columns, truth, images and spectra. Returns its id.
    int64_t addObject(const ObjectRecord& rec);
    // Adds what rec brings to an existing object: new keys, column values (a value the object
    // already has is replaced), images and spectra; a missing position is filled in.
    void mergeIntoObject(int64_t id, const ObjectRecord& rec);
    std::optional<int64_t> findObjectByKey(const std::string& key);
    std::vector<ObjectPosition> objectPositions();
    int64_t objectCount();
    std::vector<std::string> objectKeys(int64_t id);
    std::optional<std::pair<double, double>> objectPosition(int64_t id);
    // Everything stored for one object: keys, position, catalogue columns (under their
    // catalog names, see columns()), truth (without the "truth_" prefix), images, spectra
    // and the file that first described it. Throws CatalogError for an unknown id.
    ObjectRecord object(int64_t id);

    // --- columns and queries ---
    std::vector<ColumnInfo> columns();
    // Ids of objects matching a user's filter (see where.h); "" selects all. Throws UsageError.
    std::vector<int64_t> select(const std::string& where);
    Value value(int64_t id, const std::string& column);
    // Bulk column read for analysis: values in the order of ids; null → NaN.
    std::vector<double> numbers(const std::vector<int64_t>& ids, const std::string& column);

    // --- data ---
    std::vector<ImageRecord> images(int64_t objectId);
    std::vector<SpectrumRecord> spectra(int64_t objectId);

    // --- ingest bookkeeping ---
    void recordFile(const IngestedFile& f);
    // Removes the images and spectra a file contributed (before it is read again because it
    // changed), so a re-ingest replaces them instead of adding copies. Returns rows removed.
    int64_t forgetFileData(const std::string& path);
    std::optional<IngestedFile> file(const std::string& path);
    // Every ingested-file record, ordered by path (e.g. to fingerprint what the catalog holds).
    std::vector<IngestedFile> files();

    CatalogInfo info();

    // --- models, training runs and their metrics (schema 2; CatalogError before) ---
    // Each call is one transaction. JSON arguments must be valid JSON text (UsageError).
    // Registers a new model and returns its id; UsageError when the name is taken or empty.
    int64_t registerModel(const ModelRecord& model);
    // Rewrites the model with model.id (name, stage, path, config, step, parent); UsageError
    // when the new name belongs to another model, CatalogError for an unknown id.
    void updateModel(const ModelRecord& model);
    std::optional<ModelRecord> model(const std::string& name);
    std::optional<ModelRecord> model(int64_t id);
    std::vector<ModelRecord> models();  // by id

    // A new run of a model, status "running", started now. Returns its id.
    int64_t startTrainingRun(int64_t modelId, const std::string& paramsJson);
    // The metrics of one optimizer step, all in one transaction. Recording a (run, name, step)
    // again replaces its value, so a resumed run may re-report steps it already reported.
    void recordMetrics(int64_t runId, int64_t step, const std::vector<std::pair<std::string, double>>& values);
    // Ends a running run: status "finished", "cancelled" or "failed", with a message saying
    // why; finished = now. CatalogError when the run is unknown or no longer running.
    void finishTrainingRun(int64_t runId, const std::string& status, const std::string& message);
    std::optional<TrainingRunRecord> trainingRun(int64_t runId);
    // Runs of one model, or of every model, by id.
    std::vector<TrainingRunRecord> trainingRuns(std::optional<int64_t> modelId = std::nullopt);
    // A run's metric history: name → samples by ascending step. `name` "" = every metric.
    std::map<std::string, std::vector<MetricSample>> runMetrics(int64_t runId, const std::string& name = "");
    // The last recorded value of each metric of a run (its highest step).
    std::map<std::string, MetricSample> finalMetrics(int64_t runId);

    // --- embeddings (schema 3; CatalogError before) ---
    // Stores vectors [objectIds.size(), dim] (float32 row-major, finite) for the key in one
    // transaction, replacing what those objects held for it; `source` says what made them. The
    // first store creates the set; later ones must agree with its dim and source (UsageError
    // otherwise: vectors of another model state or width are never mixed in; delete the set
    // first). UsageError too for an unknown model or object, an empty modality, space or
    // source, a non-finite value or a repeated object id; nothing of a refused batch is stored.
    void storeEmbeddings(const EmbeddingKey& key, const std::vector<int64_t>& objectIds, const float* vectors, int dim,
                         const std::string& source);
    std::optional<EmbeddingSet> embeddingSet(const EmbeddingKey& key);
    std::vector<EmbeddingSet> embeddingSets();  // by model id, modality, space
    // The objects holding a vector for the key, ascending (what a resumed `embed` skips).
    std::vector<int64_t> embeddedObjects(const EmbeddingKey& key);
    // The key's vectors, of every object or (`only`) of those listed that have one; objects
    // without a vector are left out, so compare ids. dim 0 when nothing is stored.
    EmbeddingMatrix embeddings(const EmbeddingKey& key, const std::vector<int64_t>* only = nullptr);
    // Removes the set and its vectors; returns how many vectors were removed.
    int64_t deleteEmbeddings(const EmbeddingKey& key);

    // --- label sets (tables label_sets, labels of schema 2) ---
    // Creates an empty set; UsageError when the name is taken or empty, or the kind is not
    // "class" or "value".
    int64_t createLabelSet(const std::string& name, const std::string& kind, const std::string& description = "");
    std::optional<LabelSetRecord> labelSet(const std::string& name);
    std::optional<LabelSetRecord> labelSet(int64_t id);
    std::vector<LabelSetRecord> labelSets();  // by name
    // Labels objects in one transaction, replacing a label an object already had in the set.
    // All or nothing: UsageError for an unknown set or object, a repeated object, a value of the
    // wrong kind (text for "class", a finite number for "value") or an empty class name.
    void setLabels(int64_t labelSetId, const std::vector<LabelRecord>& labels);
    // Removes those objects' labels (objects without one are ignored); returns how many were removed.
    int64_t removeLabels(int64_t labelSetId, const std::vector<int64_t>& objectIds);
    // The set's labels by object id; UsageError for an unknown set.
    std::vector<LabelRecord> labels(int64_t labelSetId);
    // Removes the set with its labels; returns whether it existed.
    bool deleteLabelSet(int64_t labelSetId);

    // --- maps (schema 4; CatalogError before) ---
    // Stores a map of ids.size() points (coords [ids.size(), map.dims], finite) in one
    // transaction, replacing the map with the same key, method and dims; returns its id.
    // UsageError for an unknown model or object, a method other than umap/pca, dims not 2 or 3,
    // a repeated object or a non-finite coordinate; nothing of a refused map is stored.
    int64_t storeMap(const MapRecord& map, const std::vector<int64_t>& ids, const float* coords);
    std::optional<MapRecord> map(const EmbeddingKey& key, const std::string& method, int dims);
    std::vector<MapRecord> maps();  // by model id, modality, space, method, dims
    // The map's points; UsageError for an unknown map id.
    MapPoints mapPoints(int64_t mapId);
    // Removes the map; returns whether it existed.
    bool deleteMap(int64_t mapId);

    sqlite3* handle();  // for the catalog's own modules and tests; nobody else writes SQL

private:
    struct Impl;
    explicit Catalog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace astroclip
