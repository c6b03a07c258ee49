#include "core/index/faiss_index.h"

#include "core/common/error.h"

#include <faiss/AutoTune.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <unordered_map>

namespace astroclip::index {

namespace {

// FAISS's message without its "Error in <function> at <file>:<line>: " prefix.
std::string faissReason(const faiss::FaissException& e) {
    const std::string text = e.what();
    const auto at = text.find(".cpp:");
    if (at == std::string::npos) return text;
    const auto colon = text.find(": ", at);
    return colon == std::string::npos ? text : text.substr(colon + 2);
}

// OpenMP thread count for the duration of one call, restored afterwards; 0 leaves it alone.
class OmpThreadScope {
public:
    explicit OmpThreadScope(int threads) {
        if (threads > 0) {
            saved_ = omp_get_max_threads();
            omp_set_num_threads(threads);
        }
    }
    ~OmpThreadScope() {
        if (saved_ > 0) omp_set_num_threads(saved_);
    }
    OmpThreadScope(const OmpThreadScope&) = delete;
    OmpThreadScope& operator=(const OmpThreadScope&) = delete;

private:
    int saved_ = 0;
};

// faiss::read_index over bytes already in memory (the mapped container), without a copy.
struct SpanReader : faiss::IOReader {
    std::span<const uint8_t> bytes;
    size_t position = 0;
    size_t operator()(void* ptr, size_t size, size_t nitems) override {
        if (size == 0) return 0;
        const size_t items = std::min(nitems, (bytes.size() - position) / size);
        std::memcpy(ptr, bytes.data() + position, items * size);
        position += items * size;
        return items;
    }
};

// The index under any pre-transforms (PCA, OPQ, ...): what decides how ids, filters and
// removal work.
faiss::Index* innermost(faiss::Index* index) {
    while (auto* transform = dynamic_cast<faiss::IndexPreTransform*>(index)) index = transform->index;
    return index;
}

// Widening an HNSW search beyond this many candidates costs more than scoring the allowed
// vectors directly.
constexpr int64_t kMaxEfSearch = 1024;

class FaissIndex final : public VectorIndex {
public:
    FaissIndex(std::string factory, int64_t dim, std::unique_ptr<faiss::Index> index)
        : VectorIndex(std::move(factory), dim), index_(std::move(index)) {
        faiss::Index* inner = innermost(index_.get());
        ivf_ = dynamic_cast<faiss::IndexIVF*>(inner);
        hnsw_ = dynamic_cast<faiss::IndexHNSW*>(inner);
        // Checked against FAISS 1.7.3: these honour SearchParameters::sel; IVF and HNSW need their own
        // parameter subclasses. Others (PQ, refinement, NSG, ...) reject parameters.
        plainSelector_ = dynamic_cast<faiss::IndexFlat*>(inner) || dynamic_cast<faiss::IndexScalarQuantizer*>(inner);
        // IndexFlatCodes::remove_ids compacts the codes in order, so positions stay labels.
        compacts_ = dynamic_cast<faiss::IndexFlatCodes*>(inner) != nullptr;
    }

    // Fresh from the factory: sensible defaults for the approximate indices, also under a
    // refinement stage ("...,RFlat").
    void setDefaults() {
        faiss::Index* inner = index_.get();
        for (;;) {
            inner = innermost(inner);
            if (auto* refine = dynamic_cast<faiss::IndexRefine*>(inner)) inner = refine->base_index;
            else break;
        }
        // HNSW: FAISS's default efSearch of 16 gives poor recall for k = 16; 64 is the usual choice.
        if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(inner)) hnsw->hnsw.efSearch = 64;
        if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner)) {
            // FAISS's default nprobe of 1 scans one list; 1/16 of the lists (≥ 1) trades a few
            // percent of the data scanned for recall close to what the quantiser allows.
            ivf->nprobe = std::max<size_t>(1, ivf->nlist / 16);
            // Polysemous training reorders PQ centroids for Hamming pre-filtering
            // (polysemous_ht), which these searches never use; it costs minutes whatever n is.
            if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(ivf)) ivfpq->do_polysemous_training = false;
        }
        if (auto* pq = dynamic_cast<faiss::IndexPQ*>(inner)) pq->do_polysemous_training = false;
    }

    void restoreIds(std::vector<int64_t> ids) {
        ids_ = std::move(ids);
        rebuildWhere();
    }
    // The labels FAISS holds: positions 0..n-1, or the caller's ids in an IVF index.
    bool labelsAreIds() const { return ivf_ != nullptr; }
    const faiss::Index& faissIndex() const { return *index_; }

    int64_t size() const override { return int64_t(ids_.size()); }
    bool contains(int64_t id) const override { return where_.count(id) != 0; }
    bool isTrained() const override { return index_->is_trained; }
    bool supportsRemove() const override { return ivf_ != nullptr || compacts_; }

    void setSearchParameter(const std::string& name, double value) override {
        if ((name == "nprobe" || name == "efSearch") && !(value >= 1))
            throw UsageError(name + " must be ≥ 1, got " + std::to_string(value));
        try {
            faiss::ParameterSpace().set_index_parameter(index_.get(), name, value);
        } catch (const faiss::FaissException& e) {
            throw UsageError("index '" + description() + "' has no search parameter '" + name +
                             "' (FAISS: " + faissReason(e) + ")");
        }
    }

