#include "core/stages/batching.h"

#include "core/common/error.h"

#include <cassert>
#include <numeric>
#include <random>
#include <string>

namespace astroclip::stages {

namespace {

// Uniform integer in [0, bound] by rejection on the top bits: unbiased and, unlike
// std::uniform_int_distribution, the same sequence on every standard library.
uint64_t uniformUpTo(std::mt19937_64& rng, uint64_t bound) {
    if (bound == 0) return 0;
    uint64_t mask = bound;
    for (int shift = 1; shift < 64; shift *= 2) mask |= mask >> shift;
    for (;;) {
        const uint64_t draw = rng() & mask;
        if (draw <= bound) return draw;
    }
}

} // namespace

EpochSampler::EpochSampler(int64_t n, int64_t batchSize, uint64_t seed)
    : n_(n), batchSize_(batchSize), seed_(seed) {
    if (n <= 0)
        throw UsageError("no samples to draw batches from (the selection is empty)");
    if (batchSize <= 0 || batchSize > n)
        throw UsageError("batch size " + std::to_string(batchSize) + " must be between 1 and the number of "
                         "training samples (" + std::to_string(n) + ")");
    shuffleEpoch();
}

void EpochSampler::shuffleEpoch() {
    // Seed from (seed, epoch) through seed_seq so neighbouring epochs get unrelated streams.
    std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                      static_cast<uint32_t>(epoch_), static_cast<uint32_t>(static_cast<uint64_t>(epoch_) >> 32)};
    std::mt19937_64 rng(seq);
    order_.resize(static_cast<size_t>(n_));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    for (int64_t i = n_ - 1; i > 0; --i) {
        const auto j = static_cast<int64_t>(uniformUpTo(rng, static_cast<uint64_t>(i)));
        std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
    }
}

std::vector<int64_t> EpochSampler::next() {
    if (batch_ >= batchesPerEpoch()) {
        ++epoch_;
        batch_ = 0;
        shuffleEpoch();
    }
    const auto begin = order_.begin() + batch_ * batchSize_;
    std::vector<int64_t> out(begin, begin + batchSize_);
    ++batch_;
    assert(static_cast<int64_t>(out.size()) == batchSize_);
    return out;
}

nlohmann::json EpochSampler::state() const {
    return {{"n", n_}, {"batch_size", batchSize_}, {"seed", seed_}, {"epoch", epoch_}, {"batch", batch_}};
}

void EpochSampler::load(const nlohmann::json& state) {
    try {
        const auto n = state.at("n").get<int64_t>();
        const auto batchSize = state.at("batch_size").get<int64_t>();
        const auto seed = state.at("seed").get<uint64_t>();
        if (n != n_ || batchSize != batchSize_ || seed != seed_)
            throw UsageError("the saved data order is for " + std::to_string(n) + " samples in batches of " +
                             std::to_string(batchSize) + " (seed " + std::to_string(seed) + "), this run has " +
                             std::to_string(n_) + " in batches of " + std::to_string(batchSize_) + " (seed " +
                             std::to_string(seed_) + "): the data or settings changed since the checkpoint");
        const auto epoch = state.at("epoch").get<int64_t>();
        const auto batch = state.at("batch").get<int64_t>();
        if (epoch < 0 || batch < 0 || batch > batchesPerEpoch())
            throw UsageError("the saved data order has an impossible position (epoch " + std::to_string(epoch) +
                             ", batch " + std::to_string(batch) + ")");
        epoch_ = epoch;
        batch_ = batch;
    } catch (const nlohmann::json::exception& e) {
        throw UsageError(std::string("the saved data order is malformed: ") + e.what());
    }
    shuffleEpoch();
}

} // namespace astroclip::stages
