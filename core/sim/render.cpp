// Renders a CutoutScene: each light component's shape is integrated over the pixels once
// (band-independent), scaled by its flux in each band, and convolved with the band's PSF.
// The r band is convolved source by source, which gives the truth maps; g and z are
// convolved once for all sources together (convolution is linear).
#include "core/sim/profile.h"
#include "core/sim/render_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {
constexpr int kR = 1;   // index of the r band, which defines the truth maps

// Adds the component's pixel-integrated light, in every band, to the per-band images.
void addComponent(const Component& c, double xc, double yc, int size, std::vector<float>& shape,
                  const std::array<float*, kBands>& bandImages) {
    if (c.flux[0] == 0 && c.flux[1] == 0 && c.flux[2] == 0) return;
    SersicShape s;
    // Valid ranges of the profile code; a zero size means a point source (1 mas).
    s.n = std::clamp(c.sersicN, 0.2, 8.0);
    s.rePix = std::max(c.reArcsec, 1e-3) / kPixelScaleArcsec;
    s.axisRatio = std::clamp(c.axisRatio, 0.05, 1.0);
    s.positionAngleDeg = c.positionAngleDeg;
    s.xc = xc;
    s.yc = yc;
    std::fill(shape.begin(), shape.end(), 0.0f);
    addSersic(s, 1.0, size, size, shape.data());
    for (int b = 0; b < kBands; ++b) {
        if (!bandImages[b] || c.flux[b] == 0) continue;
        const float f = float(c.flux[b]);
        float* dst = bandImages[b];
        for (size_t i = 0; i < shape.size(); ++i) dst[i] += f * shape[i];
    }
}

// Half-light radius of the host for scaling its tidal debris: the catalogue value, else the
// r-flux-weighted radius of its components.
double hostSizeArcsec(const Galaxy& g) {
    if (g.reArcsec > 0) return g.reArcsec;
    const double fb = std::max(g.bulge.flux[kR], 0.0), fd = std::max(g.disk.flux[kR], 0.0);
    if (fb + fd <= 0) return std::max(g.bulge.reArcsec, g.disk.reArcsec);
    return (fb * g.bulge.reArcsec + fd * g.disk.reArcsec) / (fb + fd);
}
} // namespace

SceneModel renderSceneModel(const CutoutScene& scene, Rng& rng) {
    assert(scene.size > 0);
    const int size = scene.size;
    const size_t plane = size_t(size) * size;
    const double centre = size / 2;   // 0-based pixel-centre coordinate of the stamp centre

    SceneModel model;
    model.size = size;
    std::normal_distribution<double> gauss(0.0, 1.0);
    const double common = kPsfJitterCommon * gauss(rng);
    std::vector<GaussianMixturePsf> psfs;
    for (int b = 0; b < kBands; ++b) {
        const double jitter = std::clamp(common + kPsfJitterPerBand * gauss(rng), -kPsfJitterClip, kPsfJitterClip);
        psfs.emplace_back(kNominalPsfFwhmArcsec[b] * (1.0 + jitter), kPixelScaleArcsec);
        model.psfFwhmArcsec[b] = psfs.back().fwhmArcsec();
        model.skySigma[b] = surveySkySigma(b);
        model.galdepthMag[b] = galdepthForSkySigma(model.skySigma[b], psfs.back());
    }
    model.tidal = drawTidalGeometry(scene.tidal, hostSizeArcsec(scene.central), scene.tidalMuR, size, rng);

    // Unconvolved light: g and z summed over sources, r kept per source.
    model.flux.assign(kBands * plane, 0.0f);
    float* g = model.flux.data();
    float* z = model.flux.data() + 2 * plane;
    std::vector<float> shape(plane);
    auto addSource = [&](SegClass cls, double redshift) -> SceneSource& {
        model.sources.push_back({cls, redshift, std::vector<float>(plane, 0.0f)});
        return model.sources.back();
    };
    {
        SceneSource& s = addSource(kSegCentral, scene.central.z);
        for (const Component* c : {&scene.central.bulge, &scene.central.disk})
            addComponent(*c, centre, centre, size, shape, {g, s.fluxR.data(), z});
    }
    for (const Neighbour& nb : scene.neighbours) {
        SceneSource& s = addSource(kSegNeighbour, nb.galaxy.z);
        for (const Component* c : {&nb.galaxy.bulge, &nb.galaxy.disk})
            addComponent(*c, centre + nb.dxPix, centre + nb.dyPix, size, shape, {g, s.fluxR.data(), z});
    }
    if (!model.tidal.arcs.empty()) {
        // Debris of the host's old stars: the colour of its bulge, or of the whole host.
        const Galaxy& host = scene.central;
        const std::array<double, kBands> colourFlux = host.bulge.flux[kR] > 0 ? host.bulge.flux : host.totalFlux();
        if (colourFlux[kR] > 0) {
            SceneSource& s = addSource(kSegTidal, host.z);
            addTidalFeature(model.tidal, centre, centre, size, s.fluxR.data());
            for (int b : {0, 2}) {
                const float ratio = float(colourFlux[b] / colourFlux[kR]);
                float* dst = model.flux.data() + b * plane;
                for (size_t i = 0; i < plane; ++i) dst[i] += ratio * s.fluxR[i];
            }
        }
    }

    // PSF convolution.
    psfs[0].convolveFootprint(g, size, size);
    psfs[2].convolveFootprint(z, size, size);
    float* r = model.flux.data() + plane;
    for (SceneSource& s : model.sources) {
        psfs[kR].convolveFootprint(s.fluxR.data(), size, size);
        for (size_t i = 0; i < plane; ++i) r[i] += s.fluxR[i];
    }

    // Truth maps: the source contributing most noiseless r flux, where the scene is brighter
    // than the segmentation threshold.
    const float threshold = float(std::pow(10.0, -0.4 * (kSegmentationThresholdMuR - 22.5)) * kPixelScaleArcsec * kPixelScaleArcsec);
    model.segmap.assign(plane, kSegBackground);
    model.depthmap.assign(plane, 0.0f);
    for (size_t i = 0; i < plane; ++i) {
        if (!(r[i] > threshold)) continue;
        const SceneSource* best = nullptr;
        for (const SceneSource& s : model.sources)
            if (!best || s.fluxR[i] > best->fluxR[i]) best = &s;
        model.segmap[i] = best->segClass;
        model.depthmap[i] = float(best->z);
    }
    return model;
}

RenderedCutout renderCutout(const CutoutScene& scene, Rng& rng) {
    return observeScene(renderSceneModel(scene, rng), rng);
}

} // namespace astroclip::sim