private:
    void doTrain(const float* x, int64_t n) override {
        if (ivf_ && n < int64_t(ivf_->nlist))
            throw UsageError("index '" + description() + "' needs at least " + std::to_string(ivf_->nlist) +
                             " training vectors (one per list; 39× that is recommended), got " + std::to_string(n) +
                             ": train on more vectors or use recommendedFactory(n, dim)");
        OmpThreadScope threads(this->threads());
        try {
            index_->train(n, x);
        } catch (const faiss::FaissException& e) {
            throw UsageError("training index '" + description() + "' on " + std::to_string(n) +
                             " vectors failed: " + faissReason(e));
        }
    }

    void doAdd(const float* x, int64_t n, const int64_t* ids) override {
        OmpThreadScope threads(this->threads());
        try {
            if (labelsAreIds())
                index_->add_with_ids(n, x, ids);
            else
                index_->add(n, x);
        } catch (const faiss::FaissException& e) {
            throw UsageError("adding to index '" + description() + "' failed: " + faissReason(e));
        }
        for (int64_t i = 0; i < n; ++i) {
            where_.emplace(ids[i], int64_t(ids_.size()));
            ids_.push_back(ids[i]);
        }
        assert(index_->ntotal == int64_t(ids_.size()));
    }

    void doRemove(std::span<const int64_t> ids) override {
        std::vector<int64_t> labels;
        labels.reserve(ids.size());
        for (int64_t id : ids) labels.push_back(labelsAreIds() ? id : where_.at(id));
        const faiss::IDSelectorBatch selector(labels.size(), labels.data());
        size_t removed = 0;
        try {
            removed = index_->remove_ids(selector);
        } catch (const faiss::FaissException& e) {
            throw UsageError("removing from index '" + description() + "' failed: " + faissReason(e));
        }
        assert(removed == ids.size());
        (void)removed;
        std::vector<bool> drop(ids_.size(), false);
        for (int64_t id : ids) drop[size_t(where_.at(id))] = true;
        size_t kept = 0;
        for (size_t i = 0; i < ids_.size(); ++i)
            if (!drop[i]) ids_[kept++] = ids_[i];
        ids_.resize(kept);
        rebuildWhere();
        assert(index_->ntotal == int64_t(ids_.size()));
    }

    void doSearch(const float* queries, int64_t nq, int64_t k, const IdSelection* allowed,
                  SearchResults& out) const override;

    void serialise(Payload& payload) const override {
        auto bytes = std::make_shared<faiss::VectorIOWriter>();
        try {
            faiss::write_index(index_.get(), bytes.get());
        } catch (const faiss::FaissException& e) {
            throw UsageError("FAISS cannot save index '" + description() + "': " + faissReason(e));
        }
        payload.tensors.push_back({"faiss_index", DType::U8, {int64_t(bytes->data.size())}, bytes->data});
        payload.tensors.push_back({"ids", DType::I64, {int64_t(ids_.size())},
                                   {reinterpret_cast<const uint8_t*>(ids_.data()), ids_.size() * sizeof(int64_t)}});
        payload.owners.push_back(bytes);
    }

    void rebuildWhere() {
        where_.clear();
        where_.reserve(ids_.size());
        for (size_t i = 0; i < ids_.size(); ++i) where_.emplace(ids_[i], int64_t(i));
    }

    // One FAISS search of the query rows `rows` for kk labels each, into labels/scores [rows, kk].
    void searchRows(const float* queries, const std::vector<int64_t>& rows, int64_t kk,
                    const faiss::SearchParameters* params, std::vector<int64_t>& labels,
                    std::vector<float>& scores) const;

    // Exact cosine of the query rows `rows` against the vectors of `labels` (positions), into out.
    void exactOverSelection(const float* queries, const std::vector<int64_t>& rows, int64_t k,
                            const std::vector<int64_t>& labels, SearchResults& out) const;

    std::unique_ptr<faiss::Index> index_;
    faiss::IndexIVF* ivf_ = nullptr;   // innermost IVF: labels are the caller's ids
    faiss::IndexHNSW* hnsw_ = nullptr; // innermost HNSW graph
    bool plainSelector_ = false;       // honours plain SearchParameters::sel
    bool compacts_ = false;            // remove_ids keeps positions as labels
    std::vector<int64_t> ids_;                    // positions: label → id; IVF: insertion order
    std::unordered_map<int64_t, int64_t> where_;  // id → index into ids_
};

