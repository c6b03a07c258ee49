#include "core/checkpoint/checkpoint.h"

#include "core/checkpoint/atomic_file.h"
#include "core/checkpoint/sha256.h"
#include "core/common/error.h"

#include <filesystem>

namespace astroclip {

namespace fs = std::filesystem;

CheckpointPaths checkpointPaths(const std::string& dir, const std::string& name) {
    return {(fs::path(dir) / (name + ".safetensors")).string(), (fs::path(dir) / (name + ".json")).string()};
}

void saveCheckpoint(const std::string& dir, const std::string& name, std::span<const TensorView> tensors,
                    const nlohmann::json& info, SafetensorsMetadata metadata) {
    if (!info.is_object())
        throw UsageError("checkpoint '" + name + "': its JSON description must be an object, not " +
                         std::string(info.type_name()));
    if (name.empty() || name.find('/') != std::string::npos)
        throw UsageError("checkpoint name '" + name + "' must be a non-empty file name without '/'");
    const CheckpointPaths paths = checkpointPaths(dir, name);
    metadata.try_emplace("format", "pt");
    const std::string sha256 = writeSafetensors(paths.weights, tensors, metadata);

    nlohmann::json described = info;
    described[kCheckpointWeightsKey] = {{"file", fs::path(paths.weights).filename().string()},
                                        {"bytes", fs::file_size(paths.weights)},
                                        {"sha256", sha256}};
    writeJsonAtomic(paths.info, described);
}

void saveCheckpoint(const std::string& dir, const std::string& name, std::span<const TensorData> tensors,
                    const nlohmann::json& info, SafetensorsMetadata metadata) {
    std::vector<TensorView> views;
    views.reserve(tensors.size());
    for (const auto& tensor : tensors) views.push_back(tensor.view());
    saveCheckpoint(dir, name, std::span<const TensorView>(views), info, std::move(metadata));
}

Checkpoint loadCheckpoint(const std::string& dir, const std::string& name) {
    const CheckpointPaths paths = checkpointPaths(dir, name);
    const std::string infoName = fs::path(paths.info).filename().string();
    const std::string weightsName = fs::path(paths.weights).filename().string();
    const bool haveWeights = fs::exists(paths.weights);
    const bool haveInfo = fs::exists(paths.info);
    if (!haveWeights && !haveInfo)
        throw FileError(paths.weights, "no checkpoint '" + name + "' in folder '" + dir + "' (neither " +
                                           weightsName + " nor " + infoName + " exists)");
    if (!haveWeights)
        throw FileError(paths.weights, "checkpoint '" + name + "' is incomplete: its weights file is missing");
    if (!haveInfo)
        throw FileError(paths.info, "checkpoint '" + name + "' is incomplete: its JSON description " + infoName +
                                        " is missing");

    nlohmann::json info = readJsonFile(paths.info);
    if (!info.is_object())
        throw FileError(paths.info, "checkpoint description is not a JSON object but " +
                                        std::string(info.type_name()));
    const auto record = info.find(kCheckpointWeightsKey);
    if (record == info.end() || !record->is_object() || !record->contains("file") || !(*record)["file"].is_string() ||
        !record->contains("bytes") || !(*record)["bytes"].is_number_unsigned() || !record->contains("sha256") ||
        !(*record)["sha256"].is_string())
        throw FileError(paths.info, "has no valid \"weights\" record {file, bytes, sha256}: it was not written "
                                    "by saveCheckpoint, so its weights cannot be verified");
    if ((*record)["file"].get<std::string>() != weightsName)
        throw FileError(paths.info, "describes weights file '" + (*record)["file"].get<std::string>() +
                                        "', not " + weightsName + ": the pair was renamed or mixed up");

    // Size first, before parsing: a truncated file is then reported as a damaged checkpoint
    // rather than as a malformed safetensors file.
    const std::string damaged = "checkpoint " + name + " is damaged: its weights file does not match the ";
    const uint64_t bytes = fs::file_size(paths.weights);
    if (bytes != (*record)["bytes"].get<uint64_t>())
        throw FileError(paths.weights, damaged + "size recorded in " + infoName + " (" + std::to_string(bytes) +
                                           " bytes, recorded " +
                                           std::to_string((*record)["bytes"].get<uint64_t>()) + ")");
    SafetensorsFile weights = readSafetensors(paths.weights);
    if (sha256Hex(weights.fileBytes()) != (*record)["sha256"].get<std::string>())
        throw FileError(paths.weights, damaged + "checksum recorded in " + infoName);
    return {std::move(weights), std::move(info)};
}

} // namespace astroclip
