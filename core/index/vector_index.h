#pragma once
// VectorIndex: cosine-similarity search over embeddings, after FAISS's own shape — one abstract
// interface, implementations chosen by a factory string:
//   FAISS   "Flat" (exact), "HNSW32", "IVF1024,PQ64", ... any string faiss::index_factory
//           accepts, always with METRIC_INNER_PRODUCT (core/index/faiss_index.cpp)
//   LibTorch "torch" (CUDA when available, else CPU), "torch:cpu", "torch:cuda": exact search
//           by blocked matrix products + top-k, float32 (core/index/torch_index.cpp, built only
//           with ASTROCLIP_WITH_TORCH)
// Every vector is L2-normalised by the index on add and on search, so callers pass raw
// embeddings and scores are cosine similarities (inner products of unit vectors).
// Ids are the caller's (catalog object ids): int64 ≥ 0, unique within an index; −1 marks an
// empty result slot.
//
// On disk an index is two files: PATH (a safetensors container of the implementation's
// arrays) and PATH.json, a small sidecar naming the factory string, dimension, count, the
// model the vectors came from (opaque `source` + `fingerprint` supplied by the caller, so a
// stale index can be told and rebuilt) and the SHA-256 of PATH.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace astroclip::index {

// The ids a filtered search may return (e.g. the objects of a catalog --where selection).
// Sorted and deduplicated on construction; ids not in the index are allowed and ignored.
class IdSelection {
public:
    IdSelection() = default;
    explicit IdSelection(std::vector<int64_t> ids);

    bool contains(int64_t id) const;
    int64_t size() const { return int64_t(ids_.size()); }
    bool empty() const { return ids_.empty(); }
    // ids [size()], ascending.
    std::span<const int64_t> ids() const { return ids_; }

private:
    std::vector<int64_t> ids_;
};

// Results of a search of nq queries for k neighbours each, best first.
struct SearchResults {
    int64_t queries = 0;
    int64_t k = 0;
    std::vector<int64_t> ids;  // [queries, k] row-major; −1 where fewer than k matched
    std::vector<float> scores; // [queries, k] cosine similarity, descending; −inf where id is −1

    int64_t id(int64_t query, int64_t rank) const { return ids[size_t(query * k + rank)]; }
    float score(int64_t query, int64_t rank) const { return scores[size_t(query * k + rank)]; }
};

// What the vectors of an index were computed with, as the caller names it (e.g. source = the
// model's run folder and modality, fingerprint = the checkpoint's SHA-256). Opaque here.
struct IndexProvenance {
    std::string source;
    std::string fingerprint;
};

// The sidecar of a saved index (cheap to read: does not touch the index file itself).
struct IndexFileInfo {
    std::string factory;  // as given to makeIndex
    int64_t dim = 0;
    int64_t count = 0;    // vectors in the index
    IndexProvenance provenance;
    std::string sha256;   // of the index file

    // True when the index was built from vectors of this model; false means stale: rebuild.
    bool isFor(const IndexProvenance& expected) const {
        return provenance.source == expected.source && provenance.fingerprint == expected.fingerprint;
    }
};

class VectorIndex {
public:
    virtual ~VectorIndex();
    VectorIndex(const VectorIndex&) = delete;
    VectorIndex& operator=(const VectorIndex&) = delete;

    // Vector dimension d.
    int64_t dim() const { return dim_; }
    // Vectors in the index.
    virtual int64_t size() const = 0;
    // The factory string this index was made from ("Flat", "IVF1024,PQ64", "torch:cpu", ...).
    const std::string& description() const { return factory_; }
    // Whether id is in the index.
    virtual bool contains(int64_t id) const = 0;

    // False for indices that must learn from data before add/search (IVF, PQ) until train().
    virtual bool isTrained() const = 0;
    // x [n, d] row-major: representative vectors (normalised here like every input). A no-op
    // for indices that need no training. UsageError for wrong sizes, NaN/Inf or zero vectors,
    // or too few vectors for the index (the message says how many it needs).
    void train(std::span<const float> x, int64_t n);

