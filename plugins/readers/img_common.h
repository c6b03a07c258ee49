#pragma once
// Pieces shared by the image readers (image-cube, band-image): shape validation, checked
// pixel reads, object ids from header keywords, units. All failures are FileError(path, ...).
#include "core/data/records.h"
#include "core/io/fits.h"
#include "plugins/readers/wcs_sky.h"

#include <optional>
#include <string>
#include <vector>

namespace astroclip::readers {

std::string toUpper(std::string s);
std::string toLower(std::string s);
std::string trimmed(const std::string& s);
std::string baseName(const std::string& path);
std::string absolutePath(const std::string& path);

// Validates an image shape (C order) and drops leading length-1 axes beyond `maxDims`
// (NAXIS=4 with NAXIS4=1 is a cube). Throws on a zero-length axis, extra axes longer than 1,
// or sizes no cutout or CCD can have.
std::vector<long> checkedImageShape(const std::string& path, int hdu, std::vector<long> shape, size_t maxDims);

// Throws when the header promises more pixel bytes than the file holds (a truncated copy),
// before any allocation; tile-compressed images are exempt (their data are smaller).
void checkPixelBytesPresent(FitsFile& f, const std::vector<long>& shape);

struct PixelCheck {
    long nonFinite = 0;                      // NaN/Inf pixels, masked downstream
    std::vector<int> emptyPlanes;            // planes with no finite pixel at all
};
// Reads the current HDU's pixels and counts non-finite ones per plane ([planes][H][W]).
// Throws "image is entirely NaN/Inf" when no pixel of any plane is finite.
PixelCheck checkPixels(FitsFile& f, long planes, long height, long width);

// Link keys from header keywords: TARGETID → desi:targetid:<id>, OBJNO → deep2:<n>,
// OBJID or ID → <readerName>:<value>.
std::vector<std::string> headerIdKeys(FitsFile& f, const std::string& readerName);

// Sky position from the current HDU's WCS (nullopt: no celestial WCS).
std::optional<ImageSky> currentHduSky(FitsFile& f, int width, int height);

// BUNIT spelled the catalog's way ("nanomaggy", "count", ...); "" when unknown.
std::string normalisedUnit(const std::string& bunit);

// "<absolute path>[<hdu>]", the form of ImageRecord's *Ref fields.
std::string hduRef(const std::string& absPath, int hdu);

} // namespace astroclip::readers
