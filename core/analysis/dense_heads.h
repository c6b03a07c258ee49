#pragma once
// Dense heads on frozen patch tokens (the DINOv2 linear protocol): a linear layer per patch
// token, its outputs upsampled bilinearly to pixels, trained on the simulator's truth maps —
//   segmentation  4 classes (background, central, neighbour, tidal), per-pixel cross-entropy;
//                 scored by per-class IoU, mean IoU over the classes present, pixel accuracy
//   depth         the per-pixel redshift of the dominant source, mean squared error on source
//                 pixels (the sky has no redshift); scored by RMSE beside predicting the
//                 training mean
// and the footprint of the central galaxy (IoU of predicted against true "central" pixels, per
// held-out image), the figure SEP's segmentation is compared with (packaging/bench/dense_sep.py).
// Images are split by a hash of their object's id; the tokens are standardised with the
// training images' statistics.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/runs/trained_encoders.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::analysis {

struct DenseHeadParams {
    std::vector<int64_t> ids;            // objects whose cutouts (with truth maps) are used
    double heldOutFraction = 0.2;
    uint64_t splitSeed = 0;
    int epochs = 40;                     // passes over the training images
    int64_t batchImages = 16;
    double learningRate = 1e-2;
    double weightDecay = 1e-4;
    uint64_t seed = 0;
    ProgressFn progress;                 // stages "snapshot", "embed", "dense heads" (epochs)
};

struct DenseHeadResult {
    int64_t trainImages = 0, testImages = 0;
    int64_t withoutTruth = 0;            // objects whose cutout has no truth maps (left out)
    int cropSize = 0, patchSize = 0, grid = 0;
    std::vector<std::string> classNames;
    std::vector<double> classIoU;        // NaN for a class absent from both truth and prediction
    std::vector<int64_t> classPixels;    // held-out truth pixels per class
    double meanIoU = 0;                  // over classes with truth pixels
    double pixelAccuracy = 0;
    double majorityAccuracy = 0;         // predicting the most common training class everywhere
    double depthRmse = 0, depthRmseMean = 0;  // source pixels; the second predicts the training mean
    int64_t depthPixels = 0;
    std::vector<int64_t> testIds;        // held-out objects
    std::vector<double> centralIoU;      // per held-out object (NaN when neither has central pixels)
    double meanCentralIoU = 0;
};

// UsageError when the run has no image encoder, fewer than 2 training or held-out images have
// truth maps, or the parameters are out of range; Cancelled when progress asks to stop.
DenseHeadResult trainDenseHeads(Catalog& catalog, runs::TrainedEncoders& encoders, const DenseHeadParams& params);

} // namespace astroclip::analysis
