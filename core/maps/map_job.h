#pragma once
// The map job: a UMAP or PCA layout of one model's stored embeddings, kept in the catalog per
// (model, modality, space, method, dims) so views reopen it at once (`astroclip map`, the
// app's map view). Qt-free and LibTorch-free.
//
// Geometry: the vectors are compared by cosine, as everywhere else they are used (search ranks
// by cosine over normalised vectors, the CLIP loss trains cosine similarities, and a vector's
// length carries no meaning the model was trained to give it). So UMAP's k-NN graph uses the
// cosine metric, and PCA projects the L2-normalised vectors: on unit vectors the squared
// Euclidean distance is 2 − 2 cos, so both maps show the geometry search and probes see.
//
// Reuse: a stored map is returned as it is when it was made from the set's current vectors
// (its source equals the set's source and it holds a point for exactly the set's objects) with
// the same parameters; otherwise it is remade and replaces the stored one (one map per key,
// method and dims). A stale map (the vectors were recomputed or more were added) is thus
// never shown. `recompute` remakes it regardless.
//
// A selection (`where`): its map is computed and returned but not stored, unless it holds
// every vector of the set (then it is the set's map). UMAP and PCA lay out each point relative
// to all the others, so a selection's layout is not a part of the whole set's; storing it
// under the set's key would pass a partial layout off as the set's map to every later view.
// To see a selection within the whole, open the stored map and filter its points.
//
// Cancellation: a false return from progress throws Cancelled before anything is written,
// so the stored map stays as it was.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/maps/umap.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::maps {

struct MapJobParams {
    std::string model;                  // a model's name, or the run folder it was trained in
    std::string modality = "image";     // "image" or "spectrum"
    std::optional<std::string> space;   // default: "aligned" for a clip model, else "backbone"
    std::string method = "umap";        // "umap" or "pca"
    int dims = 2;                       // 2 or 3
    std::string where;                  // filter (where.h); "" = every object with a vector
    int nNeighbors = 15;                // UMAP: neighbourhood size (umap-learn's default)
    double minDist = 0.1;               // UMAP: how tightly points may pack
    uint64_t seed = 0;                  // UMAP: the random stream (the map is reproducible)
    int threads = 0;                    // 0: all cores (not part of the map's identity)
    bool recompute = false;             // remake even when a stored map is current
};

struct MapJobResult {
    ModelRecord model;
    EmbeddingSet set;                   // the vectors mapped
    MapRecord map;                      // as stored (or reused); id 0 for an unstored selection map
    MapPoints points;                   // the layout, by ascending object id
    bool reused = false;                // a current stored map was returned, nothing computed
    bool stored = false;                // this call wrote the map to the catalog
    std::string replaced;               // why a stored map was remade: "stale", "objects", "params",
                                        // "recompute"; "" when there was none or it was kept
    int64_t selected = 0;               // objects the filter matched (with `where`)
    int64_t withoutVector = 0;          // of those, objects without a vector (left out)
    UmapInfo umap;                      // when UMAP ran
    std::vector<double> explainedVarianceRatio;  // when PCA ran: per map axis
};

// The parameters a map is identified by besides its key, method and dims, as stored in
// MapRecord::params (JSON text): UMAP's metric, neighbours, min_dist, seed, init and epochs;
// PCA's input normalisation. Two maps with equal params of the same vectors are the same map.
std::string mapParamsJson(const MapJobParams& params);

// Throws UsageError for an unknown model, a model without the set's vectors, a filter that
// selects nothing or only objects without vectors, bad parameters, too few points for the
// method, or a zero vector (cosine undefined); Cancelled when progress asks to stop.
MapJobResult makeMap(Catalog& catalog, const MapJobParams& params, const ProgressFn& progress = {});

} // namespace astroclip::maps
