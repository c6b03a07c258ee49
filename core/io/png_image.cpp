#include "core/io/png_image.h"

#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"

#include <png.h>

#include <csetjmp>

namespace astroclip {

namespace {

void appendBytes(png_structp png, png_bytep data, png_size_t length) {
    auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
    out->insert(out->end(), data, data + length);
}

} // namespace

void writePng(const std::string& path, const RgbImage& image) {
    if (image.width < 1 || image.height < 1 || image.rgb.size() != size_t(image.width) * size_t(image.height) * 3)
        throw FileError(path, "no image to write (" + std::to_string(image.width) + " × " + std::to_string(image.height) + ")");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        throw FileError(path, "libpng could not start");
    }
    std::vector<uint8_t> encoded;
    // libpng reports errors by longjmp; nothing with a destructor is created between here and the end.
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        throw FileError(path, "libpng could not encode the image");
    }
    png_set_write_fn(png, &encoded, appendBytes, nullptr);
    png_set_IHDR(png, info, png_uint_32(image.width), png_uint_32(image.height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < image.height; ++y)
        png_write_row(png, const_cast<png_bytep>(image.rgb.data() + size_t(y) * size_t(image.width) * 3));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);

    AtomicFile file(path);
    file.write(std::span<const uint8_t>(encoded));
    file.commit();
}

} // namespace astroclip
