#pragma once
// Similarity search over a catalog's stored embeddings (`astroclip search`, the app's "find
// neighbours"): queries in one modality (--from), results among the objects embedded in
// another or the same (--to), by cosine similarity in one model's space. Cross-modal search
// (image → spectrum, spectrum → image) needs the shared space of a clip model ("aligned");
// same-modal search works in any space and leaves the query object itself out of its results.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/search/set_index.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::search {

struct SearchParams {
    EmbeddingKey from;          // the queries' vectors (model, modality, space)
    EmbeddingKey to;            // the vectors searched: same model and space as `from`
    int64_t k = 16;             // neighbours per query
    std::string where;          // only objects matching this catalog filter are returned ("" = all)
    SetIndexParams index;       // which index over `to` (exact "Flat" by default)
};

struct SearchHit {
    int64_t id = -1;            // catalog object id
    float score = 0;            // cosine similarity
};

struct QueryResult {
    std::string query;                  // "object 42", or the file and object a file query came from
    std::optional<int64_t> objectId;    // for a catalog object
    std::vector<SearchHit> hits;        // best first; fewer than k when the selection is small
};

struct SearchResult {
    std::string indexPath;
    std::string indexFactory;
    bool indexBuilt = false;            // built (and saved) by this search
    std::string indexReason;            // why it was built
    int64_t indexed = 0;                // vectors in the index
    int64_t allowed = -1;               // objects the filter allows (−1: no filter)
    std::vector<QueryResult> queries;
};

// The model a search uses when the user names none: the one model whose stored embeddings
// cover both modalities in the space (aligned for cross-modal search; `space` when given).
// UsageError listing the candidates when there are none or several.
ModelRecord chooseSearchModel(Catalog& catalog, const std::string& from, const std::string& to,
                              const std::optional<std::string>& space);

// The embedding keys of a search of `model`: checks both sets exist (requireEmbeddingSet's
// message otherwise) and that a cross-modal search is in the aligned space with equal widths.
std::pair<EmbeddingKey, EmbeddingKey> searchKeys(Catalog& catalog, const ModelRecord& model, const std::string& from,
                                                 const std::string& to, const std::optional<std::string>& space);

// Queries by catalog object: each object's stored `from` vector. UsageError for an unknown
// object or one without a `from` vector (saying whether it lacks the data or was not
// embedded), k < 1, or a filter that selects nothing.
SearchResult searchByObjects(Catalog& catalog, const SearchParams& params, const std::vector<int64_t>& objectIds,
                             const ProgressFn& progress = {});

// Queries by vectors computed elsewhere (e.g. a FITS file embedded on the fly): vectors
// [labels.size(), dim] row-major, labelled for the results. UsageError for a width other
// than the set's.
SearchResult searchByVectors(Catalog& catalog, const SearchParams& params, const std::vector<std::string>& labels,
                             const std::vector<float>& vectors, int dim, const ProgressFn& progress = {});

} // namespace astroclip::search
