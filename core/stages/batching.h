#pragma once
// The data order every training stage draws its batches from: a seeded sequence of epochs,
// each a fresh permutation of 0..n−1 cut into full batches (the last partial batch of an epoch
// is dropped, so no batch ever holds one sample twice — which matters for contrastive losses,
// where a repeated object would be its own false negative).
//
// The permutation of epoch e depends only on (seed, e), so the state is just the position
// (epoch, batch within it): state() → JSON → load() reproduces the next batches exactly, on
// any platform (the shuffle uses its own Fisher–Yates on std::mt19937_64, not std::shuffle or
// std::uniform_int_distribution, whose algorithms the standard leaves to the implementation).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace astroclip::stages {

class EpochSampler {
public:
    // n samples, batches of batchSize (1 ≤ batchSize ≤ n, else UsageError).
    EpochSampler(int64_t n, int64_t batchSize, uint64_t seed);

    // The next batch: batchSize distinct indices in [0, n).
    std::vector<int64_t> next();

    // {"n","batch_size","seed","epoch","batch"}; load() takes what state() returned and throws
    // UsageError when n, batch size or seed differ (the run's data changed since the checkpoint).
    nlohmann::json state() const;
    void load(const nlohmann::json& state);

    int64_t epoch() const { return epoch_; }
    int64_t batchesPerEpoch() const { return n_ / batchSize_; }

private:
    void shuffleEpoch();

    int64_t n_;
    int64_t batchSize_;
    uint64_t seed_;
    int64_t epoch_ = 0;
    int64_t batch_ = 0;             // next batch within the epoch
    std::vector<int64_t> order_;    // permutation of the current epoch
};

} // namespace astroclip::stages
