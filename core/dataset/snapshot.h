#pragma once
// A training set in memory: the step between the catalog and the encoders. Selected objects'
// g,r,z cutouts and spectra become contiguous float arrays (struct of arrays) that a trainer
// wraps without copying (torch::from_blob); target columns come along as doubles.
// No LibTorch here.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace astroclip {

enum class Modality { Image, Spectrum, Both };
const char* modalityName(Modality m);                        // "image", "spectrum", "both"
std::optional<Modality> parseModality(const std::string& name);

struct SnapshotParams {
    std::string where;                    // catalog filter (where.h); "" = every object
    Modality modality = Modality::Both;   // what each object must have to be loaded
    int cropSize = 144;                   // cutout side after the centre crop (AstroCLIP: 152 → 144)
    int spectrumDownsample = 1;           // integer factor on the 7781-px grid (see spectrum_arrays.h)
    std::vector<std::string> columns;     // targets (e.g. truth_z, truth_logmstar): doubles, NaN for null
    uint64_t memoryBudgetBytes = uint64_t(8) << 30;  // refuse a snapshot larger than this
    // Chunked jobs (embedding a catalog a batch at a time): load exactly these objects, which
    // the caller selected once; `where` is then ignored.
    std::optional<std::vector<int64_t>> ids;
    bool allowEmpty = false;              // return a snapshot with no object instead of refusing it
};

// Bytes one loaded object takes in a snapshot:
//   8 (id) + [image] 3·S²·(4 + 1) + 3 (pixels, validity mask, band flags)
//          + [spectrum] 2·L·4 (flux, ivar) + 8 per column.
// E.g. S = 144, L = 7781, no columns: 311,051 + 62,248 + 8 = 373,307 bytes (≈ 22,500 objects
// in 8 GiB).
uint64_t snapshotBytesPerObject(const SnapshotParams& params);

struct SnapshotFailure {
    int64_t id = 0;
    std::string reason;                   // the file's problem, as a user should read it
};

struct SnapshotCounts {
    int64_t selected = 0;                 // objects matching `where`
    int64_t loaded = 0;
    int64_t skippedNoImage = 0;           // no g,r,z cutout (checked first when both are needed)
    int64_t skippedBandImagesOnly = 0;    // of those: objects with native band images only
    int64_t skippedNoSpectrum = 0;        // no spectrum with a valid pixel
    int64_t failed = 0;                   // data recorded but unreadable now; see failures
};

struct DatasetSnapshot {
    SnapshotParams params;                // as built
    std::string catalogPath;
    std::string fingerprint;              // of the catalog content it was built from (snapshot_cache.h)
    SnapshotCounts counts;
    std::vector<SnapshotFailure> failures;
    std::map<std::string, int64_t> imageUnits;  // unit → objects (mixed units deserve a warning)

    int cropSize = 0;                     // S; 0 without images
    int spectrumLength = 0;               // L; 0 without spectra
    std::vector<int64_t> ids;             // [N], ascending catalog ids
    std::vector<float> images;            // [N][3][S][S] g,r,z in the files' units; 0 where masked
    std::vector<uint8_t> imageMask;       // [N][3][S][S] 1 = valid pixel, 0 = no data
    std::vector<uint8_t> bandPresent;     // [N][3] 0 = band absent from the file (zeros, masked)
    std::vector<float> spectrumFlux;      // [N][L] 1e-17 erg/s/cm²/Å; 0 where ivar == 0
    std::vector<float> spectrumIvar;      // [N][L]
    std::map<std::string, std::vector<double>> columns;  // name → [N], NaN for null

    size_t size() const { return ids.size(); }
    bool hasImages() const { return cropSize > 0; }
    bool hasSpectra() const { return spectrumLength > 0; }
};

// Loads every selected object that has the modality asked for. An object lacking it is
// skipped and counted; an object whose file vanished or is damaged is skipped with its reason
// in `failures` and the rest goes on. Reports per object (stage "snapshot") and throws
// Cancelled when asked to stop. Throws UsageError for bad parameters or an unknown column,
// when the snapshot would exceed params.memoryBudgetBytes (suggesting --where), and when no
// object could be loaded (saying why) unless params.allowEmpty.
// Choice within an object: the first g,r,z cutout at least S pixels wide with the most bands
// present; the spectrum with the most valid pixels (first on a tie).
DatasetSnapshot buildSnapshot(Catalog& catalog, const SnapshotParams& params, const ProgressFn& progress = {});

} // namespace astroclip