    // x [n, d] row-major, ids [n] with n = ids.size(). All or nothing: UsageError (nothing
    // added) for wrong sizes, NaN/Inf or zero vectors, negative ids, an id given twice or
    // already in the index, or an untrained index.
    void add(std::span<const float> x, std::span<const int64_t> ids);

    // queries [nq, d] row-major → results [nq, k], best first. With `allowed`, only those ids
    // are returned; exact indices honour it exactly, approximate ones search the allowed
    // vectors approximately (see each implementation). UsageError for wrong sizes, k < 1,
    // NaN/Inf or zero queries, or an untrained index.
    SearchResults search(std::span<const float> queries, int64_t nq, int64_t k,
                         const IdSelection* allowed = nullptr) const;

    // Whether remove() works here (not for HNSW graphs, whose links cannot be undone).
    virtual bool supportsRemove() const = 0;
    // ids [m]: removes those vectors; returns m. All or nothing: UsageError when an id is not
    // in the index, or when !supportsRemove() (rebuild the index without them instead).
    int64_t remove(std::span<const int64_t> ids);

    // Tunes a search: "nprobe" for IVF, "efSearch" for HNSW, any parameter faiss::ParameterSpace
    // knows; "blockElements" (scores per block, the memory bound) for torch. UsageError for a
    // parameter this index does not have.
    virtual void setSearchParameter(const std::string& name, double value);

    // threads ≥ 1: add/train/search run on that many threads (OpenMP for FAISS, LibTorch's
    // intra-op pool for torch), the previous process setting restored after each call.
    // 0 (the default): leave the process setting alone. UsageError when negative.
    void setThreads(int threads);
    int threads() const { return threads_; }

    // Writes PATH and PATH.json (see the file comment). Each is written to a temporary file
    // first; both are renamed into place only once both are complete, so a failed save leaves
    // what was on disk untouched. (A crash between the two renames leaves a pair whose SHA-256
    // disagrees, which loadIndex refuses.) FileError(path, ...) on I/O failure.
    void save(const std::string& path, const IndexProvenance& provenance) const;

protected:
    VectorIndex(std::string factory, int64_t dim);

    // The checked, normalised inputs: x [n, d] unit rows.
    virtual void doTrain(const float* x, int64_t n) = 0;
    virtual void doAdd(const float* x, int64_t n, const int64_t* ids) = 0;
    // queries [nq, d] unit rows, k ≥ 1, nq ≥ 1 → out [nq, k] filled (−1 / −inf padding).
    virtual void doSearch(const float* queries, int64_t nq, int64_t k, const IdSelection* allowed,
                          SearchResults& out) const = 0;
    // ids [m] all present and distinct.
    virtual void doRemove(std::span<const int64_t> ids) = 0;

    // The arrays save() writes into the container (defined in core/index/index_files.h).
    struct Payload;
    virtual void serialise(Payload& payload) const = 0;

private:
    std::string factory_;
    int64_t dim_;
    int threads_ = 0;
};

// A new empty index. UsageError naming what is wrong for dim < 1, a factory string FAISS does
// not accept, an IDMap wrapper (ids are managed here), "torch" in a build without
// ASTROCLIP_WITH_TORCH, or "torch:cuda" without a CUDA device.
std::unique_ptr<VectorIndex> makeIndex(const std::string& factory, int64_t dim);

// The factory string suited to n vectors of dimension dim (see vector_index.cpp for the
// reasoning): "Flat" below 50,000; "HNSW32" below 500,000; "IVF<4√n>,PQ<m>" beyond, with m
// the largest divisor of dim not above dim/8 (8-bit codes, ~8 dimensions per sub-quantiser).
std::string recommendedFactory(int64_t n, int64_t dim);

// PATH.json for an index saved at PATH.
std::string sidecarPath(const std::string& indexPath);

// Reads only the sidecar. FileError(sidecar path, ...) when missing, unreadable or not an
// index sidecar.
IndexFileInfo readIndexInfo(const std::string& indexPath);

// Loads an index saved by VectorIndex::save. FileError(path, what is wrong) when either file
// is missing, damaged, foreign or the two disagree; UsageError for a torch index in a build
// without ASTROCLIP_WITH_TORCH. Never changes the files.
std::unique_ptr<VectorIndex> loadIndex(const std::string& indexPath);

} // namespace astroclip::index
