#pragma once
// Embedding a catalog (`astroclip embed`, the app's Embed action): every selected object that
// has the modality, through a trained run's encoder, into the catalog's embeddings table
// under the run's model. Work goes in chunks of objects: each chunk is read from its files,
// encoded in batches and stored in one transaction, so an interrupted job keeps every finished
// chunk and a rerun skips the objects already embedded (unless `recompute`). Vectors stored by
// an earlier state of the model (it was trained further since) are replaced, never mixed in.
//
// The model: the run's model is looked up in the catalog by name and path; a run trained on
// another catalog is registered in this one (same name, or "<name>@<run folder>" when that
// name belongs to another model), so the vectors always point at the checkpoint they came from.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/runs/trained_encoders.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::embed {

struct EmbedJobParams {
    std::vector<Modality> modalities;           // empty: every modality the run holds in the space
    std::optional<runs::EmbeddingSpace> space;  // default: the run's (aligned for clip, else backbone)
    std::string where;                          // catalog filter; "" = every object
    int64_t batchSize = 64;                     // objects per forward pass
    int64_t chunkSize = 1024;                   // objects per read + store transaction
    bool recompute = false;                     // replace vectors already stored
    ProgressFn progress;                        // stages "embed <modality>": done/total objects
};

struct EmbedModalityResult {
    Modality modality = Modality::Image;
    bool replacedStale = false;                 // vectors of an earlier model state were deleted
    runs::EmbeddingSpace space = runs::EmbeddingSpace::Backbone;
    int64_t dim = 0;
    int64_t selected = 0;                       // objects matching `where`
    int64_t alreadyEmbedded = 0;                // skipped: stored before (not recompute)
    int64_t embedded = 0;                       // stored by this job
    int64_t withoutData = 0;                    // selected objects without this modality
    std::vector<SnapshotFailure> failures;      // data recorded but unreadable now (file and problem)
    double seconds = 0;
};

struct EmbedJobResult {
    int64_t modelId = 0;
    std::string modelName;
    std::string device;
    std::vector<EmbedModalityResult> modalities;
};

// Throws UsageError when the run lacks an encoder asked for (requireEncoder), for a bad
// filter or chunk/batch size, and when the filter selects nothing; Cancelled (after storing
// every finished chunk) when progress asks to stop.
EmbedJobResult embedCatalog(Catalog& catalog, runs::TrainedEncoders& encoders, const EmbedJobParams& params);

// The catalog's model for a run (see the header comment); registers it when missing.
ModelRecord catalogModelFor(Catalog& catalog, const runs::TrainedEncoders& encoders);
// What made the encoders' vectors: "<absolute checkpoint> step <N>" (an embedding set's source).
std::string embeddingSource(const runs::TrainedEncoders& encoders);

} // namespace astroclip::embed