void FaissIndex::searchRows(const float* queries, const std::vector<int64_t>& rows, int64_t kk,
                            const faiss::SearchParameters* params, std::vector<int64_t>& labels,
                            std::vector<float>& scores) const {
    const int64_t d = dim();
    std::vector<float> batch(rows.size() * size_t(d));
    for (size_t r = 0; r < rows.size(); ++r)
        std::memcpy(batch.data() + r * size_t(d), queries + rows[r] * d, size_t(d) * sizeof(float));
    labels.assign(rows.size() * size_t(kk), -1);
    scores.assign(rows.size() * size_t(kk), 0.f);
    try {
        index_->search(int64_t(rows.size()), batch.data(), kk, scores.data(), labels.data(), params);
    } catch (const faiss::FaissException& e) {
        throw UsageError("searching index '" + description() + "' failed: " + faissReason(e));
    }
}

// Filters and approximate indices: a FAISS selector where the index type honours one (Flat, SQ,
// IVF, HNSW), and a search that widens (nprobe, efSearch doubled) for the query rows that found
// fewer than min(k, allowed ids present) results, up to nprobe = nlist (exhaustive) or
// efSearch = kMaxEfSearch; HNSW rows still short are then scored exactly against the allowed
// vectors (reconstructed from the graph's storage). Other types
// (PQ, refinement, NSG, ...) reject selectors in FAISS 1.7.3: for them we over-fetch
// k·⌈2n/|allowed|⌉ results, keep the allowed ones and fetch 4× more for rows still short, up to
// the whole index — exact for the filter, at a cost that grows as the selection shrinks.
void FaissIndex::doSearch(const float* queries, int64_t nq, int64_t k, const IdSelection* allowed,
                          SearchResults& out) const {
    OmpThreadScope threads(this->threads());
    const int64_t n = size();

    // The allowed ids present here, as FAISS labels (ids for IVF, positions otherwise).
    std::vector<int64_t> allowedLabels;
    if (allowed) {
        for (int64_t id : allowed->ids()) {
            const auto found = where_.find(id);
            if (found != where_.end()) allowedLabels.push_back(labelsAreIds() ? id : found->second);
        }
        if (allowedLabels.empty()) return;
    }
    const int64_t available = allowed ? int64_t(allowedLabels.size()) : n;
    const int64_t wanted = std::min(k, available);

    std::unique_ptr<faiss::IDSelector> selector;
    std::vector<uint8_t> bitmap;
    if (allowed) {
        if (labelsAreIds()) {
            selector = std::make_unique<faiss::IDSelectorBatch>(allowedLabels.size(), allowedLabels.data());
        } else {
            bitmap.assign(size_t((n + 7) / 8), 0);
            for (auto label : allowedLabels) bitmap[size_t(label >> 3)] |= uint8_t(1u << (label & 7));
            selector = std::make_unique<faiss::IDSelectorBitmap>(bitmap.size(), bitmap.data());
        }
    }

    faiss::SearchParametersIVF ivfParams;
    faiss::SearchParametersHNSW hnswParams;
    faiss::SearchParameters plainParams;
    const faiss::SearchParameters* params = nullptr;
    if (ivf_) {
        ivfParams.nprobe = ivf_->nprobe;
        ivfParams.max_codes = ivf_->max_codes;
        ivfParams.sel = selector.get();
        params = &ivfParams;
    } else if (hnsw_) {
        hnswParams.efSearch = hnsw_->hnsw.efSearch;
        hnswParams.check_relative_distance = hnsw_->hnsw.check_relative_distance;
        hnswParams.sel = selector.get();
        params = &hnswParams;
    } else if (plainSelector_ && selector) {
        plainParams.sel = selector.get();
        params = &plainParams;
    }
    const bool overFetch = allowed && !params;
    const IdSelection* postFilter = overFetch ? allowed : nullptr;
    int64_t kk = k;
    if (overFetch) kk = std::min(n, k * ((2 * n + available - 1) / available));

    std::vector<int64_t> rows(static_cast<size_t>(nq));
    for (int64_t q = 0; q < nq; ++q) rows[size_t(q)] = q;
    std::vector<int64_t> labels;
    std::vector<float> scores;
    while (!rows.empty()) {
        searchRows(queries, rows, kk, params, labels, scores);
        std::vector<int64_t> shortRows;
        for (size_t r = 0; r < rows.size(); ++r) {
            const int64_t q = rows[r];
            int64_t found = 0;
            for (int64_t j = 0; j < kk && found < k; ++j) {
                const int64_t label = labels[r * size_t(kk) + size_t(j)];
                if (label < 0) continue;
                const int64_t id = labelsAreIds() ? label : ids_[size_t(label)];
                if (postFilter && !postFilter->contains(id)) continue;
                out.ids[size_t(q * k + found)] = id;
                out.scores[size_t(q * k + found)] = scores[r * size_t(kk) + size_t(j)];
                ++found;
            }
            for (int64_t j = found; j < k; ++j) {
                out.ids[size_t(q * k + j)] = -1;
                out.scores[size_t(q * k + j)] = -std::numeric_limits<float>::infinity();
            }
            if (found < wanted) shortRows.push_back(q);
        }
        // Widen the search for the rows that came back short, or stop when it was exhaustive.
        bool widened = false;
        if (!shortRows.empty()) {
            if (overFetch && kk < n) {
                kk = std::min(n, kk * 4);
                widened = true;
            } else if (ivf_ && ivfParams.nprobe < ivf_->nlist) {
                ivfParams.nprobe = std::min(ivf_->nlist, ivfParams.nprobe * 2);
                widened = true;
            } else if (hnsw_ && hnswParams.efSearch < std::min<int64_t>(n, kMaxEfSearch)) {
                hnswParams.efSearch = int(std::min<int64_t>({n, kMaxEfSearch, int64_t(hnswParams.efSearch) * 2}));
                widened = true;
            }
        }
        if (!widened) {
            // FAISS 1.7.3's HNSW misses allowed vectors of a very selective filter even with
            // efSearch = n (its graph walk stops early): score the allowed vectors directly.
            if (hnsw_ && allowed && !shortRows.empty()) exactOverSelection(queries, shortRows, k, allowedLabels, out);
            break;
        }
        rows = std::move(shortRows);
    }
}

