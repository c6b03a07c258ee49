#include "core/runs/run_files.h"

#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace astroclip::runs {

namespace {

// The trainer's checkpoint kind (core/train/trainer.h), repeated here to keep LibTorch out.
constexpr const char* kTrainerCheckpointKind = "astroclip-training-checkpoint";

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isFile(const std::string& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

} // namespace

std::string runFilePath(const std::string& outDir) { return (fs::path(outDir) / "run.json").string(); }

nlohmann::json readRunFile(const std::string& outDir) {
    const std::string path = runFilePath(outDir);
    if (!isFile(path))
        throw FileError(path, "is missing: " + outDir + " is not a run folder made by astroclip train");
    auto run = readJsonFile(path);
    if (!run.is_object() || run.value("format", std::string()) != kRunFileFormat)
        throw FileError(path, "is not a run description (no \"format\": \"" + std::string(kRunFileFormat) + "\")");
    for (const char* key : {"kind", "model", "config"})
        if (!run.contains(key)) throw FileError(path, std::string("has no \"") + key + "\": it was edited or damaged");
    return run;
}

void writeRunFile(const std::string& outDir, const nlohmann::json& run) { writeJsonAtomic(runFilePath(outDir), run); }

bool hasLastCheckpoint(const std::string& outDir) { return isFile((fs::path(outDir) / "last.json").string()); }

CheckpointSource locateCheckpoint(const std::string& given, const std::string& option) {
    CheckpointSource src;
    src.given = given;
    std::error_code ec;
    std::string base = given;
    if (fs::is_directory(given, ec)) {
        if (!hasLastCheckpoint(given))
            throw FileError(given, "holds no checkpoint (last.json) to take " + option + " from");
        base = (fs::path(given) / "last").string();
    } else if (endsWith(base, ".json")) {
        base.resize(base.size() - 5);
    }
    if (endsWith(base, ".safetensors")) {
        const std::string stem = base.substr(0, base.size() - 12);
        if (!isFile(base)) throw FileError(base, "no such file (" + option + ")");
        if (!isFile(stem + ".json")) {
            src.path = base;  // bare weights, named as their file says
            return src;
        }
        base = stem;
    }
    const std::string info = base + ".json";
    if (!isFile(info))
        throw FileError(given, "is not a checkpoint (" + option + " takes a run folder, <folder>/checkpoint-N or a "
                               ".safetensors file)");
    const auto json = readJsonFile(info);
    if (!json.is_object() || json.value("kind", std::string()) != kTrainerCheckpointKind)
        throw FileError(info, "is not a training checkpoint description");
    src.path = base;
    src.trainerCheckpoint = true;
    src.stage = json.value("stage", std::string());
    if (json.contains("step") && json["step"].is_number_integer()) src.step = json["step"].get<int64_t>();
    const fs::path dir = fs::path(base).parent_path();
    if (isFile(runFilePath(dir.string()))) {
        src.runDir = fs::absolute(dir).lexically_normal().string();
        src.run = readRunFile(src.runDir);
    }
    return src;
}

} // namespace astroclip::runs
