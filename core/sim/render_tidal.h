#pragma once
// Low-surface-brightness tidal debris around the central galaxy: shells, streams and tails,
// each described as one or more arcs around the host's centre (radius may drift along the
// arc, so a tail is a short spiral). Geometry is drawn from the rng and scaled to the host.
#include "core/sim/galaxy.h"

#include <vector>

namespace astroclip::sim {

enum class TidalCrossSection {
    Shell,      // exponential rise toward a sharp outer edge (projected shell), thin Gaussian outside
    Gaussian,   // symmetric Gaussian (streams, tails)
};
enum class TidalEnvelope {
    Arc,        // fades smoothly at both ends: sin(π t)^p
    Tail,       // rises quickly at the host, then fades and narrows outward
};

struct TidalArc {
    double radiusStartArcsec = 0;     // ridge radius at the start of the arc
    double radiusEndArcsec = 0;       // ridge radius at the end (radius changes linearly with angle)
    double angleStartRad = 0;         // polar angle of the start, atan2(dy, dx) in pixel axes
    double angleSpanRad = 0;          // extent (< 2π): > 0 counter-clockwise, < 0 clockwise
    double innerWidthArcsec = 0;      // Shell: e-folding scale inside the edge; Gaussian: σ
    double outerWidthArcsec = 0;      // Shell: Gaussian σ of the outer edge; Gaussian: σ
    TidalCrossSection crossSection = TidalCrossSection::Gaussian;
    TidalEnvelope envelope = TidalEnvelope::Arc;
    double envelopePower = 1.0;
};

struct TidalGeometry {
    TidalKind kind = TidalKind::None;
    double scaleArcsec = 0;           // the host size the radii were scaled to
    std::vector<TidalArc> arcs;
    // Intrinsic (pre-PSF) r-band surface brightness on the ridge where the envelope is 1,
    // nanomaggies per pixel; the ridge brightness averaged along the arcs equals tidalMuR.
    double ridgeFluxPerPixelR = 0;
    double minRidgeRadiusArcsec() const;
    double maxRidgeRadiusArcsec() const;
};

// Draws the feature's geometry. hostReArcsec: the host's half-light radius. The scale is
// floored at 1″ (so the debris lies outside the PSF core even for compact hosts) and shrunk
// where needed so the outermost ridge stays inside 90 % of the stamp's half-width.
TidalGeometry drawTidalGeometry(TidalKind kind, double hostReArcsec, double muR, int stampSize, Rng& rng);

// The feature's noiseless, PSF-free r-band flux per pixel (nanomaggies) at offset
// (dx, dy) arcsec from the host centre, in pixel axes (+x west, +y north).
double tidalFluxPerPixelR(const TidalGeometry& geometry, double dxArcsec, double dyArcsec);

// Adds the feature's noiseless, PSF-free r-band flux (nanomaggies per pixel) to
// image[size][size], centred on (xc, yc) in 0-based pixel-centre coordinates.
void addTidalFeature(const TidalGeometry& geometry, double xc, double yc, int size, float* image);

} // namespace astroclip::sim
