// The exact LibTorch index: vectors kept as one float32 matrix on the CPU or a CUDA device;
// a search is blocked matrix products of the queries with the stored vectors, a top-k per
// block and a merge of the blocks' top-k. Built only with ASTROCLIP_WITH_TORCH.
#include "core/index/torch_index.h"

#include "core/common/error.h"
#include "core/models/out_of_memory.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>

namespace astroclip::index {

namespace {

// Score elements per block (queries × stored vectors): 16 Mi floats = 64 MiB of scores, so a
// single query scans up to 16 M vectors in one product and large query batches stay bounded.
constexpr int64_t kBlockElements = int64_t(1) << 24;
// Queries per block.
constexpr int64_t kQueryBlock = 256;

// LibTorch's intra-op thread count for one call, restored afterwards; 0 leaves it alone.
class TorchThreadScope {
public:
    explicit TorchThreadScope(int threads) {
        if (threads > 0 && threads != at::get_num_threads()) {
            saved_ = at::get_num_threads();
            at::set_num_threads(threads);
        }
    }
    ~TorchThreadScope() {
        if (saved_ > 0) at::set_num_threads(saved_);
    }
    TorchThreadScope(const TorchThreadScope&) = delete;
    TorchThreadScope& operator=(const TorchThreadScope&) = delete;

private:
    int saved_ = 0;
};

// "torch" → CUDA device 0 when LibTorch sees one, else the CPU; "torch:cpu"; "torch:cuda[:N]".
c10::Device deviceFor(const std::string& factory) {
    if (factory == "torch") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    const std::string name = factory.substr(std::string("torch:").size());
    if (name == "cpu") return c10::Device(c10::kCPU);
    if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available())
            throw UsageError("index '" + factory + "' asks for a CUDA device, but CUDA is not available (this "
                             "LibTorch has no CUDA support or sees no GPU): use \"torch:cpu\" or \"Flat\"");
        int64_t ordinal = 0;
        if (name != "cuda") {
            const std::string digits = name.substr(5);
            if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
                throw UsageError("index '" + factory + "': '" + digits + "' is not a CUDA device number");
            ordinal = std::stoll(digits);
        }
        const auto count = int64_t(torch::cuda::device_count());
        if (ordinal >= count)
            throw UsageError("index '" + factory + "' asks for CUDA device " + std::to_string(ordinal) + " but " +
                             std::to_string(count) + " are visible");
        return c10::Device(c10::kCUDA, c10::DeviceIndex(ordinal));
    }
    throw UsageError("unknown LibTorch index device in '" + factory +
                     "': use \"torch\" (CUDA when available), \"torch:cpu\" or \"torch:cuda\"");
}

class TorchIndex final : public VectorIndex {
public:
    TorchIndex(std::string factory, int64_t dim, c10::Device device)
        : VectorIndex(std::move(factory), dim), device_(device),
          storage_(at::empty({0, dim}, at::TensorOptions().dtype(at::kFloat).device(device))) {}

    int64_t size() const override { return int64_t(ids_.size()); }
    bool contains(int64_t id) const override { return where_.count(id) != 0; }
    bool isTrained() const override { return true; }
    bool supportsRemove() const override { return true; }

    // "blockElements": scores computed per block (queries × stored vectors), the memory bound
    // of a search (default 16 Mi = 64 MiB); smaller blocks only cost speed.
    void setSearchParameter(const std::string& name, double value) override {
        if (name != "blockElements") VectorIndex::setSearchParameter(name, value);
        if (!(value >= 1) || value > 1e15)
            throw UsageError("blockElements must be a positive number of scores, got " + std::to_string(value));
        blockElements_ = int64_t(value);
    }

    // vectors [n, d] (unit rows, CPU), ids [n]: the loader's way in.
    void restore(const float* vectors, std::vector<int64_t> ids) { doAdd(vectors, int64_t(ids.size()), ids.data()); }

private:
    at::Tensor stored() const { return storage_.narrow(0, 0, size()); }

    void doTrain(const float*, int64_t) override {}

