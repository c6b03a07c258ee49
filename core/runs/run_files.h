#pragma once
// The files of a run folder that are not the trainer's: run.json (what was run, written at the
// start and at the end of every call), and finding the checkpoint a user names with --init,
// --image-init or --spectrum-init.
//
// run.json: {"format": "astroclip-train-run", "version": 1, "kind", "catalog", "model",
// "config" (run_config.h), "config_source", "where", "seed", "sources" {init, image_init,
// spectrum_init, freeze, layer_decay}, "status", "step", "total_steps", "checkpoint",
// "sessions": [{"run_id", "resumed_from_step", "steps", "device", "threads", "status",
// "message", "step"}]}
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace astroclip::runs {

inline constexpr const char* kRunFileFormat = "astroclip-train-run";

std::string runFilePath(const std::string& outDir);  // "<outDir>/run.json"
// Throws FileError(path, ...) when run.json is missing, not JSON or not a run description.
nlohmann::json readRunFile(const std::string& outDir);
void writeRunFile(const std::string& outDir, const nlohmann::json& run);  // atomic

// True when the folder holds a trainer checkpoint "last".
bool hasLastCheckpoint(const std::string& outDir);

// A checkpoint named on the command line.
struct CheckpointSource {
    std::string given;               // as written by the user
    std::string path;                // trainer checkpoint "<dir>/<name>", or a bare .safetensors file
    bool trainerCheckpoint = false;  // path is "<dir>/<name>" with a trainer's JSON beside it
    std::string stage;               // the trainer stage that wrote it ("" for bare weights)
    int64_t step = 0;
    std::string runDir;              // its folder when that holds run.json, else ""
    nlohmann::json run;              // that run.json (null when none)
};

// Accepts a run folder (its "last" checkpoint), "<dir>/<name>" (with or without .json or
// .safetensors), or a .safetensors file without a trainer description (bare weights).
// `option` names the command-line option in errors. Throws FileError when nothing usable is
// there.
CheckpointSource locateCheckpoint(const std::string& given, const std::string& option);

} // namespace astroclip::runs
