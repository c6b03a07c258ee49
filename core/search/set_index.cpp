#include "core/search/set_index.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <numeric>
#include <random>

namespace fs = std::filesystem;

namespace astroclip::search {

namespace {

// Factory strings hold ',' and other characters that do not belong in file names.
std::string fileSafe(const std::string& s) {
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return out;
}

// A seeded sample of rows (ascending, so reads stay in order) when there are more than `max`.
std::vector<int64_t> sampleRows(int64_t n, int64_t max) {
    std::vector<int64_t> rows(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), 0);
    if (n <= max) return rows;
    std::mt19937_64 rng(0x5eed);
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(size_t(max));
    std::sort(rows.begin(), rows.end());
    return rows;
}

std::unique_ptr<index::VectorIndex> buildIndex(Catalog& catalog, const EmbeddingSet& set, const SetIndexParams& params,
                                               const ProgressFn& progress) {
    const EmbeddingMatrix m = catalog.embeddings(set.key);
    const int64_t n = int64_t(m.ids.size()), d = m.dim;
    if (n == 0)
        throw UsageError(catalog.path() + ": model '" + set.model + "' has no " + set.key.modality + " " +
                         set.key.space + " embeddings to index; compute them with astroclip embed first");
    auto idx = index::makeIndex(params.factory, d);
    if (params.threads > 0) idx->setThreads(params.threads);
    if (!idx->isTrained()) {
        report(progress, {"index", 0, n, "training " + params.factory});
        const auto rows = sampleRows(n, params.maxTrainingVectors);
        std::vector<float> sample(rows.size() * size_t(d));
        for (size_t i = 0; i < rows.size(); ++i)
            std::copy_n(m.values.data() + rows[i] * d, d, sample.data() + i * size_t(d));
        idx->train(sample, int64_t(rows.size()));
    }
    // Added in blocks so the progress bar moves and Ctrl-C is heard on large sets.
    constexpr int64_t kBlock = 65536;
    for (int64_t start = 0; start < n; start += kBlock) {
        report(progress, {"index", start, n, params.factory});
        const int64_t count = std::min(kBlock, n - start);
        idx->add(std::span<const float>(m.values.data() + start * d, size_t(count * d)),
                 std::span<const int64_t>(m.ids.data() + start, size_t(count)));
    }
    report(progress, {"index", n, n, params.factory});
    return idx;
}

} // namespace

std::string setIndexPath(const std::string& catalogPath, const EmbeddingKey& key, const std::string& factory) {
    const fs::path folder = fs::path(catalogPath).string() + ".indices";
    return (folder / ("model" + std::to_string(key.modelId) + "-" + fileSafe(key.modality) + "-" + fileSafe(key.space) +
                      "-" + fileSafe(factory) + ".index"))
        .string();
}

index::IndexProvenance setIndexProvenance(const EmbeddingSet& set) {
    return {"model " + std::to_string(set.key.modelId) + " " + set.key.modality + " " + set.key.space,
            set.source + "; " + std::to_string(set.count) + " vectors of " + std::to_string(set.dim) +
                "-d; stored " + std::to_string(set.updated)};
}

OpenedSetIndex openSetIndex(Catalog& catalog, const EmbeddingSet& set, const SetIndexParams& params,
                            const ProgressFn& progress) {
    OpenedSetIndex out;
    out.path = setIndexPath(catalog.path(), set.key, params.factory);
    const auto expected = setIndexProvenance(set);
    std::error_code ec;
    if (params.rebuild) {
        out.reason = "asked to rebuild";
    } else if (!fs::exists(out.path, ec)) {
        out.reason = "none stored";
    } else {
        try {
            const auto info = index::readIndexInfo(out.path);
            if (!info.isFor(expected) || info.factory != params.factory || info.dim != set.dim) {
                out.reason = "stale: built from " + info.provenance.fingerprint + ", the set now holds " +
                             expected.fingerprint;
            } else {
                out.index = index::loadIndex(out.path);
                if (params.threads > 0) out.index->setThreads(params.threads);
                for (const auto& [name, value] : params.searchParameters) out.index->setSearchParameter(name, value);
                return out;
            }
        } catch (const FileError& e) {
            out.reason = std::string("damaged: ") + e.what();
        }
    }
    out.index = buildIndex(catalog, set, params, progress);
    out.built = true;
    fs::create_directories(fs::path(out.path).parent_path(), ec);
    if (ec) throw FileError(fs::path(out.path).parent_path().string(), "cannot create the index folder: " + ec.message());
    out.index->save(out.path, expected);
    for (const auto& [name, value] : params.searchParameters) out.index->setSearchParameter(name, value);
    logInfo(out.path + ": built " + params.factory + " index of " + std::to_string(set.count) + " " +
            set.key.modality + " vectors (" + out.reason + ")");
    return out;
}

} // namespace astroclip::search
