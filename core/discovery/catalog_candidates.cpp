#include "core/discovery/catalog_candidates.h"

#include "core/common/error.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace astroclip::discovery {

namespace {

// `text` as a number when the whole of it is one (surrounding blanks allowed).
std::optional<double> asNumber(const std::string& text) {
    const size_t first = text.find_first_not_of(" \t"), last = text.find_last_not_of(" \t");
    if (first == std::string::npos) return std::nullopt;
    double v = 0;
    const char* end = text.data() + last + 1;
    const auto [ptr, ec] = std::from_chars(text.data() + first, end, v);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return v;
}

std::string describe(const EmbeddingKey& key) { return key.modality + " " + key.space + " embeddings"; }

} // namespace

CandidateSet loadCandidates(Catalog& catalog, const EmbeddingKey& key, const std::vector<int64_t>* only) {
    EmbeddingMatrix m = catalog.embeddings(key, only);
    if (m.ids.size() < 2)
        throw UsageError(catalog.path() + ": few-shot discovery needs at least 2 objects with " + describe(key) +
                         " of model " + std::to_string(key.modelId) + " (found " + std::to_string(m.ids.size()) + ")");
    return CandidateSet(std::move(m.ids), m.values, m.dim);
}

bool isPositive(const Value& value, const std::string& positive) {
    if (const auto* s = std::get_if<std::string>(&value)) return *s == positive;
    const auto wanted = asNumber(positive);
    if (!wanted) return false;
    if (const auto* i = std::get_if<int64_t>(&value)) return double(*i) == *wanted;
    if (const auto* d = std::get_if<double>(&value)) return *d == *wanted;
    return false;
}

SetLabels labelsOf(Catalog& catalog, const LabelSetRecord& set, const std::string& positive,
                   const CandidateSet& candidates) {
    SetLabels out;
    int64_t labelledPositive = 0;
    for (const auto& l : catalog.labels(set.id)) {
        const bool p = isPositive(l.value, positive);
        labelledPositive += p ? 1 : 0;
        if (!candidates.rowOf(l.objectId)) {
            ++out.withoutVector;
            continue;
        }
        out.labels.push_back({l.objectId, p});
        (p ? out.positives : out.negatives) += 1;
    }
    const std::string where = catalog.path() + ": label set '" + set.name + "'";
    if (labelledPositive == 0)
        throw UsageError(where + " has no object labelled '" + positive +
                         "'; label a few with astroclip label set first (or check the class name)");
    if (out.positives == 0 || out.negatives == 0)
        throw UsageError(where + " needs at least one positive ('" + positive + "') and one negative (any other " +
                         "label) among objects with vectors; it has " + std::to_string(out.positives) + " and " +
                         std::to_string(out.negatives) + " (" + std::to_string(out.withoutVector) +
                         " labelled objects have no vector)");
    return out;
}

TruthCandidates candidatesWithTruth(Catalog& catalog, const EmbeddingKey& key, const std::string& column,
                                    const std::string& positive) {
    EmbeddingMatrix m = catalog.embeddings(key);
    // Per object: 1 positive, 0 negative, −1 no value in the column.
    std::vector<int8_t> state;
    state.reserve(m.ids.size());
    if (const auto wanted = asNumber(positive)) {
        // Numeric truth: one bulk read (null and text read as NaN: no value).
        for (const double v : catalog.numbers(m.ids, column)) state.push_back(std::isnan(v) ? -1 : v == *wanted ? 1 : 0);
    } else {
        for (const int64_t id : m.ids) {
            const Value v = catalog.value(id, column);
            state.push_back(std::holds_alternative<std::monostate>(v) ? -1 : isPositive(v, positive) ? 1 : 0);
        }
    }
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    std::vector<uint8_t> truth;
    int64_t withoutValue = 0;
    const size_t d = size_t(m.dim);
    for (size_t i = 0; i < m.ids.size(); ++i) {
        if (state[i] < 0) {
            ++withoutValue;
            continue;
        }
        ids.push_back(m.ids[i]);
        vectors.insert(vectors.end(), m.values.begin() + std::ptrdiff_t(i * d), m.values.begin() + std::ptrdiff_t((i + 1) * d));
        truth.push_back(uint8_t(state[i]));
    }
    if (ids.size() < 2)
        throw UsageError(catalog.path() + ": only " + std::to_string(ids.size()) + " objects have both " +
                         describe(key) + " and a value in column '" + column + "'");
    return {CandidateSet(std::move(ids), vectors, m.dim), std::move(truth), withoutValue};
}

} // namespace astroclip::discovery
