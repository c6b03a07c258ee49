#pragma once
// PNG images for figures the core makes pixel by pixel (patch-PCA views, composites): 8-bit
// RGB encoded by libpng, written atomically (core/checkpoint/atomic_file.h).
#include <cstdint>
#include <string>
#include <vector>

namespace astroclip {

// An 8-bit RGB image, rows top to bottom: rgb [height, width, 3].
struct RgbImage {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;

    RgbImage() = default;
    RgbImage(int w, int h) : width(w), height(h), rgb(size_t(w) * size_t(h) * 3, 0) {}
    uint8_t* at(int x, int y) { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
};

// FileError(path, ...) when the image is empty or cannot be encoded or written.
void writePng(const std::string& path, const RgbImage& image);

} // namespace astroclip
