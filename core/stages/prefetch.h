#pragma once
// Batches made one ahead on a worker thread: on a GPU, the CPU work of a batch (multi-crop
// augmentation, copies into page-locked memory) overlaps the device's work on the previous
// one instead of leaving the GPU idle while the host prepares data.
//
// The producer runs on one thread at a time and batches come out in the order they were made,
// so a run with prefetching draws exactly the batches of a run without it. The producer owns
// state (sampler position, augmentation RNG) that a checkpoint records: a stage asks waiting()
// for the batch already made ahead, whose recorded state is where a resumed run must start
// drawing again, and calls discard() before replacing the producer's state on resume.
#include <functional>
#include <future>
#include <optional>
#include <utility>

namespace astroclip::stages {

template <class Batch>
class Prefetcher {
public:
    explicit Prefetcher(std::function<Batch()> produce) : produce_(std::move(produce)) {}
    ~Prefetcher() {
        try {
            discard();
        } catch (...) {
            // A producer error nobody asked for any more: the stage is going away.
        }
    }
    Prefetcher(const Prefetcher&) = delete;
    Prefetcher& operator=(const Prefetcher&) = delete;

    // The batch made ahead, else one made now on the calling thread; with `ahead`, the worker
    // starts on the following one. A producer's exception comes out here.
    Batch next(bool ahead) {
        settle();
        std::optional<Batch> batch = std::move(ready_);
        ready_.reset();
        if (!batch) batch.emplace(produce_());
        if (ahead) pending_ = std::async(std::launch::async, produce_);
        return std::move(*batch);
    }

    // The batch made ahead (after waiting for the worker), or nullptr.
    const Batch* waiting() {
        settle();
        return ready_ ? &*ready_ : nullptr;
    }

    // Waits for the worker and forgets the batch it made.
    void discard() {
        settle();
        ready_.reset();
    }

private:
    void settle() {
        if (pending_.valid()) ready_.emplace(pending_.get());
    }

    std::function<Batch()> produce_;
    std::future<Batch> pending_;
    std::optional<Batch> ready_;
};

} // namespace astroclip::stages
