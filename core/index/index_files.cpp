#include "core/index/index_files.h"

#include "core/checkpoint/atomic_file.h"
#include "core/checkpoint/sha256.h"
#include "core/common/error.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace astroclip::index {

namespace {

namespace fs = std::filesystem;

// A finished container waiting to be renamed into place; removed unless released.
class PendingFile {
public:
    explicit PendingFile(std::string path) : path_(std::move(path)) {}
    ~PendingFile() {
        if (!path_.empty()) std::remove(path_.c_str());
    }
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;
    const std::string& path() const { return path_; }
    void release() { path_.clear(); }

private:
    std::string path_;
};

std::string pendingPathFor(const std::string& path) {
    const fs::path target(path);
    std::random_device device;
    // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on "." + std::string&&.
    std::string name = ".";
    name += target.filename().string();
    name += ".saving-";
    name += std::to_string(device());
    return (target.parent_path() / name).string();
}

nlohmann::json sidecarJson(const IndexFileInfo& info, const std::string& path) {
    return {{"format", kFormatName},
            {"version", kFormatVersion},
            {"factory", info.factory},
            {"metric", "cosine"},
            {"dim", info.dim},
            {"count", info.count},
            {"source", info.provenance.source},
            {"fingerprint", info.provenance.fingerprint},
            {"index_file", fs::path(path).filename().string()},
            {"index_sha256", info.sha256}};
}

template <class T>
T field(const nlohmann::json& json, const char* key, const std::string& sidecar) {
    if (!json.contains(key))
        throw FileError(sidecar, std::string("has no \"") + key + "\" entry: it is not a complete index sidecar; "
                                 "rebuild the index");
    try {
        return json.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw FileError(sidecar, std::string("entry \"") + key + "\" has the wrong type (" + json.at(key).dump() +
                                     "): rebuild the index");
    }
}

} // namespace

std::string sidecarPath(const std::string& indexPath) { return indexPath + ".json"; }

void writeIndexFiles(const std::string& path, std::span<const TensorView> tensors, const IndexFileInfo& infoIn) {
    IndexFileInfo info = infoIn;
    PendingFile pending(pendingPathFor(path));
    try {
        info.sha256 = writeSafetensors(pending.path(), tensors,
                                       {{kFormatKey, kFormatName}, {"factory", info.factory}});
    } catch (const FileError& e) {
        // The temporary name means nothing to the user; the folder of `path` is what failed.
        throw FileError(path, e.problem());
    }
    AtomicFile sidecar(sidecarPath(path));
    sidecar.write(sidecarJson(info, path).dump(2) + "\n");
    // Both complete on disk: now the two renames, back to back. The sidecar's commit fsyncs
    // the folder, which makes both renames durable.
    if (std::rename(pending.path().c_str(), path.c_str()) != 0)
        throw FileError(path, std::string("cannot move the finished index into place: ") + std::strerror(errno));
    pending.release();
    sidecar.commit();
}

IndexFileInfo readIndexInfo(const std::string& indexPath) {
    const std::string sidecar = sidecarPath(indexPath);
    if (!fs::exists(sidecar))
        throw FileError(sidecar, "does not exist: the index beside it was never saved completely (or was saved "
                                 "by something else); build the index");
    const nlohmann::json json = readJsonFile(sidecar);
    if (!json.is_object() || json.value("format", std::string()) != kFormatName)
        throw FileError(sidecar, std::string("is not a vector-index sidecar (no \"format\": \"") + kFormatName + "\")");
    const int version = field<int>(json, "version", sidecar);
    if (version != kFormatVersion)
        throw FileError(sidecar, "is version " + std::to_string(version) + " of the index format; this build reads "
                                 "version " + std::to_string(kFormatVersion) + ": rebuild the index");
    IndexFileInfo info;
    info.factory = field<std::string>(json, "factory", sidecar);
    info.dim = field<int64_t>(json, "dim", sidecar);
    info.count = field<int64_t>(json, "count", sidecar);
    info.provenance.source = field<std::string>(json, "source", sidecar);
    info.provenance.fingerprint = field<std::string>(json, "fingerprint", sidecar);
    info.sha256 = field<std::string>(json, "index_sha256", sidecar);
    if (info.dim < 1 || info.count < 0)
        throw FileError(sidecar, "gives dimension " + std::to_string(info.dim) + " and count " +
                                     std::to_string(info.count) + ", which no index has: rebuild the index");
    return info;
}

OpenedIndexFiles openIndexFiles(const std::string& path) {
    IndexFileInfo info = readIndexInfo(path);
    if (!fs::exists(path))
        throw FileError(path, "does not exist although its sidecar " + sidecarPath(path) + " does: rebuild the index");
    SafetensorsFile container = readSafetensors(path);
    const auto& metadata = container.metadata();
    const auto format = metadata.find(kFormatKey);
    if (format == metadata.end() || format->second != kFormatName)
        throw FileError(path, std::string("is a safetensors file but not a saved vector index (no format tag \"") +
                                  kFormatName + "\")");
    const auto factory = metadata.find("factory");
    if (factory == metadata.end() || factory->second != info.factory)
        throw FileError(path, "was saved as a '" + (factory == metadata.end() ? std::string("?") : factory->second) +
                                  "' index but its sidecar says '" + info.factory + "': the two files do not "
                                  "belong together; rebuild the index");
    // The checksum ties the pair together and catches damage the structure checks cannot see
    // (flipped bits inside the arrays).
    if (sha256Hex(container.fileBytes()) != info.sha256)
        throw FileError(path, "does not match the SHA-256 recorded in " + sidecarPath(path) +
                                  ": the file is damaged, or a save was interrupted; rebuild the index");
    return {std::move(info), std::move(container)};
}

const TensorView& indexTensor(const OpenedIndexFiles& files, const std::string& name, DType dtype, int rank) {
    const TensorView& tensor = files.container.get(name);
    if (tensor.dtype != dtype || int(tensor.shape.size()) != rank)
        throw FileError(files.container.path(),
                        "tensor '" + name + "' is " + std::string(dtypeName(tensor.dtype)) + " " +
                            shapeText(tensor.shape) + ", expected " + std::string(dtypeName(dtype)) + " of rank " +
                            std::to_string(rank) + ": not an index this build wrote");
    return tensor;
}

} // namespace astroclip::index
