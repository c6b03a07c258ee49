#pragma once
// The simulator's imaging half: renders a CutoutScene into g,r,z pixels as the Legacy Surveys
// would record them (0.262″/px, PSF, sky noise at survey depth, nanomaggies), with per-pixel
// truth maps, and writes the cutout FITS file.
#include "core/sim/galaxy.h"

#include <array>
#include <string>
#include <vector>

namespace astroclip::sim {

constexpr double kPixelScaleArcsec = 0.262;

// Segmentation classes of the truth map.
enum SegClass : int16_t { kSegBackground = 0, kSegCentral = 1, kSegNeighbour = 2, kSegTidal = 3 };

struct RenderedCutout {
    int size = 0;
    std::vector<float> flux;        // [3][size][size] nanomaggies, g,r,z, noise included
    std::vector<float> ivar;        // [3][size][size] 1/nanomaggy²
    std::vector<int16_t> segmap;    // [size][size] SegClass of the source dominating each pixel
    std::vector<float> depthmap;    // [size][size] redshift of that source; 0 for background
    std::array<double, kBands> psfFwhmArcsec{};
    std::array<double, kBands> galdepthMag{};   // 5σ depth for a 0.45″ exponential galaxy
};

// The central galaxy sits at the stamp centre, 0-based pixel (size/2, size/2) with pixel (i, j)
// the unit square centred on (i, j) (FITS CRPIX = size/2 + 1); neighbours at (dxPix, dyPix)
// from it; +x west, +y north. Lower layers (noiseless model, truth, noise): render_model.h.
RenderedCutout renderCutout(const CutoutScene& scene, Rng& rng);

// Writes the cutout as the Legacy Surveys cutout service does (primary float32 cube
// [3][H][W], BANDS='grz', TAN WCS centred on ra/dec, nanomaggies) plus IVAR, SEGMAP and
// DEPTHMAP extensions; TARGETID names the object. Atomic: temp file then rename.
void writeCutoutFits(const std::string& path, const RenderedCutout& cutout, int64_t targetId, double ra, double dec);

} // namespace astroclip::sim
