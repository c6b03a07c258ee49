// Survey depth and noise: the sky noise per pixel that gives the Legacy Surveys galaxy depth,
// photon statistics of the sources, and the noisy observation of a noiseless scene.
#include "core/sim/profile.h"
#include "core/sim/render_model.h"

#include <cmath>
#include <numeric>

namespace astroclip::sim {

namespace {
double nanomaggiesFromMag(double mag) { return std::pow(10.0, -0.4 * (mag - 22.5)); }
} // namespace

double galdepthProfileSumSquares(const GaussianMixturePsf& psf) {
    // Large enough to hold the PSF core and the galaxy; the neglected wings add < 1e-4 to Σ P².
    const double widestSigma = psf.sigmasPix()[GaussianMixturePsf::kComponents - 1];
    const int size = 2 * int(std::ceil(2.5 * widestSigma + 6.0)) + 1;
    std::vector<float> image(size_t(size) * size, 0.0f);
    SersicShape shape;
    shape.n = 1.0;
    shape.rePix = kGaldepthReferenceReArcsec / kPixelScaleArcsec;
    shape.xc = shape.yc = size / 2;
    addSersic(shape, 1.0, size, size, image.data());
    psf.convolve(image.data(), size, size);
    double sumSquares = 0;
    for (float v : image) sumSquares += double(v) * v;
    return sumSquares;
}

double skySigmaForGaldepth(double galdepthMag, const GaussianMixturePsf& psf) {
    return nanomaggiesFromMag(galdepthMag) / 5.0 * std::sqrt(galdepthProfileSumSquares(psf));
}

double galdepthForSkySigma(double skySigmaNanomaggies, const GaussianMixturePsf& psf) {
    const double fluxAt5Sigma = 5.0 * skySigmaNanomaggies / std::sqrt(galdepthProfileSumSquares(psf));
    return 22.5 - 2.5 * std::log10(fluxAt5Sigma);
}

double surveySkySigma(int band) {
    static const std::array<double, kBands> sigma = [] {
        std::array<double, kBands> s{};
        for (int b = 0; b < kBands; ++b)
            s[b] = skySigmaForGaldepth(kNominalGaldepthMag[b], GaussianMixturePsf(kNominalPsfFwhmArcsec[b], kPixelScaleArcsec));
        return s;
    }();
    return sigma[size_t(band)];
}

double surveyElectronsPerNanomaggy(int band) {
    const double skyPerPixel = nanomaggiesFromMag(kSkyBrightnessMagPerArcsec2[size_t(band)]) * kPixelScaleArcsec * kPixelScaleArcsec;
    const double sigma = surveySkySigma(band);
    return skyPerPixel / (sigma * sigma);
}

RenderedCutout observeScene(const SceneModel& model, Rng& rng) {
    RenderedCutout out;
    out.size = model.size;
    out.psfFwhmArcsec = model.psfFwhmArcsec;
    out.galdepthMag = model.galdepthMag;
    out.segmap = model.segmap;
    out.depthmap = model.depthmap;
    const size_t plane = size_t(model.size) * model.size;
    out.flux.resize(kBands * plane);
    out.ivar.resize(kBands * plane);
    std::normal_distribution<double> gauss(0.0, 1.0);
    for (int b = 0; b < kBands; ++b) {
        const double skyVariance = model.skySigma[b] * model.skySigma[b];
        const double invGain = 1.0 / surveyElectronsPerNanomaggy(b);
        const float ivar = float(1.0 / skyVariance);
        for (size_t i = b * plane; i < (b + 1) * plane; ++i) {
            const double truth = model.flux[i];
            const double variance = skyVariance + std::max(truth, 0.0) * invGain;
            out.flux[i] = float(truth + std::sqrt(variance) * gauss(rng));
            out.ivar[i] = ivar;
        }
    }
    return out;
}

} // namespace astroclip::sim
