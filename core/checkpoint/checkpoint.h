#pragma once
// A checkpoint is a pair of files in one folder:
//   <dir>/<name>.safetensors   the tensors by parameter name
//   <dir>/<name>.json          config, step, metrics, data provenance (any JSON object), plus
//                              a "weights" record {file, bytes, sha256} of the safetensors file
// The record ties the pair together: loading refuses weights that are damaged, truncated or
// belong to another checkpoint. Each file is written atomically (weights first); a crash
// between the two renames leaves a pair whose checksum disagrees, which loading refuses
// instead of silently mixing a new config with old weights or the reverse.
#include "core/checkpoint/safetensors.h"

#include <nlohmann/json.hpp>

#include <string>

namespace astroclip {

// The key saveCheckpoint() adds to the JSON side file.
inline constexpr const char* kCheckpointWeightsKey = "weights";

struct CheckpointPaths {
    std::string weights;  // <dir>/<name>.safetensors
    std::string info;     // <dir>/<name>.json
};
CheckpointPaths checkpointPaths(const std::string& dir, const std::string& name);

struct Checkpoint {
    SafetensorsFile weights;
    nlohmann::json info;  // the JSON side file as written, "weights" record included
};

// `info` must be a JSON object (UsageError otherwise); its "weights" key, if any (e.g. from a
// loaded checkpoint being saved again), is replaced by the record of the new weights file.
// The safetensors metadata gets {"format": "pt"} unless `metadata` says otherwise, which is
// what PyTorch-side loaders expect. Throws FileError for I/O failures (missing folder, ...).
void saveCheckpoint(const std::string& dir, const std::string& name, std::span<const TensorView> tensors,
                    const nlohmann::json& info, SafetensorsMetadata metadata = {});
void saveCheckpoint(const std::string& dir, const std::string& name, std::span<const TensorData> tensors,
                    const nlohmann::json& info, SafetensorsMetadata metadata = {});

// Reads and checks both files: both present, the JSON an object with a valid "weights"
// record naming this safetensors file, and the weights' size and SHA-256 as recorded.
// Throws FileError naming the file at fault and what to do.
Checkpoint loadCheckpoint(const std::string& dir, const std::string& name);

} // namespace astroclip
