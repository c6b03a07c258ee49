#pragma once
// Finding what a user names on the command line or in the app: a model (by name or by the run
// folder it was trained in) and its stored embeddings. Shared by probe, search, map and label
// so each refuses a missing model or missing vectors with the same actionable message.
#include "core/catalog/catalog.h"

#include <optional>
#include <string>

namespace astroclip {

// The catalog's model a user names: a model name, or a run folder (or a checkpoint in one)
// whose model the catalog holds. UsageError listing the catalog's models when none matches.
ModelRecord findModel(Catalog& catalog, const std::string& nameOrRunFolder);

// The space a model's vectors are in unless the user says otherwise: "aligned" for a clip
// model (its shared image–spectrum space), "backbone" for every other model.
std::string defaultEmbeddingSpace(const ModelRecord& model);

// The model's stored embedding set for a modality (and space, default as above). UsageError
// naming the model when it has no such vectors, saying to run `astroclip embed` first.
EmbeddingSet requireEmbeddingSet(Catalog& catalog, const ModelRecord& model, const std::string& modality,
                                 const std::optional<std::string>& space = std::nullopt);

} // namespace astroclip
