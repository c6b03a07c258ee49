// The cutout FITS file, laid out like the Legacy Surveys cutout service's (primary float32
// cube [3][H][W] in nanomaggies, BANDS = 'grz', TAN WCS) plus the simulator's IVAR, SEGMAP
// and DEPTHMAP extensions.
#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/sim/render_model.h"

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace astroclip::sim {

namespace {
// A TAN projection centred on (ra, dec) at the stamp centre, north up and east left. A cube's
// third axis gets a linear band-index axis (0 = g, 1 = r, 2 = z), so that WCS readers, which
// build one axis per NAXIS, find a complete, regular matrix.
void writeWcs(FitsFile& f, int size, bool cube, double ra, double dec) {
    const double crpix = size / 2 + 1;   // 0-based pixel size/2 is FITS pixel size/2 + 1
    f.writeKey("WCSAXES", cube ? 3 : 2, "");
    f.writeKey("CTYPE1", "RA---TAN", "gnomonic projection");
    f.writeKey("CTYPE2", "DEC--TAN", "gnomonic projection");
    f.writeKey("CUNIT1", "deg", "");
    f.writeKey("CUNIT2", "deg", "");
    f.writeKey("CRVAL1", ra, "RA of the reference pixel (deg)");
    f.writeKey("CRVAL2", dec, "Dec of the reference pixel (deg)");
    f.writeKey("CRPIX1", crpix, "stamp centre, where the target sits");
    f.writeKey("CRPIX2", crpix, "stamp centre, where the target sits");
    f.writeKey("CD1_1", -kPixelScaleArcsec / 3600.0, "east is left");
    f.writeKey("CD1_2", 0.0, "");
    f.writeKey("CD2_1", 0.0, "");
    f.writeKey("CD2_2", kPixelScaleArcsec / 3600.0, "north is up");
    if (cube) {
        f.writeKey("CTYPE3", "BAND", "band index: 0 = g, 1 = r, 2 = z");
        f.writeKey("CRPIX3", 1.0, "");
        f.writeKey("CRVAL3", 0.0, "");
        f.writeKey("CD3_3", 1.0, "");
    }
    f.writeKey("RADESYS", "ICRS", "");
    f.writeKey("EQUINOX", 2000.0, "");
}

void writeCommonKeys(FitsFile& f, int size, bool cube, int64_t targetId, double ra, double dec) {
    writeWcs(f, size, cube, ra, dec);
    f.writeKey("TARGETID", targetId, "object identifier");
    f.writeKey("PIXSCALE", kPixelScaleArcsec, "pixel scale (arcsec/pixel)");
}
} // namespace

void writeCutoutFits(const std::string& path, const RenderedCutout& cutout, int64_t targetId, double ra, double dec) {
    const int size = cutout.size;
    [[maybe_unused]] const size_t plane = size_t(size) * size;
    assert(size > 0);
    assert(cutout.flux.size() == kBands * plane && cutout.ivar.size() == kBands * plane);
    assert(cutout.segmap.size() == plane && cutout.depthmap.size() == plane);
    const std::string tmp = path + ".tmp";
    try {
        FitsFile f = FitsFile::create(tmp);
        const std::vector<long> cube = {kBands, size, size}, image = {size, size};

        f.writeImage(cube, cutout.flux.data());
        writeCommonKeys(f, size, true, targetId, ra, dec);
        f.writeKey("BANDS", "grz", "band order along NAXIS3");
        for (int b = 0; b < kBands; ++b) f.writeKey("BAND" + std::to_string(b), kBandNames[b], "");
        f.writeKey("BUNIT", "nanomaggy", "m_AB = 22.5 - 2.5 log10(flux)");
        f.writeKey("SURVEY", "simulated Legacy Surveys DR-like", "");
        for (int b = 0; b < kBands; ++b) {
            const std::string band = kBandNames[b];
            std::string upper = band;
            for (char& c : upper) c = char(std::toupper(c));
            f.writeKey("PSFFWHM_" + upper, cutout.psfFwhmArcsec[b], "PSF FWHM in " + band + " (arcsec)");
            f.writeKey("GALDEP_" + upper, cutout.galdepthMag[b], "5 sigma depth, 0.45\" exp galaxy, " + band + " (AB)");
        }
        f.writeChecksums();

        f.writeImage(cube, cutout.ivar.data(), "IVAR");
        writeCommonKeys(f, size, true, targetId, ra, dec);
        f.writeKey("BANDS", "grz", "band order along NAXIS3");
        f.writeKey("BUNIT", "nanomaggy**(-2)", "inverse variance of the sky noise");
        f.writeChecksums();

        f.writeImage(image, cutout.segmap.data(), "SEGMAP");
        writeCommonKeys(f, size, false, targetId, ra, dec);
        f.writeKey("SEG_BKG", int(kSegBackground), "class value: background");
        f.writeKey("SEG_CEN", int(kSegCentral), "class value: central galaxy");
        f.writeKey("SEG_NBR", int(kSegNeighbour), "class value: neighbour (blend)");
        f.writeKey("SEG_TID", int(kSegTidal), "class value: tidal feature of the central");
        f.writeKey("SEGTHRSB", kSegmentationThresholdMuR, "r-band mag/arcsec2 threshold of labelled pixels");
        f.writeComment("Each pixel: the source with the most noiseless PSF-convolved r-band flux, where the");
        f.writeComment("total noiseless r-band surface brightness is brighter than SEGTHRSB; else background.");
        f.writeChecksums();

        f.writeImage(image, cutout.depthmap.data(), "DEPTHMAP");
        writeCommonKeys(f, size, false, targetId, ra, dec);
        f.writeKey("BUNIT", "redshift", "");
        f.writeComment("Redshift of the source dominating each pixel (the host's for tidal debris); 0 for background.");
        f.writeChecksums();
        f.close();
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        std::remove(tmp.c_str());
        throw FileError(path, "cannot move the finished cutout into place: " + why);
    }
}

} // namespace astroclip::sim
