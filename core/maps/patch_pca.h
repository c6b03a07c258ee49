#pragma once
// Patch-feature PCA in the DINOv2 recipe (Oquab et al. 2023, Fig. 1): the first principal
// component of the patch tokens of a set of images separates the object from the background;
// a second PCA over the foreground patches alone, three components scaled to [0, 1], becomes an
// RGB image in which parts the encoder tells apart get different colours, consistently across
// the images of the set.
//
// Choices (DINOv2 leaves them to the figure's author):
//   foreground   the first component's scores min–max scaled over the set, above `threshold`
//                (DINOv2's figures: 0.5). Its sign is chosen so that the central patches — where
//                a survey cutout puts its target — are mostly foreground.
//   colours      each of the three components min–max scaled over the set's foreground patches
//                (so colours compare across images), background black.
#include "core/common/progress.h"

#include <cstdint>
#include <vector>

namespace astroclip::maps {

struct PatchPcaParams {
    double threshold = 0.5;   // on the scaled first component
};

struct PatchPcaResult {
    int64_t images = 0, grid = 0;        // N images of grid × grid patches
    std::vector<uint8_t> foreground;     // [N, grid, grid], 1 = object
    std::vector<float> rgb;              // [N, grid, grid, 3] in [0, 1]; 0 on the background
    double firstComponentShare = 0;      // explained variance ratio of the separating component
    std::vector<double> colourShares;    // explained variance ratios of the three colour components
};

// patches [n, grid·grid, d] float32 row-major (e.g. embed::encodeImagePatches). UsageError for
// n < 1, grid < 2, d < 3, non-finite values, or fewer than 4 foreground patches in the set.
PatchPcaResult patchPca(const float* patches, int64_t n, int64_t grid, int64_t d, const PatchPcaParams& params = {},
                        const ProgressFn& progress = {});

} // namespace astroclip::maps
