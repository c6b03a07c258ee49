#pragma once
// Patch-feature PCA views of a selection of galaxies (`astroclip patches`, the app's dense
// view): each cutout through a run's ViT, its patch tokens through the DINOv2 recipe
// (core/maps/patch_pca.h) over the whole selection, drawn beside the galaxy itself.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/io/png_image.h"
#include "core/maps/patch_pca.h"
#include "core/runs/trained_encoders.h"

#include <cstdint>
#include <vector>

namespace astroclip::embed {

struct PatchViewParams {
    std::vector<int64_t> ids;             // the objects (their g,r,z cutouts), in this order
    maps::PatchPcaParams pca;
    int64_t batchSize = 32;
    ProgressFn progress;
};

struct PatchViews {
    std::vector<int64_t> ids;             // objects drawn (those with a readable cutout), in the order asked
    std::vector<int64_t> skipped;         // asked for but without a readable g,r,z cutout
    maps::PatchPcaResult pca;
    int cropSize = 0, patchSize = 0;
    std::vector<RgbImage> galaxies;       // per object: asinh g,r,z composite (z red, g blue), crop × crop
    std::vector<RgbImage> features;       // per object: the patch PCA colours, each patch a patchSize block
};

// UsageError when the run has no image encoder, no asked object has a cutout, or the patch PCA
// finds too little foreground; Cancelled when progress asks to stop.
PatchViews makePatchViews(Catalog& catalog, runs::TrainedEncoders& encoders, const PatchViewParams& params);

// The views side by side, galaxy above its features, `columns` objects per row.
RgbImage patchMontage(const PatchViews& views, int columns = 8);

} // namespace astroclip::embed
