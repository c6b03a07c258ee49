#pragma once
// The simulator's per-pixel truth beside a cutout (ImageRecord::segmapRef / depthmapRef):
// which source dominates each pixel (background, central galaxy, neighbour, tidal feature)
// and that source's redshift, centre-cropped exactly as loadCutout crops the pixels, so the
// dense heads learn and are scored pixel for pixel.
#include "core/data/records.h"

#include <cstdint>
#include <vector>

namespace astroclip {

// Classes of the simulator's SEGMAP extension (core/sim/render.h SegClass).
inline constexpr int kTruthClasses = 4;
inline constexpr const char* kTruthClassNames[kTruthClasses] = {"background", "central", "neighbour", "tidal"};

struct TruthMaps {
    int size = 0;                        // S
    std::vector<int16_t> segmentation;   // [S][S] class 0..3
    std::vector<float> depth;            // [S][S] redshift of the pixel's source; 0 on the background
};

// True when the record names both maps.
bool hasTruthMaps(const ImageRecord& image);

// UsageError when the record names no maps or they are smaller than the crop; FileError(path,
// ...) when a file is missing or unreadable, or a map's class is outside 0..3.
TruthMaps loadTruthMaps(const ImageRecord& image, int cropSize);

} // namespace astroclip
