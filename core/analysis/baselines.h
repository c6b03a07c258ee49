#pragma once
// Features made straight from the data, for the baselines of the evaluation table: what an
// encoder must beat to have learnt anything (AstroCLIP compares against such baselines too).
//   pixels      the central 64 × 64 pixels of the g,r,z cutout, binned 2 × 2 (3 × 32 × 32 =
//               3,072 values), in the file's units; the probes standardise each value
//   flux        the spectrum on the DESI grid averaged over 8 pixels (972 values), flux units
//   pca<k>      the first k principal components of either (core/maps/pca.h)
// Rows are the objects of `ids` that hold the modality (read failures are skipped and
// counted), as an EmbeddingMatrix so the probes take them like stored embeddings.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::analysis {

struct BaselineFeatures {
    std::string name;          // "pixels", "flux", "pca32(pixels)" ...
    EmbeddingMatrix features;
    int64_t unreadable = 0;    // objects whose data could not be read now
};

// UsageError when no listed object has the modality.
BaselineFeatures pixelFeatures(Catalog& catalog, const std::vector<int64_t>& ids, const ProgressFn& progress = {});
BaselineFeatures fluxFeatures(Catalog& catalog, const std::vector<int64_t>& ids, const ProgressFn& progress = {});
// The first k principal components of the features (k clipped to the rows and columns there are).
BaselineFeatures pcaFeatures(const BaselineFeatures& raw, int k);

} // namespace astroclip::analysis
