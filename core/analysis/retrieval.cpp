#include "core/analysis/retrieval.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <unordered_set>

namespace astroclip::analysis {

namespace {

// Rows of m for the given ids (all present), L2-normalised, as a [n, d] float tensor.
torch::Tensor unitRows(const EmbeddingMatrix& m, const std::vector<int64_t>& ids) {
    auto out = torch::empty({int64_t(ids.size()), int64_t(m.dim)}, torch::kFloat);
    float* dst = out.data_ptr<float>();
    for (size_t i = 0; i < ids.size(); ++i) {
        const auto row = size_t(std::lower_bound(m.ids.begin(), m.ids.end(), ids[i]) - m.ids.begin());
        std::copy_n(m.values.data() + row * size_t(m.dim), m.dim, dst + i * size_t(m.dim));
    }
    return torch::nn::functional::normalize(out, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

} // namespace

RetrievalResult crossModalRetrieval(const EmbeddingMatrix& from, const EmbeddingMatrix& to, const std::string& fromName,
                                    const std::string& toName, const std::vector<int64_t>* only) {
    if (from.dim != to.dim)
        throw UsageError(fromName + " vectors are " + std::to_string(from.dim) + "-d and " + toName + " vectors " +
                         std::to_string(to.dim) + "-d: they are not in one space");
    RetrievalResult r;
    r.from = fromName;
    r.to = toName;
    std::unordered_set<int64_t> allowed;
    if (only) allowed.insert(only->begin(), only->end());
    std::set_intersection(from.ids.begin(), from.ids.end(), to.ids.begin(), to.ids.end(), std::back_inserter(r.ids));
    if (only) std::erase_if(r.ids, [&](int64_t id) { return !allowed.count(id); });
    const int64_t n = int64_t(r.ids.size());
    if (n < 2) throw UsageError("cross-modal retrieval needs at least 2 objects with both vectors (found " + std::to_string(n) + ")");

    torch::NoGradGuard noGrad;
    const auto q = unitRows(from, r.ids), c = unitRows(to, r.ids);
    r.ranks.resize(size_t(n));
    constexpr int64_t kBlock = 1024;  // rows of the n × n similarity matrix held at once
    for (int64_t start = 0; start < n; start += kBlock) {
        const int64_t rows = std::min(kBlock, n - start);
        const auto sims = q.narrow(0, start, rows).matmul(c.t());                       // [rows, n]
        const auto own = sims.gather(1, torch::arange(start, start + rows).unsqueeze(1));  // [rows, 1]
        const auto above = (sims > own).sum(1).contiguous();                            // [rows]
        const int64_t* a = above.data_ptr<int64_t>();
        for (int64_t i = 0; i < rows; ++i) r.ranks[size_t(start + i)] = 1 + a[i];
    }
    auto sorted = r.ranks;
    std::sort(sorted.begin(), sorted.end());
    r.medianRank = n % 2 ? double(sorted[size_t(n / 2)]) : 0.5 * double(sorted[size_t(n / 2 - 1)] + sorted[size_t(n / 2)]);
    r.top1 = double(std::count(sorted.begin(), sorted.end(), 1)) / double(n);
    r.top10 = double(std::count_if(sorted.begin(), sorted.end(), [](int64_t x) { return x <= 10; })) / double(n);
    return r;
}

} // namespace astroclip::analysis