void FaissIndex::exactOverSelection(const float* queries, const std::vector<int64_t>& rows, int64_t k,
                                    const std::vector<int64_t>& labels, SearchResults& out) const {
    const int64_t d = dim();
    std::vector<float> stored(labels.size() * size_t(d));
    try {
        for (size_t i = 0; i < labels.size(); ++i) index_->reconstruct(labels[i], stored.data() + i * size_t(d));
    } catch (const faiss::FaissException&) {
        return;  // vectors not recoverable from this index type: keep the graph's answer
    }
    std::vector<std::pair<float, int64_t>> scored(labels.size());
    for (int64_t q : rows) {
        const float* query = queries + q * d;
        for (size_t i = 0; i < labels.size(); ++i) {
            double dot = 0;
            for (int64_t j = 0; j < d; ++j) dot += double(query[j]) * double(stored[i * size_t(d) + size_t(j)]);
            scored[i] = {float(dot), ids_[size_t(labels[i])]};
        }
        const size_t kept = std::min(size_t(k), scored.size());
        std::partial_sort(scored.begin(), scored.begin() + std::ptrdiff_t(kept), scored.end(),
                          [](const auto& a, const auto& b) { return a.first > b.first; });
        for (size_t j = 0; j < kept; ++j) {
            out.ids[size_t(q * k) + j] = scored[j].second;
            out.scores[size_t(q * k) + j] = scored[j].first;
        }
    }
}

} // namespace

