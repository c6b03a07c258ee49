#include "core/dataset/cutout.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <cassert>
#include <cmath>
#include <filesystem>
#include <optional>

namespace astroclip {

namespace {

std::string joinedBands(const std::vector<std::string>& bands) {
    std::string out;
    for (const auto& b : bands) out += (out.empty() ? "" : ", ") + b;
    return out.empty() ? "unnamed" : out;
}

// One band plane at full size, [H][W], and optionally its inverse variance.
struct Plane {
    std::vector<float> values;
    std::vector<float> ivar;  // empty when the record names no ivar cube
};

// Where the pixels come from: the record's stored array or its file (opened once).
class PlaneSource {
public:
    PlaneSource(const ImageRecord& image) : image_(image) {
        if (!image.pixels.empty()) return;
        std::error_code ec;
        if (!std::filesystem::exists(image.path, ec))
            throw FileError(image.path, "file no longer exists (moved or deleted since it was ingested); "
                                        "ingest it again from its new place");
        file_.emplace(FitsFile::open(image.path));
        file_->moveTo(image.hdu);
        const auto shape = file_->imageShape();
        if (shape.size() < 2)
            throw FileError(image.path, "HDU " + std::to_string(image.hdu) + " holds no image any more");
        height_ = shape[shape.size() - 2];
        width_ = shape.back();
    }

    long height() const { return image_.pixels.empty() ? height_ : image_.height; }
    long width() const { return image_.pixels.empty() ? width_ : image_.width; }

    std::vector<float> plane(int p) {
        if (file_) return file_->readImagePlaneFloat(p);
        const size_t planeSize = size_t(image_.height) * size_t(image_.width);
        if (image_.height <= 0 || image_.width <= 0 || size_t(p + 1) * planeSize > image_.pixels.size())
            throw FileError(image_.path, "stored pixels hold no plane " + std::to_string(p) + " of " +
                                             std::to_string(image_.height) + "×" + std::to_string(image_.width));
        return {image_.pixels.begin() + std::ptrdiff_t(p * planeSize),
                image_.pixels.begin() + std::ptrdiff_t((p + 1) * planeSize)};
    }

private:
    const ImageRecord& image_;
    std::optional<FitsFile> file_;
    long height_ = 0, width_ = 0;
};

// The inverse-variance cube named by ivarRef, read plane by plane like the image.
class IvarSource {
public:
    IvarSource(const std::string& ref, long height, long width) {
        const HduRef r = parseHduRef(ref);
        std::error_code ec;
        if (!std::filesystem::exists(r.path, ec))
            throw FileError(r.path, "inverse-variance file no longer exists (moved or deleted since it was ingested)");
        file_.emplace(FitsFile::open(r.path));
        file_->moveTo(r.hdu);
        const auto shape = file_->imageShape();
        if (shape.size() < 2 || shape[shape.size() - 2] != height || shape.back() != width)
            throw FileError(r.path, "inverse-variance HDU " + std::to_string(r.hdu) +
                                        " does not match the image's " + std::to_string(height) + "×" +
                                        std::to_string(width) + " pixels");
    }
    std::vector<float> plane(int p) { return file_->readImagePlaneFloat(p); }

private:
    std::optional<FitsFile> file_;
};

} // namespace

int centreCropOffset(int n, int size) {
    assert(n >= size && size > 0);
    return (n - size) / 2;
}

HduRef parseHduRef(const std::string& ref) {
    const auto open = ref.rfind('[');
    if (open == std::string::npos || open == 0 || ref.back() != ']' || open + 2 > ref.size() - 1)
        throw UsageError("'" + ref + "' is not a file reference of the form path[HDU]");
    const std::string number = ref.substr(open + 1, ref.size() - open - 2);
    size_t used = 0;
    int hdu = 0;
    try {
        hdu = std::stoi(number, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != number.size() || hdu < 1)
        throw UsageError("'" + ref + "' is not a file reference of the form path[HDU] (HDU numbers start at 1)");
    return {ref.substr(0, open), hdu};
}

Cutout loadCutout(const ImageRecord& image, int cropSize) {
    if (cropSize <= 0) throw UsageError("crop size must be positive, not " + std::to_string(cropSize));
    if (image.kind == ImageRecord::Kind::BandImage)
        throw UsageError(image.path + ": a band image (" + joinedBands(image.bands) +
                         "), not a g,r,z cutout; the encoders need g,r,z cutouts");
    if (image.planes.size() != kCutoutBands)
        throw UsageError(image.path + ": the catalog's image record lists " + std::to_string(image.planes.size()) +
                         " plane indices, not 3 (g, r, z); ingest the file again with this build");

    PlaneSource source(image);
    const long height = source.height(), width = source.width();
    if (height < cropSize || width < cropSize)
        throw UsageError(image.path + ": the cutout is " + std::to_string(width) + "×" + std::to_string(height) +
                         " pixels, smaller than the " + std::to_string(cropSize) + "-pixel crop; choose a crop of at most " +
                         std::to_string(std::min(width, height)) + " or leave such objects out with --where");
    std::optional<IvarSource> ivarSource;
    if (!image.ivarRef.empty()) ivarSource.emplace(image.ivarRef, height, width);

    const int y0 = centreCropOffset(int(height), cropSize), x0 = centreCropOffset(int(width), cropSize);
    const size_t planeSize = size_t(cropSize) * size_t(cropSize);
    Cutout out;
    out.size = cropSize;
    out.unit = image.unit;
    out.pixels.assign(kCutoutBands * planeSize, 0.0f);
    out.valid.assign(kCutoutBands * planeSize, 0);
    for (int b = 0; b < kCutoutBands; ++b) {
        const int p = image.planes[size_t(b)];
        out.bandPresent[size_t(b)] = p >= 0;
        if (p < 0) continue;  // absent band: zeros, masked
        const std::vector<float> values = source.plane(p);
        const std::vector<float> ivar = ivarSource ? ivarSource->plane(p) : std::vector<float>{};
        float* dst = out.pixels.data() + b * planeSize;
        uint8_t* ok = out.valid.data() + b * planeSize;
        for (int y = 0; y < cropSize; ++y) {
            const size_t row = size_t(y0 + y) * size_t(width) + size_t(x0);
            for (int x = 0; x < cropSize; ++x) {
                const float v = values[row + size_t(x)];
                const bool measured =
                    std::isfinite(v) && (ivar.empty() || (std::isfinite(ivar[row + size_t(x)]) && ivar[row + size_t(x)] > 0));
                const size_t i = size_t(y) * size_t(cropSize) + size_t(x);
                if (measured) {
                    dst[i] = v;
                    ok[i] = 1;
                } else {
                    ++out.invalidPixels;
                }
            }
        }
    }
    return out;
}

} // namespace astroclip
