#include "core/dataset/snapshot_cache.h"

#include "core/checkpoint/safetensors.h"
#include "core/checkpoint/sha256.h"
#include "core/common/error.h"
#include "core/common/log.h"
#include "core/dataset/cutout.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

namespace astroclip {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "astroclip-dataset-snapshot";
constexpr const char* kVersion = "1";

// The parameters that decide a snapshot's content, in canonical form: fields that do not
// matter for the modality (crop for spectra only, downsampling for images only) are left out
// so they cannot make an equal snapshot look different. The memory budget is no part of it.
json selectionJson(const SnapshotParams& p) {
    json j = {{"where", p.where}, {"modality", modalityName(p.modality)}, {"columns", p.columns}};
    if (p.modality != Modality::Spectrum) j["crop_size"] = p.cropSize;
    if (p.modality != Modality::Image) j["spectrum_downsample"] = p.spectrumDownsample;
    return j;
}

SnapshotParams paramsFromMetadata(const std::string& path, const SafetensorsMetadata& meta) {
    const auto get = [&](const char* key) {
        auto it = meta.find(key);
        if (it == meta.end()) throw FileError(path, std::string("snapshot metadata lacks '") + key + "'");
        return it->second;
    };
    SnapshotParams p;
    p.where = get("where");
    const auto modality = parseModality(get("modality"));
    if (!modality) throw FileError(path, "snapshot metadata names an unknown modality '" + get("modality") + "'");
    p.modality = *modality;
    try {
        p.cropSize = std::stoi(get("crop_size"));
        p.spectrumDownsample = std::stoi(get("spectrum_downsample"));
        p.columns = json::parse(get("columns")).get<std::vector<std::string>>();
    } catch (const std::exception& e) {
        throw FileError(path, std::string("snapshot metadata is malformed: ") + e.what());
    }
    return p;
}

std::string canonicalPath(const std::string& path) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? path : canonical.string();
}