    void doAdd(const float* x, int64_t n, const int64_t* ids) override {
        models::reportingOutOfMemory(
            device_, [&] { return "adding " + std::to_string(n) + " vectors to the exact index (" + description() + ")"; },
            [&] {
                return "It holds " + std::to_string(size()) + " vectors of dimension " + std::to_string(dim()) +
                       " (float32); use \"torch:cpu\", \"Flat\" or a compressed FAISS index (IVF…,PQ…).";
            },
            [&] { appendRows(x, n, ids); });
    }

    void appendRows(const float* x, int64_t n, const int64_t* ids) {
        TorchThreadScope threads(this->threads());
        const int64_t count = size();
        if (count + n > storage_.size(0)) {
            // Geometric growth: many small adds stay linear in total.
            const int64_t capacity = std::max({count + n, 2 * storage_.size(0), int64_t(1024)});
            auto grown = at::empty({capacity, dim()}, storage_.options());
            grown.narrow(0, 0, count).copy_(stored());
            storage_ = grown;
        }
        const auto rows = at::from_blob(const_cast<float*>(x), {n, dim()}, at::kFloat);
        storage_.narrow(0, count, n).copy_(rows);
        for (int64_t i = 0; i < n; ++i) {
            where_.emplace(ids[i], int64_t(ids_.size()));
            ids_.push_back(ids[i]);
        }
    }

    void doRemove(std::span<const int64_t> ids) override {
        TorchThreadScope threads(this->threads());
        std::vector<bool> drop(ids_.size(), false);
        for (int64_t id : ids) drop[size_t(where_.at(id))] = true;
        std::vector<int64_t> keep;
        std::vector<int64_t> keptIds;
        for (size_t i = 0; i < ids_.size(); ++i)
            if (!drop[i]) {
                keep.push_back(int64_t(i));
                keptIds.push_back(ids_[i]);
            }
        const auto positions = at::tensor(keep, at::kLong).to(device_);
        storage_ = storage_.index_select(0, positions);
        ids_ = std::move(keptIds);
        where_.clear();
        for (size_t i = 0; i < ids_.size(); ++i) where_.emplace(ids_[i], int64_t(i));
    }

    void doSearch(const float* queries, int64_t nq, int64_t k, const IdSelection* allowed,
                  SearchResults& out) const override {
        models::reportingOutOfMemory(
            device_, [&] { return "searching " + std::to_string(nq) + " queries in the exact index (" + description() + ")"; },
            [&] {
                return "Lower the scores computed at once (--search-param blockElements=N; " +
                       std::to_string(blockElements_) + " now) or search fewer queries per call.";
            },
            [&] { searchBlocks(queries, nq, k, allowed, out); });
    }

