#pragma once
// g,r,z cutouts as the encoders take them: float32 [3][S][S] in the file's flux units
// (nanomaggies for Legacy Surveys cutouts and the simulator), centre-cropped to S, with a
// validity mask. Nothing is invented: a band the file lacks stays zero and masked.
#include "core/data/records.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace astroclip {

inline constexpr int kCutoutBands = 3;  // g, r, z in this order
inline constexpr const char* kCutoutBandNames[kCutoutBands] = {"g", "r", "z"};

struct Cutout {
    int size = 0;                          // S
    std::vector<float> pixels;             // [3][S][S]; 0 wherever valid == 0
    // [3][S][S]; 1 = a measured pixel, 0 = no data: non-finite value, ivar <= 0 (when the
    // record names an inverse-variance cube) or the band is absent from the file.
    std::vector<uint8_t> valid;
    std::array<bool, kCutoutBands> bandPresent{};  // false: plane -1 in the record
    std::string unit;                      // the record's unit ("nanomaggy", ...)
    int64_t invalidPixels = 0;             // masked pixels within present bands
};

// The crop window: rows/columns [offset, offset + S) of an axis of length n ≥ S. The offset
// is floor((n - S) / 2), e.g. 4 for AstroCLIP's 152 → 144; an odd surplus leaves the extra
// pixel on the high side.
int centreCropOffset(int n, int size);

// "path[HDU]" (as readers write ivarRef/segmapRef) → path and HDU. Throws UsageError for
// text that is not of that form.
struct HduRef {
    std::string path;
    int hdu = 1;
};
HduRef parseHduRef(const std::string& ref);

// Loads the record's g,r,z planes centre-cropped to cropSize. Reads only the planes it needs
// (and the same planes of the ivar cube named by ivarRef, if any); stored `pixels` are used
// when the record has them.
// Throws UsageError for a BandImage record, a record without three plane indices, or an
// image smaller than cropSize; FileError(path, ...) when the file is missing, unreadable or
// does not have the planes the record names.
Cutout loadCutout(const ImageRecord& image, int cropSize);

} // namespace astroclip
