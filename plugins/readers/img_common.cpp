#include "plugins/readers/img_common.h"

#include "core/common/error.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace astroclip::readers {

namespace fs = std::filesystem;

namespace {
// Generous bounds: a full DECam CCD is 4k×2k, a survey mosaic tile 10k×10k; anything beyond
// these is a corrupt header, and refusing it avoids allocating terabytes.
constexpr long kMaxAxis = 1L << 17;            // 131072 pixels per axis
constexpr long long kMaxPixels = 1LL << 31;    // 8 GiB of float32
constexpr long kMaxPlanes = 1024;
} // namespace

std::string toUpper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}
std::string toLower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}
std::string trimmed(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    const size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}
std::string baseName(const std::string& path) { return fs::path(path).filename().string(); }
std::string absolutePath(const std::string& path) {
    std::error_code ec;
    auto p = fs::absolute(path, ec);
    return ec ? path : p.lexically_normal().string();
}
std::string hduRef(const std::string& absPath, int hdu) { return absPath + "[" + std::to_string(hdu) + "]"; }

std::vector<long> checkedImageShape(const std::string& path, int hdu, std::vector<long> shape, size_t maxDims) {
    const std::string where = "HDU " + std::to_string(hdu) + ": ";
    if (shape.empty()) throw FileError(path, where + "image has no data (NAXIS = 0)");
    for (size_t i = 0; i < shape.size(); ++i)
        if (shape[i] <= 0)
            throw FileError(path, where + "image axis NAXIS" + std::to_string(shape.size() - i) + " has length " +
                                      std::to_string(shape[i]));
    while (shape.size() > maxDims && shape.front() == 1) shape.erase(shape.begin());
    if (shape.size() > maxDims)
        throw FileError(path, where + "image has " + std::to_string(shape.size()) + " axes longer than 1; at most " +
                                  std::to_string(maxDims) + " are supported");
    long long n = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        const bool planeAxis = shape.size() == 3 && i == 0;
        if (shape[i] > (planeAxis ? kMaxPlanes : kMaxAxis))
            throw FileError(path, where + "implausible image size (axis of " + std::to_string(shape[i]) + " pixels)");
        n *= shape[i];
    }
    if (n > kMaxPixels) throw FileError(path, where + "implausible image size (" + std::to_string(n) + " pixels)");
    return shape;
}

void checkPixelBytesPresent(FitsFile& f, const std::vector<long>& shape) {
    if (f.hasKey("ZIMAGE")) return;
    long long n = 1;
    for (long d : shape) n *= d;
    const long long bytes = n * (std::abs(f.imageBitpix()) / 8);
    std::error_code ec;
    const auto fileBytes = static_cast<long long>(fs::file_size(f.path(), ec));
    if (!ec && bytes > fileBytes)
        throw FileError(f.path(), "HDU " + std::to_string(f.currentHdu()) + " declares " + std::to_string(bytes) +
                                      " bytes of pixels but the file holds only " + std::to_string(fileBytes) +
                                      " bytes (truncated copy?)");
}

PixelCheck checkPixels(FitsFile& f, long planes, long height, long width) {
    const std::vector<float> pix = f.readImageFloat();
    const size_t planeSize = size_t(height) * size_t(width);
    if (pix.size() != size_t(planes) * planeSize)
        throw FileError(f.path(), "HDU " + std::to_string(f.currentHdu()) + ": read " + std::to_string(pix.size()) +
                                      " pixels, expected " + std::to_string(size_t(planes) * planeSize));
    PixelCheck check;
    for (long p = 0; p < planes; ++p) {
        const float* plane = pix.data() + size_t(p) * planeSize;
        const long bad = long(std::count_if(plane, plane + planeSize, [](float v) { return !std::isfinite(v); }));
        check.nonFinite += bad;
        if (size_t(bad) == planeSize) check.emptyPlanes.push_back(int(p));
    }
    if (long(check.emptyPlanes.size()) == planes)
        throw FileError(f.path(), "HDU " + std::to_string(f.currentHdu()) + ": image is entirely NaN/Inf");
    return check;
}

std::vector<std::string> headerIdKeys(FitsFile& f, const std::string& readerName) {
    std::vector<std::string> keys;
    // TARGETID is a 64-bit integer: read it as one, never through double.
    if (auto t = f.keyInt("TARGETID")) keys.push_back("desi:targetid:" + std::to_string(*t));
    if (auto o = f.keyString("OBJNO"); o && !trimmed(*o).empty()) keys.push_back("deep2:" + trimmed(*o));
    for (const char* k : {"OBJID", "ID"})
        if (auto v = f.keyString(k); v && !trimmed(*v).empty()) {
            keys.push_back(readerName + ":" + trimmed(*v));
            break;
        }
    return keys;
}

std::optional<ImageSky> currentHduSky(FitsFile& f, int width, int height) {
    int ncards = 0;
    const std::string cards = f.headerCards(&ncards);
    return imageCentreSky(f.path(), cards, ncards, width, height);
}

std::string normalisedUnit(const std::string& bunit) {
    const std::string u = toLower(trimmed(bunit));
    if (u.empty()) return {};
    if (u == "nanomaggy" || u == "nanomaggies" || u == "nmgy") return "nanomaggy";
    if (u == "count" || u == "counts" || u == "adu" || u == "ct") return "count";
    if (u == "electron/s" || u == "electrons/s" || u == "e/s" || u == "e-/s") return "electron/s";
    return trimmed(bunit);
}

} // namespace astroclip::readers