void hashText(Sha256& h, const std::string& text) {
    const uint64_t n = text.size();  // length prefix: no two field sequences hash alike
    h.update({reinterpret_cast<const uint8_t*>(&n), sizeof n});
    h.update({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

template <class T>
std::span<const uint8_t> bytesOf(const std::vector<T>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

template <class T>
std::vector<T> copyTensor(const TensorView& t) {
    std::vector<T> out(t.bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
    return out;
}

const TensorView& expectTensor(const SafetensorsFile& file, const std::string& name, DType dtype,
                               const std::vector<int64_t>& shape) {
    const TensorView& t = file.get(name);  // FileError when absent
    if (t.dtype != dtype || t.shape != shape)
        throw FileError(file.path(), "snapshot tensor '" + name + "' is " + std::string(dtypeName(t.dtype)) + " " +
                                         shapeText(t.shape) + ", expected " + std::string(dtypeName(dtype)) + " " +
                                         shapeText(shape));
    return t;
}

} // namespace

std::string catalogFingerprint(Catalog& catalog, const SnapshotParams& params, const std::vector<int64_t>& selectedIds) {
    Sha256 h;
    hashText(h, std::string(kFormat) + " " + kVersion);
    hashText(h, selectionJson(params).dump());
    h.update(bytesOf(selectedIds));
    for (const IngestedFile& f : catalog.files()) {
        hashText(h, f.path);
        hashText(h, f.status);
        const int64_t recorded[2] = {f.size, f.mtime};
        h.update({reinterpret_cast<const uint8_t*>(recorded), sizeof recorded});
        // Pixels are read by reference, so the file as it is now matters too (nanoseconds:
        // a rewrite within the same second still shows).
        std::error_code ec;
        const auto size = fs::file_size(f.path, ec);
        const auto time = ec ? fs::file_time_type{} : fs::last_write_time(f.path, ec);
        const int64_t onDisk[2] = {ec ? int64_t(-1) : int64_t(size), ec ? int64_t(0) : int64_t(time.time_since_epoch().count())};
        h.update({reinterpret_cast<const uint8_t*>(onDisk), sizeof onDisk});
    }
    return h.finishHex();
}

void saveSnapshot(const std::string& path, const DatasetSnapshot& s) {
    const int64_t n = int64_t(s.size());
    std::vector<TensorView> tensors;
    tensors.push_back({"ids", DType::I64, {n}, bytesOf(s.ids)});
    if (s.hasImages()) {
        const int64_t side = s.cropSize;
        tensors.push_back({"images", DType::F32, {n, kCutoutBands, side, side}, bytesOf(s.images)});
        tensors.push_back({"image_mask", DType::U8, {n, kCutoutBands, side, side}, bytesOf(s.imageMask)});
        tensors.push_back({"band_present", DType::U8, {n, kCutoutBands}, bytesOf(s.bandPresent)});
    }
    if (s.hasSpectra()) {
        tensors.push_back({"spectrum_flux", DType::F32, {n, s.spectrumLength}, bytesOf(s.spectrumFlux)});
        tensors.push_back({"spectrum_ivar", DType::F32, {n, s.spectrumLength}, bytesOf(s.spectrumIvar)});
    }
    for (const auto& name : s.params.columns) {
        auto it = s.columns.find(name);
        if (it == s.columns.end()) throw UsageError("snapshot lacks the values of its column '" + name + "'");
        tensors.push_back({"column:" + name, DType::F64, {n}, bytesOf(it->second)});
    }

    json failures = json::array();
    for (const auto& f : s.failures) failures.push_back({{"id", f.id}, {"reason", f.reason}});
    const auto& c = s.counts;
    const json counts = {{"selected", c.selected},
                         {"loaded", c.loaded},
                         {"skipped_no_image", c.skippedNoImage},
                         {"skipped_band_images_only", c.skippedBandImagesOnly},
                         {"skipped_no_spectrum", c.skippedNoSpectrum},
                         {"failed", c.failed}};
    SafetensorsMetadata meta{{"format", kFormat},
                             {"version", kVersion},
                             {"catalog", s.catalogPath},
                             {"where", s.params.where},
                             {"modality", modalityName(s.params.modality)},
                             {"crop_size", std::to_string(s.params.cropSize)},
                             {"spectrum_downsample", std::to_string(s.params.spectrumDownsample)},
                             {"spectrum_length", std::to_string(s.spectrumLength)},
                             {"columns", json(s.params.columns).dump()},
                             {"fingerprint", s.fingerprint},
                             {"counts", counts.dump()},
                             {"failures", failures.dump()},
                             {"image_units", json(s.imageUnits).dump()}};
    writeSafetensors(path, tensors, meta);
}

DatasetSnapshot loadSnapshot(const std::string& path) {
    const SafetensorsFile file = readSafetensors(path);
    const SafetensorsMetadata& meta = file.metadata();
    const auto format = meta.find("format"), version = meta.find("version");
    if (format == meta.end() || format->second != kFormat)
        throw FileError(path, "not a dataset snapshot (safetensors file without format '" + std::string(kFormat) + "')");
    if (version == meta.end() || version->second != kVersion)
        throw FileError(path, "dataset snapshot of version '" + (version == meta.end() ? "?" : version->second) +
                                  "', this build reads version " + kVersion + "; build the snapshot again");

    DatasetSnapshot s;
    s.params = paramsFromMetadata(path, meta);
    try {
        s.catalogPath = meta.at("catalog");
        s.fingerprint = meta.at("fingerprint");
        s.spectrumLength = std::stoi(meta.at("spectrum_length"));
        const json c = json::parse(meta.at("counts"));
        s.counts = {c.at("selected"), c.at("loaded"), c.at("skipped_no_image"), c.at("skipped_band_images_only"),
                    c.at("skipped_no_spectrum"), c.at("failed")};
        for (const auto& f : json::parse(meta.at("failures"))) s.failures.push_back({f.at("id"), f.at("reason")});
        s.imageUnits = json::parse(meta.at("image_units")).get<std::map<std::string, int64_t>>();
    } catch (const std::exception& e) {
        throw FileError(path, std::string("snapshot metadata is malformed: ") + e.what());
    }

    const TensorView& ids = file.get("ids");
    if (ids.dtype != DType::I64 || ids.shape.size() != 1)
        throw FileError(path, "snapshot tensor 'ids' is not I64 [N]");
    const int64_t n = ids.shape[0];
    s.ids = copyTensor<int64_t>(ids);
    if (s.params.modality != Modality::Spectrum) {
        s.cropSize = s.params.cropSize;
        const std::vector<int64_t> shape{n, kCutoutBands, s.cropSize, s.cropSize};
        s.images = copyTensor<float>(expectTensor(file, "images", DType::F32, shape));
        s.imageMask = copyTensor<uint8_t>(expectTensor(file, "image_mask", DType::U8, shape));
        s.bandPresent = copyTensor<uint8_t>(expectTensor(file, "band_present", DType::U8, {n, kCutoutBands}));
    }
    if (s.params.modality != Modality::Image) {
        const std::vector<int64_t> shape{n, s.spectrumLength};
        s.spectrumFlux = copyTensor<float>(expectTensor(file, "spectrum_flux", DType::F32, shape));
        s.spectrumIvar = copyTensor<float>(expectTensor(file, "spectrum_ivar", DType::F32, shape));
    } else {
        s.spectrumLength = 0;
    }
    for (const auto& name : s.params.columns)
        s.columns[name] = copyTensor<double>(expectTensor(file, "column:" + name, DType::F64, {n}));
    return s;
}

bool snapshotIsCurrent(Catalog& catalog, const SnapshotParams& params, const std::string& cachePath, std::string* whyNot) {
    const auto no = [&](const std::string& reason) {
        if (whyNot) *whyNot = reason;
        return false;
    };
    std::error_code ec;
    if (!fs::exists(cachePath, ec)) return no("no snapshot at " + cachePath);
    SafetensorsMetadata meta;
    SnapshotParams cached;
    try {
        const SafetensorsFile file = readSafetensors(cachePath);
        meta = file.metadata();
        if (meta["format"] != kFormat || meta["version"] != kVersion)
            return no(cachePath + ": not a dataset snapshot of version " + kVersion);
        cached = paramsFromMetadata(cachePath, meta);
    } catch (const FileError& e) {
        return no(e.what());
    }
    if (canonicalPath(meta["catalog"]) != canonicalPath(catalog.path()))
        return no("the snapshot was built from another catalog (" + meta["catalog"] + ")");
    if (selectionJson(cached) != selectionJson(params))
        return no("the snapshot was built with other selection parameters (" + selectionJson(cached).dump() + ")");
    if (meta["fingerprint"] != catalogFingerprint(catalog, params, catalog.select(params.where)))
        return no("the catalog or its files changed since the snapshot was built");
    if (whyNot) whyNot->clear();
    return true;
}

DatasetSnapshot loadOrBuildSnapshot(Catalog& catalog, const SnapshotParams& params, const std::string& cachePath,
                                    const ProgressFn& progress, bool* rebuilt) {
    std::string whyNot;
    if (snapshotIsCurrent(catalog, params, cachePath, &whyNot)) {
        if (rebuilt) *rebuilt = false;
        DatasetSnapshot s = loadSnapshot(cachePath);
        s.params.memoryBudgetBytes = params.memoryBudgetBytes;
        return s;
    }
    logInfo("building the dataset snapshot: " + whyNot);
    DatasetSnapshot s = buildSnapshot(catalog, params, progress);
    saveSnapshot(cachePath, s);
    if (rebuilt) *rebuilt = true;
    return s;
}

} // namespace astroclip
