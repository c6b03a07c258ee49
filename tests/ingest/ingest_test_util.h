#pragma once
// Small FITS files made on the spot for the ingest tests.
#include "core/io/fits.h"

#include <string>
#include <vector>

namespace ingesttest {
using astroclip::FitsFile;

inline void writeWcs(FitsFile& f, double ra, double dec) {
    f.writeKey("CTYPE1", "RA---TAN");
    f.writeKey("CTYPE2", "DEC--TAN");
    f.writeKey("CRVAL1", ra);
    f.writeKey("CRVAL2", dec);
    f.writeKey("CRPIX1", 8.5);
    f.writeKey("CRPIX2", 8.5);
    f.writeKey("CD1_1", -0.262 / 3600);
    f.writeKey("CD1_2", 0.0);
    f.writeKey("CD2_1", 0.0);
    f.writeKey("CD2_2", 0.262 / 3600);
}
// A small g,r,z-style cube: planes × 16 × 16.
inline void writeCube(const std::string& path, int planes, const std::string& bands, double ra, double dec, float value,
               int64_t targetId) {
    std::vector<float> px(size_t(planes) * 16 * 16, value);
    auto f = FitsFile::create(path);
    f.writeImage({planes, 16, 16}, px.data());
    if (!bands.empty()) f.writeKey("BANDS", bands);
    f.writeKey("BUNIT", "nanomaggy");
    f.writeKey("TARGETID", targetId);
    writeWcs(f, ra, dec);
    f.close();
}

} // namespace ingesttest
