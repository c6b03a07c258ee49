#pragma once
// A snapshot cached as one safetensors file beside the project, so a second training run does
// not re-read thousands of FITS files. The metadata records the catalog, the selection and a
// fingerprint of the catalog content it came from; a cache whose fingerprint no longer
// matches is stale and rebuilt.
//
// Tensors: ids I64 [N]; images F32 [N,3,S,S]; image_mask U8 [N,3,S,S]; band_present U8 [N,3];
// spectrum_flux, spectrum_ivar F32 [N,L]; "column:<name>" F64 [N]. Absent modalities have no
// tensors. Metadata: format, version, catalog, where, modality, crop_size,
// spectrum_downsample, spectrum_length, columns, fingerprint, counts, failures, image_units
// (JSON text where not a plain string).
#include "core/catalog/catalog.h"
#include "core/dataset/snapshot.h"

#include <string>
#include <vector>

namespace astroclip {

// SHA-256 (hex) over: the selection (where, modality, crop, downsampling, columns), the
// selected ids, and every ingested-file record (path, size, mtime, status) together with the
// file's size and modification time on disk now. Any ingest that records a file, a file
// changed or deleted on disk (cutout pixels are read by reference) or a selection that
// matches other objects changes it. Cheap: one select and one stat per ingested file.
std::string catalogFingerprint(Catalog& catalog, const SnapshotParams& params,
                               const std::vector<int64_t>& selectedIds);

// Atomic (temporary file + rename, see writeSafetensors). Throws FileError(path, ...).
void saveSnapshot(const std::string& path, const DatasetSnapshot& snapshot);
// Throws FileError(path, ...) for a missing file, one that is not a snapshot of this format
// version, or tensors whose shapes disagree with each other.
DatasetSnapshot loadSnapshot(const std::string& path);

// True when `cachePath` holds a snapshot of this catalog file, built with the same selection
// parameters, whose fingerprint matches the catalog now. Never throws for a missing or
// unreadable cache (that is "not current"); `whyNot` receives the reason.
bool snapshotIsCurrent(Catalog& catalog, const SnapshotParams& params, const std::string& cachePath,
                       std::string* whyNot = nullptr);

// The cached snapshot when current, else a fresh build written to cachePath. `rebuilt` (if
// given) tells which happened.
DatasetSnapshot loadOrBuildSnapshot(Catalog& catalog, const SnapshotParams& params, const std::string& cachePath,
                                    const ProgressFn& progress = {}, bool* rebuilt = nullptr);

} // namespace astroclip
