#include "core/stages/dino_losses.h"

#include "core/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace astroclip::stages {

at::Tensor centeredTeacherProbs(const at::Tensor& teacherLogits, const at::Tensor& center, double temperature) {
    assert(temperature > 0);
    return torch::softmax((teacherLogits - center) / temperature, -1);
}

at::Tensor sinkhornKnoppTeacherProbs(const at::Tensor& teacherLogits, double temperature, int iterations) {
    assert(temperature > 0 && iterations >= 1);
    // Double precision: exp(−2 / T) of the lowest cosine underflows float32 below T ≈ 0.023.
    const auto logits = teacherLogits.detach().to(torch::kFloat64);
    const int64_t rows = logits.size(0), prototypes = logits.size(1);
    if (rows == 0) return logits.to(torch::kFloat32);
    // Shifting all logits by one constant cancels in the normalisations and keeps exp finite.
    auto q = torch::exp((logits - logits.max()) / temperature).t();  // [K, N]
    q = q / q.sum();
    for (int it = 0; it < iterations; ++it) {
        q = q / q.sum(1, true) / double(prototypes);  // each prototype: 1/K
        q = q / q.sum(0, true) / double(rows);        // each row: 1/N
    }
    return (q * double(rows)).t().to(torch::kFloat32).contiguous();
}

at::Tensor updatedCenter(const at::Tensor& center, const at::Tensor& teacherLogits, double momentum) {
    const auto batchMean = teacherLogits.detach().to(torch::kFloat32).mean(0, true);
    return center * momentum + batchMean * (1.0 - momentum);
}

at::Tensor dinoLoss(const at::Tensor& studentLogits, const at::Tensor& teacherProbs, int64_t globalCrops,
                    double studentTemperature) {
    if (globalCrops < 1 || teacherProbs.size(0) % globalCrops != 0)
        throw UsageError("DINO loss: teacher rows must be a multiple of the global crop count");
    const int64_t batch = teacherProbs.size(0) / globalCrops;
    if (studentLogits.size(0) % batch != 0 || studentLogits.size(0) / batch < globalCrops)
        throw UsageError("DINO loss: student rows must hold every crop of the teacher's batch");
    const int64_t studentCrops = studentLogits.size(0) / batch;
    const auto logProbs = torch::log_softmax(studentLogits.to(torch::kFloat32) / studentTemperature, -1);
    const auto teacher = teacherProbs.to(torch::kFloat32);
    at::Tensor total = torch::zeros({}, logProbs.options());
    int64_t pairs = 0;
    for (int64_t t = 0; t < globalCrops; ++t) {
        const auto p = teacher.slice(0, t * batch, (t + 1) * batch);
        for (int64_t s = 0; s < studentCrops; ++s) {
            if (s == t) continue;  // a view is not distilled into itself
            const auto logQ = logProbs.slice(0, s * batch, (s + 1) * batch);
            total = total - (p * logQ).sum(-1).mean();
            ++pairs;
        }
    }
    if (pairs == 0) throw UsageError("DINO loss needs at least two crops");
    return total / double(pairs);
}

at::Tensor ibotLoss(const at::Tensor& studentLogits, const at::Tensor& teacherProbs, const at::Tensor& masks,
                    double studentTemperature) {
    assert(masks.scalar_type() == torch::kBool && masks.dim() == 2);
    const auto perImage = masks.sum(1);               // [N]
    const auto maskedImages = (perImage > 0).sum().item<int64_t>();
    if (maskedImages == 0) return studentLogits.sum() * 0.0;
    const auto logQ = torch::log_softmax(studentLogits.to(torch::kFloat32) / studentTemperature, -1);
    const auto perPatch = -(teacherProbs.to(torch::kFloat32) * logQ).sum(-1);  // [M]
    // Weight 1 / (masked patches of its image) per patch, so each masked image counts once.
    const auto imageOfPatch = masks.nonzero().select(1, 0);
    const auto weights = 1.0 / perImage.index_select(0, imageOfPatch).to(perPatch.scalar_type()).to(perPatch.device());
    return (perPatch * weights).sum() / double(masks.size(0));
}

at::Tensor koleoLoss(const at::Tensor& features, double eps) {
    if (features.size(0) < 2) throw UsageError("KoLeo needs at least two samples");
    namespace F = torch::nn::functional;
    const auto x = F::normalize(features.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1).p(2).eps(1e-8));
    // Nearest neighbour by the largest cosine similarity other than itself (−2 on the diagonal).
    auto similarity = torch::matmul(x, x.t());
    const auto n = x.size(0);
    similarity = similarity - 3.0 * torch::eye(n, similarity.options());
    const auto nearest = similarity.argmax(1);
    const auto distance = (x - x.index_select(0, nearest)).norm(2, -1);
    return -torch::log(distance + eps).mean();
}

double meanEntropy(const at::Tensor& probs) {
    const auto p = probs.detach().to(torch::kFloat32);
    return (-(p * torch::log(p.clamp_min(1e-30))).sum(-1)).mean().item<double>();
}

at::Tensor sampleIbotMasks(int64_t samples, int64_t patches, double minFraction, double maxFraction,
                           double sampleProbability, std::mt19937_64& rng) {
    if (!(minFraction > 0 && minFraction <= maxFraction && maxFraction <= 1 && sampleProbability >= 0 &&
          sampleProbability <= 1))
        throw UsageError("iBOT mask fractions must satisfy 0 < min <= max <= 1 and the sample share be in [0, 1]");
    auto masks = torch::zeros({samples, patches}, torch::kBool);
    auto* data = masks.data_ptr<bool>();
    auto uniform = [&] { return double(rng() >> 11) * 0x1.0p-53; };
    auto below = [&](uint64_t n) {  // unbiased, portable
        const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        uint64_t x;
        do x = rng();
        while (x >= limit);
        return int64_t(x % n);
    };
    auto shuffle = [&](std::vector<int64_t>& v) {  // Fisher–Yates with the portable draw
        for (int64_t i = int64_t(v.size()) - 1; i > 0; --i) std::swap(v[size_t(i)], v[size_t(below(uint64_t(i + 1)))]);
    };
    std::vector<int64_t> sampleOrder(static_cast<size_t>(samples));
    std::iota(sampleOrder.begin(), sampleOrder.end(), 0);
    shuffle(sampleOrder);
    const auto maskedSamples = int64_t(std::floor(double(samples) * sampleProbability));
    std::vector<int64_t> patchOrder(static_cast<size_t>(patches));
    for (int64_t k = 0; k < maskedSamples; ++k) {
        const double fraction = minFraction + (maxFraction - minFraction) * uniform();
        const auto count = std::clamp<int64_t>(std::llround(fraction * double(patches)), 1, patches);
        std::iota(patchOrder.begin(), patchOrder.end(), 0);
        shuffle(patchOrder);
        const int64_t row = sampleOrder[size_t(k)];
        for (int64_t j = 0; j < count; ++j) data[row * patches + patchOrder[size_t(j)]] = true;
    }
    return masks;
}

} // namespace astroclip::stages
