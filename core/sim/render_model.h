#pragma once
// The imaging half's lower layer, exposed for tests and for callers that want the noiseless
// truth: the PSF-convolved noiseless scene with its truth maps (renderSceneModel), the noise
// model at Legacy Surveys depth (observeScene), and the depth bookkeeping behind them.
// renderCutout(scene, rng) == observeScene(renderSceneModel(scene, rng), rng).
#include "core/sim/galaxy.h"
#include "core/sim/psf.h"
#include "core/sim/render.h"
#include "core/sim/render_tidal.h"

#include <array>
#include <vector>

namespace astroclip::sim {

// 5σ detection depth of a round exponential galaxy of R_e = 0.45″ (Legacy Surveys "galdepth")
// at the nominal PSF, mag AB; the sky noise per pixel follows from it (see skySigmaForGaldepth).
constexpr std::array<double, kBands> kNominalGaldepthMag = {24.0, 23.4, 22.5};
constexpr double kGaldepthReferenceReArcsec = 0.45;
// Typical dark-sky brightness on DECam (mag/arcsec²), used only to set the photon statistics
// of the sources: a sky-limited image has σ_sky² = sky / G, so G = sky / σ_sky² photo-electrons
// per nanomaggy (≈ 5200, 4300, 7100 in g, r, z at these depths).
constexpr std::array<double, kBands> kSkyBrightnessMagPerArcsec2 = {22.04, 20.91, 18.46};
// Seeing varies from object to object: FWHM = nominal × (1 + 3 % common + 1.5 % per band),
// Gaussian, clipped at ±8 %.
constexpr double kPsfJitterCommon = 0.03, kPsfJitterPerBand = 0.015, kPsfJitterClip = 0.08;
// A pixel is labelled in the segmentation map only where the noiseless PSF-convolved r-band
// surface brightness of all sources together is brighter than this (mag/arcsec²) — fainter
// than any simulated tidal feature (μ_r ≲ 27), well below the per-pixel sky noise.
constexpr double kSegmentationThresholdMuR = 28.0;

// Σ P_i² for the galdepth reference galaxy (0.45″ round exponential, unit flux, convolved
// with psf, pixel-integrated, centred on a pixel): the matched-filter weight of the depth.
double galdepthProfileSumSquares(const GaussianMixturePsf& psf);
// σ per pixel (nanomaggies) giving a 5σ matched-filter detection of the reference galaxy at
// galdepthMag: σ_flux = σ_pix / sqrt(Σ P²), σ_flux = f(galdepth) / 5.
double skySigmaForGaldepth(double galdepthMag, const GaussianMixturePsf& psf);
double galdepthForSkySigma(double skySigmaNanomaggies, const GaussianMixturePsf& psf);
// The fixed per-band sky noise of the simulated survey (from the nominal depth and PSF).
double surveySkySigma(int band);
// Photo-electrons per nanomaggy implied by the sky brightness and sky noise of a band.
double surveyElectronsPerNanomaggy(int band);

struct SceneSource {
    SegClass segClass = kSegBackground;
    double z = 0;
    std::vector<float> fluxR;       // [size][size] noiseless PSF-convolved r-band flux
};

struct SceneModel {
    int size = 0;
    std::array<double, kBands> psfFwhmArcsec{};
    std::array<double, kBands> galdepthMag{};   // for this cutout's PSF and the survey sky noise
    std::array<double, kBands> skySigma{};      // nanomaggies per pixel
    std::vector<float> flux;                    // [3][size][size] noiseless, PSF-convolved
    std::vector<SceneSource> sources;           // central, neighbours..., tidal (if any)
    std::vector<int16_t> segmap;                // [size][size]
    std::vector<float> depthmap;                // [size][size]
    TidalGeometry tidal;                        // geometry drawn for scene.tidal (arcs empty if none)
};

// Draws the PSF of each band and the tidal geometry from rng, and renders the noiseless scene.
// The stamp centre, where the central galaxy sits, is pixel (size/2, size/2) in 0-based
// pixel-centre coordinates (FITS CRPIX = size/2 + 1).
SceneModel renderSceneModel(const CutoutScene& scene, Rng& rng);

// Adds the survey's noise: Gaussian sky noise of σ = skySigma plus the sources' photon noise
// (Gaussian approximation, G = surveyElectronsPerNanomaggy). As in Legacy Surveys coadds the
// inverse variance describes the sky noise only (1/σ_sky²); source noise is not in it.
RenderedCutout observeScene(const SceneModel& model, Rng& rng);

} // namespace astroclip::sim
