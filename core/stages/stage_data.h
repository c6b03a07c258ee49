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
// rows have prod(tail) elements (a copy: the snapshot stays untouched).
torch::Tensor gatherRows(const std::vector<float>& data, const std::vector<int64_t>& tail,
                         const std::vector<int64_t>& rows);

// {"catalog", "fingerprint", "where", "modality", "crop_size", "spectrum_downsample",
//  "spectrum_length", "selected", "loaded", "skipped_*", "failed", "train_objects",
//  "held_out_objects", "held_out_fraction", "split_seed"}
nlohmann::json snapshotProvenance(const DatasetSnapshot& snapshot, const TrainingSplit& split);

} // namespace astroclip::stages
