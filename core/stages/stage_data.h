#pragma once
// What every training stage does with its DatasetSnapshot: keep the held-out objects out of
// training (core/dataset/split.h), copy a batch's rows into tensors, and describe the data in
// the checkpoint's provenance.
#include "core/dataset/snapshot.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace astroclip::stages {

struct TrainingSplit {
    std::vector<int64_t> trainRows;  // snapshot rows used for training, ascending
    int64_t heldOut = 0;             // rows kept out (evaluation objects)
    double heldOutFraction = 0.0;
    uint64_t seed = 0;
};

// Rows of the snapshot outside the held-out split. UsageError when nothing is left to train on.
TrainingSplit trainingSplit(const DatasetSnapshot& snapshot, double heldOutFraction, uint64_t seed);

// float32 tensor [rows.size(), tail...] holding the given rows of a row-major array whose
// rows have prod(tail) elements (a copy: the snapshot stays untouched). With `pinned`, in
// page-locked memory, so that toDevice() sends it to a GPU without blocking the host.
torch::Tensor gatherRows(const std::vector<float>& data, const std::vector<int64_t>& tail,
                         const std::vector<int64_t>& rows, bool pinned = false);

// Whether a batch bound for `device` is made in page-locked memory: on CUDA, where it makes
// host-to-device copies asynchronous and about twice as fast; a LibTorch without CUDA has no
// page-locked allocator.
inline bool pinnedFor(c10::Device device) { return device.is_cuda(); }

// `host` moved to `device`; the copy is queued without blocking the host when `host` is
// page-locked (LibTorch keeps the memory alive until the copy has run).
torch::Tensor toDevice(const torch::Tensor& host, c10::Device device);

// {"catalog", "fingerprint", "where", "modality", "crop_size", "spectrum_downsample",
//  "spectrum_length", "selected", "loaded", "skipped_*", "failed", "train_objects",
//  "held_out_objects", "held_out_fraction", "split_seed"}
nlohmann::json snapshotProvenance(const DatasetSnapshot& snapshot, const TrainingSplit& split);

} // namespace astroclip::stages
