#pragma once
// Few-shot discovery fed from the catalog: a model's stored embeddings as candidates, a label
// set's labels as positives and negatives, a catalog column as truth. Shared by
// `astroclip label` and the Label tab so both read labels and vectors the same way.
#include "core/catalog/catalog.h"
#include "core/discovery/fewshot.h"

#include <string>
#include <vector>

namespace astroclip::discovery {

// Every object with a vector for the key (optionally only those in `only`). UsageError naming
// the catalog when fewer than 2 objects have vectors.
CandidateSet loadCandidates(Catalog& catalog, const EmbeddingKey& key, const std::vector<int64_t>* only = nullptr);

// Whether a stored label or column value is the class sought: text equal to `positive`, or a
// number equal to `positive` read as a number.
bool isPositive(const Value& value, const std::string& positive);

struct SetLabels {
    std::vector<LabelledObject> labels;  // the set's labelled objects that have a vector
    int64_t positives = 0, negatives = 0;
    int64_t withoutVector = 0;           // labelled objects left out: no vector for the key
};

// A label set's labels as the head's positives (value equal to `positive`) and negatives
// (every other label). UsageError naming the set when no label is `positive`, or when no
// positive or no negative has a vector.
SetLabels labelsOf(Catalog& catalog, const LabelSetRecord& set, const std::string& positive,
                   const CandidateSet& candidates);

// Candidates with a known truth: the key's objects that hold a value in `column` (e.g.
// truth_tidal), truth = value equal to `positive`.
struct TruthCandidates {
    CandidateSet candidates;
    std::vector<uint8_t> truth;   // per candidate row
    int64_t withoutValue = 0;     // objects with a vector but no value in the column
};
// UsageError for an unknown column (naming it and how to list the columns) or fewer than 2
// candidates with a value.
TruthCandidates candidatesWithTruth(Catalog& catalog, const EmbeddingKey& key, const std::string& column,
                                    const std::string& positive);

} // namespace astroclip::discovery
