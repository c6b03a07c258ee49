#include "core/dataset/snapshot.h"

#include "core/common/error.h"
#include "core/common/log.h"
#include "core/dataset/cutout.h"
#include "core/dataset/snapshot_cache.h"
#include "core/dataset/spectrum_arrays.h"

#include <algorithm>
#include <cstdio>

namespace astroclip {

namespace {

bool needsImage(Modality m) { return m != Modality::Spectrum; }
bool needsSpectrum(Modality m) { return m != Modality::Image; }

std::string gibText(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", double(bytes) / double(uint64_t(1) << 30));
    return text;
}

void checkParams(Catalog& catalog, const SnapshotParams& p) {
    if (needsImage(p.modality) && p.cropSize <= 0)
        throw UsageError("crop size must be positive, not " + std::to_string(p.cropSize));
    if (needsSpectrum(p.modality)) (void)downsampledLength(p.spectrumDownsample);  // throws UsageError
    for (const auto& name : p.columns) (void)catalog.numbers({}, name);          // unknown → UsageError
    for (size_t i = 0; i < p.columns.size(); ++i)
        if (std::find(p.columns.begin(), p.columns.begin() + std::ptrdiff_t(i), p.columns[i]) !=
            p.columns.begin() + std::ptrdiff_t(i))
            throw UsageError("column '" + p.columns[i] + "' is asked for twice");
}

// The cutout to use: at least S pixels on a side if any is, then the most g,r,z bands
// present; the first (oldest) on a tie. nullptr when the object has no g,r,z cutout.
const ImageRecord* chooseCutout(const std::vector<ImageRecord>& images, int cropSize) {
    const ImageRecord* best = nullptr;
    auto rank = [&](const ImageRecord& im) {
        const int bands = int(std::count_if(im.planes.begin(), im.planes.end(), [](int p) { return p >= 0; }));
        const bool bigEnough = im.width >= cropSize && im.height >= cropSize;
        return (bigEnough ? 10 : 0) + bands;
    };
    for (const auto& im : images)
        if (im.kind == ImageRecord::Kind::Cutout && (!best || rank(im) > rank(*best))) best = &im;
    return best;
}

std::string bandImageNames(const std::vector<ImageRecord>& images) {
    std::vector<std::string> names;
    for (const auto& im : images)
        for (const auto& b : im.bands)
            if (std::find(names.begin(), names.end(), b) == names.end()) names.push_back(b);
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "unnamed" : out;
}

// The spectrum with the most valid pixels; nullptr when none has one.
const SpectrumRecord* chooseSpectrum(const std::vector<SpectrumRecord>& spectra, int* validPixels) {
    const SpectrumRecord* best = nullptr;
    int bestValid = 0;
    for (const auto& s : spectra) {
        const int v = validSpectrumPixels(s);
        if (v > bestValid) {
            best = &s;
            bestValid = v;
        }
    }
    *validPixels = bestValid;
    return best;
}

std::string noObjectMessage(const SnapshotParams& p, const DatasetSnapshot& s) {
    const auto& c = s.counts;
    std::string what = "no object could be loaded for a " + std::string(modalityName(p.modality)) + " snapshot";
    if (c.selected == 0)
        return what + ": no object matches " + (p.where.empty() ? "(the catalog is empty)" : "--where '" + p.where + "'");
    what += " (" + std::to_string(c.selected) + " selected: " + std::to_string(c.skippedNoImage) +
            " without a g,r,z cutout, " + std::to_string(c.skippedNoSpectrum) + " without a spectrum, " +
            std::to_string(c.failed) + " unreadable)";
    if (!s.failures.empty()) what += "; first problem: " + s.failures.front().reason;
    return what;
}

} // namespace

const char* modalityName(Modality m) {
    switch (m) {
    case Modality::Image: return "image";
    case Modality::Spectrum: return "spectrum";
    case Modality::Both: return "both";
    }
    return "both";
}

std::optional<Modality> parseModality(const std::string& name) {
    for (Modality m : {Modality::Image, Modality::Spectrum, Modality::Both})
        if (name == modalityName(m)) return m;
    return std::nullopt;
}

uint64_t snapshotBytesPerObject(const SnapshotParams& p) {
    uint64_t bytes = sizeof(int64_t) + sizeof(double) * p.columns.size();
    if (needsImage(p.modality))
        bytes += uint64_t(kCutoutBands) * uint64_t(p.cropSize) * uint64_t(p.cropSize) * (sizeof(float) + 1) + kCutoutBands;
    if (needsSpectrum(p.modality)) bytes += 2 * sizeof(float) * uint64_t(downsampledLength(p.spectrumDownsample));
    return bytes;
}

DatasetSnapshot buildSnapshot(Catalog& catalog, const SnapshotParams& params, const ProgressFn& progress) {
    checkParams(catalog, params);
    const bool wantImage = needsImage(params.modality), wantSpectrum = needsSpectrum(params.modality);

    DatasetSnapshot snap;
    snap.params = params;
    snap.catalogPath = catalog.path();
    const std::vector<int64_t> selected = params.ids ? *params.ids : catalog.select(params.where);
    snap.fingerprint = catalogFingerprint(catalog, params, selected);
    snap.counts.selected = int64_t(selected.size());
    snap.cropSize = wantImage ? params.cropSize : 0;
    snap.spectrumLength = wantSpectrum ? downsampledLength(params.spectrumDownsample) : 0;

    const uint64_t perObject = snapshotBytesPerObject(params);
    const uint64_t maxObjects = params.memoryBudgetBytes / perObject;
    // Reserving only claims address space; pages are touched as objects arrive, so a selection
    // where most objects are skipped costs no memory for them and nothing is copied on growth.
    const size_t capacity = size_t(std::min<uint64_t>(selected.size(), maxObjects));
    const size_t imageSize = size_t(kCutoutBands) * size_t(snap.cropSize) * size_t(snap.cropSize);
    const size_t specSize = size_t(snap.spectrumLength);
    snap.ids.reserve(capacity);
    if (wantImage) {
        snap.images.reserve(capacity * imageSize);
        snap.imageMask.reserve(capacity * imageSize);
        snap.bandPresent.reserve(capacity * kCutoutBands);
    }
    if (wantSpectrum) {
        snap.spectrumFlux.reserve(capacity * specSize);
        snap.spectrumIvar.reserve(capacity * specSize);
    }

    const int64_t total = int64_t(selected.size());
    std::string bandOnlyExample;  // the first object skipped for having native band images only
    for (int64_t i = 0; i < total; ++i) {
        const int64_t id = selected[size_t(i)];
        report(progress, {"snapshot", i, total, "object " + std::to_string(id)});

        std::vector<ImageRecord> images;
        const ImageRecord* image = nullptr;
        if (wantImage) {
            images = catalog.images(id);
            image = chooseCutout(images, params.cropSize);
            if (!image) {
                ++snap.counts.skippedNoImage;
                if (!images.empty() && ++snap.counts.skippedBandImagesOnly == 1)
                    bandOnlyExample = "object " + std::to_string(id) + " has no g,r,z cutout (only band images: " +
                                      bandImageNames(images) + ")";
                continue;
            }
        }
        std::vector<SpectrumRecord> spectra;
        const SpectrumRecord* spectrum = nullptr;
        Cutout cutout;
        SpectrumArrays arrays;
        try {
            if (wantSpectrum) {
                spectra = catalog.spectra(id);
                int valid = 0;
                spectrum = chooseSpectrum(spectra, &valid);
                if (!spectrum) {
                    ++snap.counts.skippedNoSpectrum;
                    continue;
                }
            }
            if (image) cutout = loadCutout(*image, params.cropSize);
            if (spectrum) arrays = spectrumArrays(*spectrum, params.spectrumDownsample);
        } catch (const FileError& e) {  // vanished or damaged file
            snap.failures.push_back({id, e.what()});
            continue;
        } catch (const UsageError& e) {  // data that cannot serve: smaller than the crop, a record from another build
            snap.failures.push_back({id, e.what()});
            continue;
        }

        if (snap.ids.size() + 1 > maxObjects)
            throw UsageError("the " + std::string(modalityName(params.modality)) + " snapshot would exceed its memory budget of " +
                             gibText(params.memoryBudgetBytes) + ": " + std::to_string(perObject) +
                             " bytes per object, and more than " + std::to_string(maxObjects) + " of the " +
                             std::to_string(total) + " selected objects qualify; narrow the selection with --where "
                             "(e.g. --where 'truth_z < 0.3') or raise the memory budget");
        snap.ids.push_back(id);
        if (image) {
            snap.images.insert(snap.images.end(), cutout.pixels.begin(), cutout.pixels.end());
            snap.imageMask.insert(snap.imageMask.end(), cutout.valid.begin(), cutout.valid.end());
            for (bool present : cutout.bandPresent) snap.bandPresent.push_back(present ? 1 : 0);
            ++snap.imageUnits[cutout.unit.empty() ? "unknown" : cutout.unit];
        }
        if (spectrum) {
            snap.spectrumFlux.insert(snap.spectrumFlux.end(), arrays.flux.begin(), arrays.flux.end());
            snap.spectrumIvar.insert(snap.spectrumIvar.end(), arrays.ivar.begin(), arrays.ivar.end());
        }
    }
    snap.counts.failed = int64_t(snap.failures.size());
    snap.counts.loaded = int64_t(snap.ids.size());
    report(progress, {"snapshot", total, total, std::to_string(snap.counts.loaded) + " objects loaded"});
    if (!bandOnlyExample.empty())
        logInfo(std::to_string(snap.counts.skippedBandImagesOnly) + " selected object(s) skipped, e.g. " + bandOnlyExample);
    constexpr size_t kFailuresLogged = 5;  // the rest are in `failures`; a log is no place for thousands
    for (size_t i = 0; i < std::min(snap.failures.size(), kFailuresLogged); ++i)
        logWarning("object " + std::to_string(snap.failures[i].id) + " left out: " + snap.failures[i].reason);
    if (snap.failures.size() > kFailuresLogged)
        logWarning("... and " + std::to_string(snap.failures.size() - kFailuresLogged) + " more objects left out");
    if (snap.ids.empty() && !params.allowEmpty) {
        std::string message = noObjectMessage(params, snap);
        if (!bandOnlyExample.empty()) message += "; e.g. " + bandOnlyExample;
        throw UsageError(message);
    }

    for (const auto& name : params.columns) snap.columns[name] = catalog.numbers(snap.ids, name);
    return snap;
}

} // namespace astroclip
