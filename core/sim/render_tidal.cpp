#include "core/sim/render_tidal.h"

#include "core/sim/render.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace astroclip::sim {

namespace {
constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr double kDeg = std::numbers::pi / 180.0;

double uniform(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

// Brightness along the arc (1 at its brightest), t ∈ [0, 1] from the arc's start.
double envelopeAt(const TidalArc& arc, double t) {
    switch (arc.envelope) {
    case TidalEnvelope::Arc: return std::pow(std::sin(std::numbers::pi * t), arc.envelopePower);
    case TidalEnvelope::Tail: return std::min(1.0, t / 0.08) * std::pow(1.0 - t, arc.envelopePower);
    }
    return 0.0;
}
// A tail narrows as it fades outward; arcs keep their width.
double widthFactorAt(const TidalArc& arc, double t) { return arc.envelope == TidalEnvelope::Tail ? 1.0 - 0.5 * t : 1.0; }

double ridgeRadius(const TidalArc& arc, double t) {
    return arc.radiusStartArcsec + (arc.radiusEndArcsec - arc.radiusStartArcsec) * t;
}
} // namespace

double TidalGeometry::minRidgeRadiusArcsec() const {
    double r = arcs.empty() ? 0.0 : 1e300;
    for (const TidalArc& a : arcs) r = std::min({r, a.radiusStartArcsec, a.radiusEndArcsec});
    return r;
}
double TidalGeometry::maxRidgeRadiusArcsec() const {
    double r = 0;
    for (const TidalArc& a : arcs) r = std::max({r, a.radiusStartArcsec, a.radiusEndArcsec});
    return r;
}

TidalGeometry drawTidalGeometry(TidalKind kind, double hostReArcsec, double muR, int stampSize, Rng& rng) {
    TidalGeometry g;
    g.kind = kind;
    if (kind == TidalKind::None) return g;
    // Draw everything in units of the host size first, then fix the scale.
    struct Drawn { double r0, r1; bool clockwise = false; };
    std::vector<Drawn> radii;
    switch (kind) {
    case TidalKind::Shells: {
        // A few concentric partial shells between 1.5 and 4 R_e, on alternating sides.
        const int count = std::uniform_int_distribution<int>(2, 4)(rng);
        const double side = uniform(rng, 0.0, kTwoPi);
        for (int k = 0; k < count; ++k) {
            const double m = 1.5 + 2.5 * (k + uniform(rng, 0.15, 0.85)) / count;
            TidalArc a;
            a.crossSection = TidalCrossSection::Shell;
            a.envelope = TidalEnvelope::Arc;
            a.envelopePower = 0.5;
            a.angleSpanRad = uniform(rng, 100.0, 160.0) * kDeg;
            a.angleStartRad = side + k * std::numbers::pi + uniform(rng, -0.3, 0.3) - 0.5 * a.angleSpanRad;
            g.arcs.push_back(a);
            radii.push_back({m, m});
        }
        break;
    }
    case TidalKind::Stream: {
        // A long thin arc on a (slightly drifting) circle of 3–8 R_e, FWHM 1–2″.
        const double m = uniform(rng, 3.0, 8.0), drift = uniform(rng, -0.2, 0.2);
        TidalArc a;
        a.crossSection = TidalCrossSection::Gaussian;
        a.envelope = TidalEnvelope::Arc;
        a.envelopePower = 0.7;
        a.angleSpanRad = uniform(rng, 150.0, 300.0) * kDeg;
        a.angleStartRad = uniform(rng, 0.0, kTwoPi);
        a.innerWidthArcsec = a.outerWidthArcsec = uniform(rng, 1.0, 2.0) / (2.0 * std::sqrt(2.0 * std::log(2.0)));
        g.arcs.push_back(a);
        radii.push_back({m, m * (1.0 + drift)});
        break;
    }
    case TidalKind::Tail: {
        // A broad tail leaving the host at ~1 R_e and curling outward to 4–7 R_e; either sense.
        const double mOut = uniform(rng, 4.0, 7.0);
        const bool clockwise = std::bernoulli_distribution(0.5)(rng);
        TidalArc a;
        a.crossSection = TidalCrossSection::Gaussian;
        a.envelope = TidalEnvelope::Tail;
        a.envelopePower = 1.5;
        a.angleSpanRad = uniform(rng, 50.0, 110.0) * kDeg;
        a.angleStartRad = uniform(rng, 0.0, kTwoPi);
        a.innerWidthArcsec = uniform(rng, 0.25, 0.4);   // × scale, fixed below
        g.arcs.push_back(a);
        radii.push_back({1.0, mOut, clockwise});
        break;
    }
    case TidalKind::None: break;
    }
    double maxMultiple = 0;
    for (const Drawn& d : radii) maxMultiple = std::max({maxMultiple, d.r0, d.r1});
    const double halfStampArcsec = 0.5 * stampSize * kPixelScaleArcsec;
    g.scaleArcsec = std::min(std::max(hostReArcsec, 1.0), 0.9 * halfStampArcsec / maxMultiple);
    for (size_t i = 0; i < g.arcs.size(); ++i) {
        TidalArc& a = g.arcs[i];
        a.radiusStartArcsec = radii[i].r0 * g.scaleArcsec;
        a.radiusEndArcsec = radii[i].r1 * g.scaleArcsec;
        if (a.crossSection == TidalCrossSection::Shell) {
            a.innerWidthArcsec = std::max(0.5, 0.15 * a.radiusStartArcsec);
            a.outerWidthArcsec = 0.3;
        }
        if (a.envelope == TidalEnvelope::Tail) {
            a.innerWidthArcsec = a.outerWidthArcsec = std::clamp(a.innerWidthArcsec * g.scaleArcsec, 0.8, 3.0);
            if (radii[i].clockwise) a.angleSpanRad = -a.angleSpanRad;   // curls the other way
        }
    }
    // Normalise: the ridge brightness averaged along the arcs (weighted by arc length)
    // equals the requested surface brightness.
    double weighted = 0, length = 0;
    for (const TidalArc& a : g.arcs) {
        constexpr int kSamples = 512;
        for (int s = 0; s < kSamples; ++s) {
            const double t = (s + 0.5) / kSamples;
            const double dl = ridgeRadius(a, t) * std::abs(a.angleSpanRad) / kSamples;
            weighted += envelopeAt(a, t) * dl;
            length += dl;
        }
    }
    const double meanEnvelope = weighted / length;
    const double sbPerPixel = std::pow(10.0, -0.4 * (muR - 22.5)) * kPixelScaleArcsec * kPixelScaleArcsec;
    g.ridgeFluxPerPixelR = sbPerPixel / meanEnvelope;
    return g;
}

double tidalFluxPerPixelR(const TidalGeometry& geometry, double dx, double dy) {
    const double rho = std::hypot(dx, dy);
    const double theta = std::atan2(dy, dx);
    double value = 0;
    for (const TidalArc& a : geometry.arcs) {
        // Fraction along the arc, for either sense of rotation.
        double u = std::fmod((theta - a.angleStartRad) * (a.angleSpanRad >= 0 ? 1.0 : -1.0), kTwoPi);
        if (u < 0) u += kTwoPi;
        const double span = std::abs(a.angleSpanRad);
        if (u > span) continue;
        const double t = u / span;
        const double d = rho - ridgeRadius(a, t);
        double cross = 0;
        if (a.crossSection == TidalCrossSection::Shell) {
            cross = d < 0 ? std::exp(d / a.innerWidthArcsec) : std::exp(-0.5 * d * d / (a.outerWidthArcsec * a.outerWidthArcsec));
        } else {
            const double s = a.innerWidthArcsec * widthFactorAt(a, t);
            if (std::abs(d) > 6.0 * s) continue;
            cross = std::exp(-0.5 * d * d / (s * s));
        }
        value += envelopeAt(a, t) * cross;
    }
    return geometry.ridgeFluxPerPixelR * value;
}

void addTidalFeature(const TidalGeometry& geometry, double xc, double yc, int size, float* image) {
    if (geometry.arcs.empty()) return;
    // Smooth on the pixel scale (widths ≥ 0.3″ ≈ 1.1 px), so sampling at pixel centres suffices.
    for (int iy = 0; iy < size; ++iy)
        for (int ix = 0; ix < size; ++ix)
            image[size_t(iy) * size + ix] +=
                float(tidalFluxPerPixelR(geometry, (ix - xc) * kPixelScaleArcsec, (iy - yc) * kPixelScaleArcsec));
}

} // namespace astroclip::sim