    void searchBlocks(const float* queries, int64_t nq, int64_t k, const IdSelection* allowed,
                      SearchResults& out) const {
        TorchThreadScope threads(this->threads());
        at::NoGradGuard noGrad;
        const int64_t n = size();
        const auto base = stored();
        // allowed → a mask over stored positions; excluded vectors score −inf and never win.
        at::Tensor mask;
        if (allowed) {
            auto host = at::zeros({n}, at::kBool);
            auto* flags = host.data_ptr<bool>();
            int64_t present = 0;
            for (int64_t id : allowed->ids()) {
                const auto found = where_.find(id);
                if (found != where_.end()) {
                    flags[found->second] = true;
                    ++present;
                }
            }
            if (present == 0) return;
            mask = host.to(device_).logical_not_();
        }
        const auto allQueries = at::from_blob(const_cast<float*>(queries), {nq, dim()}, at::kFloat).to(device_);
        const float minusInf = -std::numeric_limits<float>::infinity();
        for (int64_t q0 = 0; q0 < nq; q0 += kQueryBlock) {
            const int64_t qb = std::min(kQueryBlock, nq - q0);
            const auto block = allQueries.narrow(0, q0, qb);
            const int64_t baseBlock = std::max(k, blockElements_ / qb);
            at::Tensor bestScores, bestPositions;
            for (int64_t b0 = 0; b0 < n; b0 += baseBlock) {
                const int64_t nb = std::min(baseBlock, n - b0);
                auto scores = block.matmul(base.narrow(0, b0, nb).t());  // [qb, nb]
                if (mask.defined()) scores.masked_fill_(mask.narrow(0, b0, nb).unsqueeze(0), minusInf);
                auto [topScores, topPositions] = scores.topk(std::min(k, nb), 1, /*largest=*/true, /*sorted=*/true);
                topPositions.add_(b0);
                if (!bestScores.defined()) {
                    bestScores = topScores;
                    bestPositions = topPositions;
                    continue;
                }
                const auto mergedScores = at::cat({bestScores, topScores}, 1);
                const auto mergedPositions = at::cat({bestPositions, topPositions}, 1);
                auto [keptScores, order] = mergedScores.topk(std::min(k, mergedScores.size(1)), 1, true, true);
                bestScores = keptScores;
                bestPositions = mergedPositions.gather(1, order);
            }
            const auto hostScores = bestScores.to(at::kCPU).contiguous();
            const auto hostPositions = bestPositions.to(at::kCPU).contiguous();
            const int64_t kept = hostScores.size(1);
            const float* s = hostScores.data_ptr<float>();
            const int64_t* p = hostPositions.data_ptr<int64_t>();
            for (int64_t r = 0; r < qb; ++r)
                for (int64_t j = 0; j < kept; ++j) {
                    const float score = s[r * kept + j];
                    if (score == minusInf) break;  // only excluded vectors remain
                    out.ids[size_t((q0 + r) * k + j)] = ids_[size_t(p[r * kept + j])];
                    out.scores[size_t((q0 + r) * k + j)] = score;
                }
        }
    }

    void serialise(Payload& payload) const override {
        auto vectors = std::make_shared<at::Tensor>(stored().to(at::kCPU).contiguous());
        const auto* bytes = reinterpret_cast<const uint8_t*>(vectors->data_ptr<float>());
        payload.tensors.push_back({"vectors", DType::F32, {size(), dim()},
                                   {bytes, size_t(vectors->numel()) * sizeof(float)}});
        payload.tensors.push_back({"ids", DType::I64, {size()},
                                   {reinterpret_cast<const uint8_t*>(ids_.data()), ids_.size() * sizeof(int64_t)}});
        payload.owners.push_back(vectors);
    }

    c10::Device device_;
    int64_t blockElements_ = kBlockElements;
    at::Tensor storage_;  // [capacity, d] float32 on device_; rows [0, size()) are in use
    std::vector<int64_t> ids_;                    // position → id
    std::unordered_map<int64_t, int64_t> where_;  // id → position
};

} // namespace

std::unique_ptr<VectorIndex> makeTorchIndex(const std::string& factory, int64_t dim) {
    return std::make_unique<TorchIndex>(factory, dim, deviceFor(factory));
}

std::unique_ptr<VectorIndex> loadTorchIndex(const OpenedIndexFiles& files) {
    const std::string& path = files.container.path();
    const TensorView& vectors = indexTensor(files, "vectors", DType::F32, 2);
    const TensorView& idTensor = indexTensor(files, "ids", DType::I64, 1);
    const int64_t n = vectors.shape[0];
    if (vectors.shape[1] != files.info.dim || idTensor.shape[0] != n)
        throw FileError(path, "holds vectors " + shapeText(vectors.shape) + " and ids " + shapeText(idTensor.shape) +
                                  " but its sidecar says dimension " + std::to_string(files.info.dim) +
                                  ": damaged; rebuild the index");
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::memcpy(ids.data(), idTensor.bytes.data(), ids.size() * sizeof(int64_t));
    std::vector<int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    if (!sorted.empty() && (sorted.front() < 0 || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()))
        throw FileError(path, "lists negative or repeated ids: damaged");
    std::vector<float> values(size_t(n * files.info.dim));
    std::memcpy(values.data(), vectors.bytes.data(), values.size() * sizeof(float));
    auto index = std::make_unique<TorchIndex>(files.info.factory, files.info.dim, deviceFor(files.info.factory));
    index->restore(values.data(), std::move(ids));
    return index;
}

} // namespace astroclip::index
