#pragma once
// Cross-modal retrieval, AstroCLIP's test of the shared space: each object's image vector
// queries every candidate's spectrum vector (and the reverse); the rank of its own spectrum
// among them (1 = first) says how well the two modalities were aligned.
#include "core/catalog/catalog.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::analysis {

struct RetrievalResult {
    std::string from, to;          // modalities
    std::vector<int64_t> ids;      // objects with both vectors (and in `only`), ascending
    std::vector<int64_t> ranks;    // per id: 1 + candidates scored strictly above its partner
    double medianRank = 0;
    double top1 = 0, top10 = 0;    // share of partners ranked first, within the first ten
};

// Cosine similarity, exact (blocked matrix products). `from` and `to` are the two sets of
// vectors (same width); only objects present in both (and in `only` when given) take part.
// UsageError for different widths or fewer than 2 objects in common.
RetrievalResult crossModalRetrieval(const EmbeddingMatrix& from, const EmbeddingMatrix& to, const std::string& fromName,
                                    const std::string& toName, const std::vector<int64_t>* only = nullptr);

} // namespace astroclip::analysis
