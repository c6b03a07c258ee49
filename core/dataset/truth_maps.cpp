#include "core/dataset/truth_maps.h"

#include "core/common/error.h"
#include "core/dataset/cutout.h"
#include "core/io/fits.h"

#include <cmath>

namespace astroclip {

namespace {

// The map at `ref`, centre-cropped to size × size.
std::vector<float> croppedMap(const std::string& ref, int size) {
    const HduRef where = parseHduRef(ref);
    auto file = FitsFile::open(where.path);
    file.moveTo(where.hdu);
    const auto shape = file.imageShape();
    if (shape.size() != 2)
        throw FileError(where.path, "HDU " + std::to_string(where.hdu) + " is not a 2-D truth map");
    const long h = shape[0], w = shape[1];
    if (h < size || w < size)
        throw UsageError(where.path + ": the truth map is " + std::to_string(w) + "×" + std::to_string(h) +
                         " pixels, smaller than the " + std::to_string(size) + "-pixel crop");
    const auto all = file.readImageFloat();
    const int y0 = centreCropOffset(int(h), size), x0 = centreCropOffset(int(w), size);
    std::vector<float> out(size_t(size) * size_t(size));
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) out[size_t(y) * size_t(size) + size_t(x)] = all[size_t(y0 + y) * size_t(w) + size_t(x0 + x)];
    return out;
}

} // namespace

bool hasTruthMaps(const ImageRecord& image) { return !image.segmapRef.empty() && !image.depthmapRef.empty(); }

TruthMaps loadTruthMaps(const ImageRecord& image, int cropSize) {
    if (!hasTruthMaps(image))
        throw UsageError(image.path + ": no truth maps recorded (only simulated cutouts carry SEGMAP and DEPTHMAP)");
    TruthMaps t;
    t.size = cropSize;
    const auto seg = croppedMap(image.segmapRef, cropSize);
    t.depth = croppedMap(image.depthmapRef, cropSize);
    t.segmentation.resize(seg.size());
    for (size_t i = 0; i < seg.size(); ++i) {
        if (!std::isfinite(seg[i]) || seg[i] < 0 || seg[i] >= kTruthClasses || seg[i] != std::floor(seg[i]))
            throw FileError(parseHduRef(image.segmapRef).path,
                            "segmentation class " + std::to_string(seg[i]) + " is not one of 0..3");
        t.segmentation[i] = int16_t(seg[i]);
        if (!std::isfinite(t.depth[i])) t.depth[i] = 0.f;
    }
    return t;
}

} // namespace astroclip
