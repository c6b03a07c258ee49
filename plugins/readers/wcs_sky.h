#pragma once
// Sky position of an image from its FITS WCS, through wcslib (which also understands the
// TPV polynomial distortion of DECam community-pipeline images and the IRAF/AIPS dialects).
#include <optional>
#include <string>

namespace astroclip::readers {

struct ImageSky {
    double ra = 0, dec = 0;       // degrees, world coordinates of the image centre
    double pixscaleArcsec = 0;    // sqrt of the pixel's area on the sky at the centre
};

// headerCards: the HDU's header as FitsFile::headerCards gives it (80-char cards, no END).
// width/height: the image's NAXIS1/NAXIS2. Returns nullopt when the header holds no celestial
// WCS; throws FileError(path, ...) when it holds one that wcslib cannot use.
std::optional<ImageSky> imageCentreSky(const std::string& path, const std::string& headerCards, int ncards,
                                       int width, int height);

// Angular separation of two positions, arcsec.
double separationArcsec(double ra1, double dec1, double ra2, double dec2);

} // namespace astroclip::readers
