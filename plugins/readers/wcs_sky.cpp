#include "plugins/readers/wcs_sky.h"

#include "core/common/error.h"

#include <wcs.h>
#include <wcserr.h>
#include <wcshdr.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

namespace astroclip::readers {

namespace {
// wcspih's flex scanner and wcserr's global switch are not documented as thread-safe; the
// ingest driver may read files on several threads, so header parsing is serialised.
std::mutex& wcsParseMutex() {
    static std::mutex m;
    return m;
}

// A celestial sub-WCS (owned; freed with wcsfree).
struct CelestialWcs {
    wcsprm w{};
    bool used = false;
    ~CelestialWcs() {
        if (used) wcsfree(&w);
    }
};

struct WcsSet {
    int nwcs = 0;
    wcsprm* wcs = nullptr;
    ~WcsSet() {
        if (wcs) wcsvfree(&nwcs, &wcs);
    }
};

constexpr double kDeg = M_PI / 180.0;
} // namespace

double separationArcsec(double ra1, double dec1, double ra2, double dec2) {
    // Haversine: accurate for the sub-arcsecond separations the readers compare.
    const double dra = (ra2 - ra1) * kDeg, ddec = (dec2 - dec1) * kDeg;
    const double a = std::sin(ddec / 2) * std::sin(ddec / 2) +
                     std::cos(dec1 * kDeg) * std::cos(dec2 * kDeg) * std::sin(dra / 2) * std::sin(dra / 2);
    return 2 * std::asin(std::min(1.0, std::sqrt(a))) / kDeg * 3600.0;
}

std::optional<ImageSky> imageCentreSky(const std::string& path, const std::string& headerCards, int ncards,
                                       int width, int height) {
    std::vector<char> header(headerCards.begin(), headerCards.end());
    header.push_back('\0');
    WcsSet set;
    {
        std::lock_guard<std::mutex> lock(wcsParseMutex());
        int nreject = 0;
        const int status = wcspih(header.data(), ncards, WCSHDR_all, 0, &nreject, &set.nwcs, &set.wcs);
        if (status) throw FileError(path, std::string("cannot parse the WCS header: ") + wcshdr_errmsg[status]);
    }
    if (set.nwcs == 0 || !set.wcs) return std::nullopt;
    wcsprm* w = &set.wcs[0];  // the primary description (alternate ' ')
    // A header without any CTYPE gives a linear "WCS" with no celestial axes: no sky position.
    bool hasCelestialCtype = false;
    for (int i = 0; i < w->naxis; ++i) {
        const std::string ctype = w->ctype[i];
        if (ctype.size() >= 4 && ctype.find('-') != std::string::npos) hasCelestialCtype = true;
    }
    if (!hasCelestialCtype) return std::nullopt;
    wcserr_enable(1);
    // A cube's header often describes only the two sky axes (CDi_j without CD3_3): keep just
    // the celestial axes, else the full linear matrix would be singular.
    CelestialWcs celestial;
    if (w->naxis > 2) {
        int nsub = 2;
        int axes[2] = {WCSSUB_LONGITUDE, WCSSUB_LATITUDE};
        celestial.w.flag = -1;
        if (const int status = wcssub(1, w, &nsub, axes, &celestial.w))
            throw FileError(path, std::string("cannot extract the celestial WCS axes: ") + wcs_errmsg[status]);
        celestial.used = true;
        if (nsub < 2) return std::nullopt;
        w = &celestial.w;
    }
    if (const int status = wcsset(w)) {
        const std::string why = w->err ? w->err->msg : wcs_errmsg[status];
        throw FileError(path, "invalid WCS: " + why);
    }
    if (w->lng < 0 || w->lat < 0) return std::nullopt;

    // Pixel coordinates are 1-based in FITS: the centre of a W-pixel axis is (W+1)/2. Extra
    // axes (a cube's plane axis) sit at their first pixel.
    const int n = w->naxis;
    const double cx = (width + 1) / 2.0, cy = (height + 1) / 2.0;
    const double offsets[3][2] = {{0, 0}, {1, 0}, {0, 1}};
    std::vector<double> pix(3 * n, 1.0), img(3 * n), phi(3), theta(3), world(3 * n);
    std::vector<int> stat(3);
    for (int k = 0; k < 3; ++k) {
        pix[k * n + 0] = cx + offsets[k][0];
        pix[k * n + 1] = cy + offsets[k][1];
    }
    if (const int status = wcsp2s(w, 3, n, pix.data(), img.data(), phi.data(), theta.data(), world.data(), stat.data())) {
        const std::string why = w->err ? w->err->msg : wcs_errmsg[status];
        throw FileError(path, "WCS cannot convert the image centre to sky coordinates: " + why);
    }
    ImageSky sky;
    sky.ra = world[w->lng];
    sky.dec = world[w->lat];
    if (!std::isfinite(sky.ra) || !std::isfinite(sky.dec) || sky.dec < -90 || sky.dec > 90)
        throw FileError(path, "WCS gives an impossible sky position for the image centre");
    if (sky.ra < 0 || sky.ra >= 360) sky.ra = std::fmod(std::fmod(sky.ra, 360.0) + 360.0, 360.0);
    const double sx = separationArcsec(world[w->lng], world[w->lat], world[n + w->lng], world[n + w->lat]);
    const double sy = separationArcsec(world[w->lng], world[w->lat], world[2 * n + w->lng], world[2 * n + w->lat]);
    sky.pixscaleArcsec = std::sqrt(sx * sy);
    return sky;
}

} // namespace astroclip::readers
