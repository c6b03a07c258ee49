#include "core/index/vector_index.h"

#include "core/common/error.h"
#include "core/index/faiss_index.h"
#include "core/index/index_files.h"
#ifdef ASTROCLIP_INDEX_WITH_TORCH
#include "core/index/torch_index.h"
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace astroclip::index {

namespace {

// Rows handed to an implementation's add at a time: bounds the normalised copy (64 MiB at
// 256 dimensions) however large the caller's batch.
constexpr int64_t kAddChunkRows = 65536;

std::string vectorsText(int64_t n) { return std::to_string(n) + (n == 1 ? " vector" : " vectors"); }

// x must be [n, d]; `what` names the argument in messages ("vectors to add", "queries").
void checkShape(std::span<const float> x, int64_t n, int64_t d, const std::string& what) {
    if (n < 0) throw UsageError("the number of " + what + " cannot be negative (got " + std::to_string(n) + ")");
    if (int64_t(x.size()) == n * d) return;
    if (x.size() % size_t(d) != 0)
        throw UsageError("the " + what + " hold " + std::to_string(x.size()) + " values, not a whole number of " +
                         std::to_string(d) + "-dimensional vectors: they come from a model with another embedding "
                         "dimension than this index (" + std::to_string(d) + "); rebuild the index for that model");
    throw UsageError("the " + what + " hold " + vectorsText(int64_t(x.size()) / d) + " of dimension " +
                     std::to_string(d) + ", but " + std::to_string(n) + " were announced");
}

// Rows [first, first + count) of x [n, d] as unit vectors into out [count, d]. Throws
// UsageError naming the row for NaN/Inf values or a zero vector (no direction to compare).
void normaliseRows(const float* x, int64_t first, int64_t count, int64_t d, const std::string& what, float* out) {
    for (int64_t r = 0; r < count; ++r) {
        const float* row = x + (first + r) * d;
        double sum = 0;
        for (int64_t j = 0; j < d; ++j) sum += double(row[j]) * double(row[j]);
        if (!std::isfinite(sum)) {
            for (int64_t j = 0; j < d; ++j)
                if (!std::isfinite(row[j]))
                    throw UsageError("the " + what + " have a NaN or infinite value in row " +
                                     std::to_string(first + r) + " (dimension " + std::to_string(j) +
                                     "): re-embed that object or leave it out");
            throw UsageError("row " + std::to_string(first + r) + " of the " + what + " is too large to normalise");
        }
        if (sum == 0)
            throw UsageError("row " + std::to_string(first + r) + " of the " + what + " is the zero vector, which "
                             "has no direction to compare by cosine similarity: leave it out");
        const double scale = 1.0 / std::sqrt(sum);
        for (int64_t j = 0; j < d; ++j) out[r * d + j] = float(double(row[j]) * scale);
    }
}

std::vector<float> normalisedCopy(std::span<const float> x, int64_t n, int64_t d, const std::string& what) {
    std::vector<float> out(size_t(n * d));
    normaliseRows(x.data(), 0, n, d, what, out.data());
    return out;
}

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

bool isTorchFactory(const std::string& factory) { return factory == "torch" || startsWith(factory, "torch:"); }

#ifndef ASTROCLIP_INDEX_WITH_TORCH
[[noreturn]] void throwNoTorch(const std::string& factory) {
    throw UsageError("index '" + factory + "' is the exact LibTorch search, but this build of AstroCLIP Studio has "
                     "no LibTorch: reconfigure with -DASTROCLIP_WITH_TORCH=ON, or use the FAISS index \"Flat\" "
                     "(also exact)");
}
#endif

} // namespace

// ---- IdSelection ------------------------------------------------------------------------------

IdSelection::IdSelection(std::vector<int64_t> ids) : ids_(std::move(ids)) {
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool IdSelection::contains(int64_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }

// ---- VectorIndex: the checks every implementation shares ----------------------------------------

VectorIndex::VectorIndex(std::string factory, int64_t dim) : factory_(std::move(factory)), dim_(dim) {}

VectorIndex::~VectorIndex() = default;

void VectorIndex::train(std::span<const float> x, int64_t n) {
    checkShape(x, n, dim_, "training vectors");
    if (isTrained()) return;
    const auto unit = normalisedCopy(x, n, dim_, "training vectors");
    doTrain(unit.data(), n);
}

void VectorIndex::add(std::span<const float> x, std::span<const int64_t> ids) {
    const int64_t n = int64_t(ids.size());
    checkShape(x, n, dim_, "vectors to add");
    if (!isTrained())
        throw UsageError("index '" + factory_ + "' must be trained before vectors are added: call train() with "
                         "representative vectors first");
    std::unordered_set<int64_t> seen;
    seen.reserve(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t id = ids[size_t(i)];
        if (id < 0)
            throw UsageError("id " + std::to_string(id) + " (row " + std::to_string(i) + ") is negative: ids must "
                             "be ≥ 0 (−1 marks an empty result slot)");
        if (!seen.insert(id).second)
            throw UsageError("id " + std::to_string(id) + " appears twice among the vectors to add: ids must be "
                             "unique");
        if (contains(id))
            throw UsageError("id " + std::to_string(id) + " is already in the index: remove it first to replace "
                             "its vector");
    }
    // Every row checked before any is added, so a bad row leaves the index as it was.
    std::vector<float> unit(size_t(std::min(n, kAddChunkRows) * dim_));
    for (int64_t first = 0; first < n; first += kAddChunkRows)
        normaliseRows(x.data(), first, std::min(kAddChunkRows, n - first), dim_, "vectors to add", unit.data());
    for (int64_t first = 0; first < n; first += kAddChunkRows) {
        const int64_t count = std::min(kAddChunkRows, n - first);
        normaliseRows(x.data(), first, count, dim_, "vectors to add", unit.data());
        doAdd(unit.data(), count, ids.data() + first);
    }
}

SearchResults VectorIndex::search(std::span<const float> queries, int64_t nq, int64_t k,
                                  const IdSelection* allowed) const {
    checkShape(queries, nq, dim_, "queries");
    if (k < 1) throw UsageError("a search needs k ≥ 1 neighbours, got k = " + std::to_string(k));
    if (!isTrained())
        throw UsageError("index '" + factory_ + "' is not trained, so it cannot be searched: train it on "
                         "representative vectors and add the vectors first");
    SearchResults out;
    out.queries = nq;
    out.k = k;
    out.ids.assign(size_t(nq * k), -1);
    out.scores.assign(size_t(nq * k), -std::numeric_limits<float>::infinity());
    if (nq == 0) return out;
    const auto unit = normalisedCopy(queries, nq, dim_, "queries");
    if (size() == 0 || (allowed && allowed->empty())) return out;
    doSearch(unit.data(), nq, k, allowed, out);
    return out;
}

int64_t VectorIndex::remove(std::span<const int64_t> ids) {
    if (!supportsRemove())
        throw UsageError("index '" + factory_ + "' cannot remove vectors (its graph links cannot be undone): "
                         "rebuild the index without them");
    std::vector<int64_t> unique(ids.begin(), ids.end());
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (int64_t id : unique)
        if (!contains(id))
            throw UsageError("id " + std::to_string(id) + " is not in the index, so it cannot be removed");
    if (!unique.empty()) doRemove(unique);
    return int64_t(unique.size());
}

void VectorIndex::setSearchParameter(const std::string& name, double) {
    throw UsageError("index '" + factory_ + "' has no search parameter '" + name + "' (an exact search has none)");
}

void VectorIndex::setThreads(int threads) {
    if (threads < 0)
        throw UsageError("the thread count must be ≥ 1, or 0 to keep the process setting; got " +
                         std::to_string(threads));
    threads_ = threads;
}

void VectorIndex::save(const std::string& path, const IndexProvenance& provenance) const {
    Payload payload;
    serialise(payload);
    IndexFileInfo info;
    info.factory = factory_;
    info.dim = dim_;
    info.count = size();
    info.provenance = provenance;
    writeIndexFiles(path, payload.tensors, info);
}

// ---- Factories ---------------------------------------------------------------------------------

std::unique_ptr<VectorIndex> makeIndex(const std::string& factory, int64_t dim) {
    if (dim < 1) throw UsageError("an index needs a vector dimension ≥ 1, got " + std::to_string(dim));
    if (isTorchFactory(factory)) {
#ifdef ASTROCLIP_INDEX_WITH_TORCH
        return makeTorchIndex(factory, dim);
#else
        throwNoTorch(factory);
#endif
    }
    return makeFaissIndex(factory, dim);
}

std::unique_ptr<VectorIndex> loadIndex(const std::string& indexPath) {
    // The sidecar alone says which implementation to build, before the container is read.
    const IndexFileInfo info = readIndexInfo(indexPath);
#ifndef ASTROCLIP_INDEX_WITH_TORCH
    if (isTorchFactory(info.factory)) throwNoTorch(info.factory);
#endif
    const OpenedIndexFiles files = openIndexFiles(indexPath);
    std::unique_ptr<VectorIndex> index;
#ifdef ASTROCLIP_INDEX_WITH_TORCH
    if (isTorchFactory(files.info.factory)) index = loadTorchIndex(files);
#endif
    if (!index) index = loadFaissIndex(files);
    if (index->dim() != files.info.dim || index->size() != files.info.count)
        throw FileError(indexPath, "holds " + vectorsText(index->size()) + " of dimension " +
                                       std::to_string(index->dim()) + " but its sidecar says " +
                                       std::to_string(files.info.count) + " of dimension " +
                                       std::to_string(files.info.dim) + ": rebuild the index");
    return index;
}

// Why these thresholds (cosine search over d ≈ 512 float32 embeddings, one CPU core):
// - Exact ("Flat") costs n·d multiply-adds per query: 50,000 × 512 ≈ 25 M, a few milliseconds,
//   and is always right; below that an approximate index buys nothing worth its recall loss.
// - HNSW32 answers in ~log n graph hops with recall ≈ 0.95+ at efSearch 64, keeping the raw
//   vectors plus ~256 B of links each: fine at ~10⁵ (0.25 GB at 512-d), but it builds in
//   superlinear time, cannot remove vectors, and at 10⁶ × 512 holds 2+ GiB.
// - IVF + PQ at ~10⁶ and beyond: nlist ≈ 4√n coarse lists keep each list ~√n/4 long (FAISS's
//   guideline is 4√n–16√n), and product quantisation with m sub-quantisers of 8 bits stores m
//   bytes per vector; m = d/8 (64 B at 512-d, 32× smaller than float32) keeps ~8 dimensions per
//   sub-quantiser, the usual balance of accuracy and size. Training needs ≥ 39·nlist vectors,
//   which ≥ 500,000 vectors supply (39 · 4√n ≤ n for n ≥ 24,336).
std::string recommendedFactory(int64_t n, int64_t dim) {
    if (n < 0 || dim < 1)
        throw UsageError("recommendedFactory needs n ≥ 0 vectors and dimension ≥ 1, got n = " + std::to_string(n) +
                         ", dim = " + std::to_string(dim));
    if (n < 50'000) return "Flat";
    if (n < 500'000) return "HNSW32";
    const auto nlist = int64_t(std::llround(4.0 * std::sqrt(double(n))));
    // Tiny vectors gain nothing from compression: keep them whole in the lists.
    if (dim < 16) return "IVF" + std::to_string(nlist) + ",Flat";
    int64_t m = dim / 8;
    while (dim % m != 0) --m;
    return "IVF" + std::to_string(nlist) + ",PQ" + std::to_string(m);
}

} // namespace astroclip::index
