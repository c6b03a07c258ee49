#pragma once
// Importing embeddings computed elsewhere (`astroclip import-embeddings`): a table of vectors
// (vector_table.h) keyed by catalog object id or key becomes one model's embedding set, so
// maps, search and probes work on vectors from any pipeline. Qt-free and LibTorch-free.
//
// The vectors belong to a model record named by the user, registered on first import with
// stage "imported" and the file as its path. The set's source is
// "import:<absolute path> sha256:<first 16 hex digits of the file's SHA-256>": importing the
// same bytes again changes nothing, importing a changed file replaces the whole set (vectors
// of two files are never mixed), and maps made from the old vectors are then stale (their
// source differs) and remade by the next `astroclip map`.
//
// All or nothing: the model record and the set are written in one transaction after every
// check passed. Refused (FileError naming the file, or UsageError): rows whose id or key is not
// in the catalog (unless skipUnknown, which leaves them out and reports them), two rows of the
// same object, vectors of another width than the model's stored set, a model of that name that
// was trained here rather than imported (its embeddings are `astroclip embed`'s to make).
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/io/vector_table.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip {

struct EmbeddingImportParams {
    std::string file;
    std::string model;                  // the model record's name (registered when missing)
    std::string modality;               // "image" or "spectrum"
    std::string space = "backbone";     // "backbone" or "aligned"
    VectorTableOptions table;           // which columns hold the ids (or keys) and the vectors
    bool skipUnknown = false;           // leave out rows of objects the catalog lacks
};

struct EmbeddingImportResult {
    ModelRecord model;
    bool modelRegistered = false;       // the model record was created by this import
    EmbeddingSet set;                   // the set as stored
    std::string format;                 // of the file: "fits", "csv", "ecsv", "hdf5"
    std::string vectorsFrom;            // which column(s) or dataset held the vectors
    int64_t rows = 0;                   // rows in the file
    int64_t imported = 0;               // vectors stored
    std::vector<std::string> unknown;   // ids or keys of rows left out (skipUnknown)
    bool unchanged = false;             // the set already came from these bytes
    std::string replacedSource;         // the source of the set this import replaced, if any
};

// The set source recorded for vectors read from `file` (see above); FileError if unreadable.
std::string importSource(const std::string& file);

EmbeddingImportResult importEmbeddings(Catalog& catalog, const EmbeddingImportParams& params,
                                       const ProgressFn& progress = {});

} // namespace astroclip
