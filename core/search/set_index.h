#pragma once
// The search index of one embedding set (model, modality, space), kept beside the catalog:
//   <catalog>.indices/model<id>-<modality>-<space>-<factory>.index  (+ .json sidecar)
// The sidecar records which vectors the index holds (the set's source, count and last store),
// so an index built from vectors that were since recomputed, extended or deleted is stale and
// is rebuilt on the next open; an index file that fails its checks is rebuilt too (it is only a
// cache of the catalog's vectors, never the only copy of anything).
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/index/vector_index.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace astroclip::search {

struct SetIndexParams {
    std::string factory = "Flat";   // any makeIndex factory string: "Flat", "HNSW32", "IVF1024,PQ64", "torch" ...
    int threads = 0;                // 0 = the process setting
    bool rebuild = false;           // rebuild even when the stored index is current
    // Vectors an index that must be trained (IVF, PQ) learns from: a seeded sample of at most
    // this many of the set's vectors (training on millions costs minutes and gains little).
    int64_t maxTrainingVectors = 100000;
    // Search-time settings applied after the index is opened (not part of what is stored):
    // "nprobe" for IVF (core/index scans nlist/16 lists; more trade speed for recall), "efSearch"
    // for HNSW, "k_factor_rf" for a ",RFlat" re-ranked index, "blockElements" for torch.
    // UsageError for a name the index does not have.
    std::vector<std::pair<std::string, double>> searchParameters;
};

// What the open reports: the index and whether it was built now (and why) or loaded.
struct OpenedSetIndex {
    std::unique_ptr<index::VectorIndex> index;
    std::string path;
    bool built = false;
    std::string reason;             // when built: "none stored", "stale: ...", "damaged: ...", "asked to rebuild"
};

// The path of the set's index for a factory string.
std::string setIndexPath(const std::string& catalogPath, const EmbeddingKey& key, const std::string& factory);

// What an index of the set must have been built from (compared with the sidecar).
index::IndexProvenance setIndexProvenance(const EmbeddingSet& set);

// Loads the set's stored index, or builds it from the catalog's vectors and saves it
// (atomically) when missing, stale or damaged. UsageError when the set holds no vectors or
// the factory string is refused; FileError when the index cannot be written. Progress stage
// "index": vectors added. Cancelled leaves any stored index as it was.
OpenedSetIndex openSetIndex(Catalog& catalog, const EmbeddingSet& set, const SetIndexParams& params,
                            const ProgressFn& progress = {});

} // namespace astroclip::search
