#pragma once
// Helpers shared by the model tests.
#include <torch/torch.h>

#include <QString>

#include <algorithm>
#include <thread>

namespace astroclip::models::test {

// Tests use every core the machine has (CI has two) and are deterministic from a seed.
inline void useAllCores(uint64_t seed = 1234) {
    torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    torch::manual_seed(seed);
}

inline double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

inline QString shapeOf(const torch::Tensor& t) {
    QString text = "[";
    for (int64_t i = 0; i < t.dim(); ++i) text += (i ? "," : "") + QString::number(t.size(i));
    return text + "]";
}

} // namespace astroclip::models::test