std::unique_ptr<VectorIndex> makeFaissIndex(const std::string& factory, int64_t dim) {
    if (factory.find("IDMap") != std::string::npos)
        throw UsageError("index factory string '" + factory + "' wraps ids itself, but this index manages the "
                         "caller's ids already: drop the IDMap part");
    if (dim > std::numeric_limits<int>::max())
        throw UsageError("vector dimension " + std::to_string(dim) + " is larger than FAISS supports");
    std::unique_ptr<faiss::Index> index;
    try {
        index.reset(faiss::index_factory(int(dim), factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    } catch (const faiss::FaissException& e) {
        throw UsageError("FAISS does not accept the index factory string '" + factory + "' for " +
                         std::to_string(dim) + "-dimensional cosine search (" + faissReason(e) +
                         "); examples: \"Flat\" (exact), \"HNSW32\", \"IVF1024,PQ64\", or \"torch\" for the exact "
                         "LibTorch search");
    }
    auto result = std::make_unique<FaissIndex>(factory, dim, std::move(index));
    result->setDefaults();
    return result;
}

std::unique_ptr<VectorIndex> loadFaissIndex(const OpenedIndexFiles& files) {
    const std::string& path = files.container.path();
    const TensorView& blob = indexTensor(files, "faiss_index", DType::U8, 1);
    const TensorView& idTensor = indexTensor(files, "ids", DType::I64, 1);

    SpanReader reader;
    reader.bytes = blob.bytes;
    std::unique_ptr<faiss::Index> index;
    try {
        index.reset(faiss::read_index(&reader));
    } catch (const faiss::FaissException& e) {
        throw FileError(path, "FAISS cannot read the index inside it: " + faissReason(e));
    } catch (const std::bad_alloc&) {
        throw FileError(path, "FAISS cannot read the index inside it: a size field is implausibly large (damaged)");
    }
    if (reader.position != blob.bytes.size())
        throw FileError(path, "has " + std::to_string(blob.bytes.size() - reader.position) +
                                  " bytes after the FAISS index: damaged or not written by this build");
    if (index->metric_type != faiss::METRIC_INNER_PRODUCT)
        throw FileError(path, "holds a FAISS index for another metric than inner product (cosine)");
    if (index->d != files.info.dim)
        throw FileError(path, "holds " + std::to_string(index->d) + "-dimensional vectors but its sidecar says " +
                                  std::to_string(files.info.dim) + ": rebuild the index");
    // The factory string must make an index of the same kind (FAISS's four-character type tag
    // that starts its serialised form), or description() would lie.
    const auto fresh = makeFaissIndex(files.info.factory, files.info.dim);
    faiss::VectorIOWriter freshBytes;
    faiss::write_index(&static_cast<const FaissIndex&>(*fresh).faissIndex(), &freshBytes);
    if (freshBytes.data.size() < 4 || blob.bytes.size() < 4 || std::memcmp(freshBytes.data.data(), blob.bytes.data(), 4) != 0)
        throw FileError(path, "holds a FAISS index of another type than its factory string '" + files.info.factory +
                                  "' makes: rebuild the index");

    std::vector<int64_t> ids(size_t(idTensor.shape[0]));
    std::memcpy(ids.data(), idTensor.bytes.data(), ids.size() * sizeof(int64_t));
    if (int64_t(ids.size()) != index->ntotal)
        throw FileError(path, "lists " + std::to_string(ids.size()) + " ids for " + std::to_string(index->ntotal) +
                                  " vectors: damaged");
    std::vector<int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    if (!sorted.empty() && (sorted.front() < 0 || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()))
        throw FileError(path, "lists negative or repeated ids: damaged");

    auto result = std::make_unique<FaissIndex>(files.info.factory, files.info.dim, std::move(index));
    if (result->labelsAreIds()) {
        // The inverted lists hold the ids themselves: they must be the listed ones.
        const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(innermost(const_cast<faiss::Index*>(&result->faissIndex())));
        std::vector<int64_t> stored;
        stored.reserve(ids.size());
        for (size_t list = 0; list < ivf->nlist; ++list) {
            const size_t count = ivf->invlists->list_size(list);
            faiss::InvertedLists::ScopedIds listIds(ivf->invlists, list);
            stored.insert(stored.end(), listIds.get(), listIds.get() + count);
        }
        std::sort(stored.begin(), stored.end());
        if (stored != sorted)
            throw FileError(path, "lists other ids than its inverted lists hold: damaged");
    }
    result->restoreIds(std::move(ids));
    return result;
}

} // namespace astroclip::index
