#pragma once
// Sérsic light profiles rendered into pixels, integrated over each pixel so that compact and
// cuspy profiles keep their analytic total flux (the imaging half's lowest layer; no PSF).
//
// Pixel convention used throughout the simulator's imaging half: pixel (ix, iy) is the unit
// square centred on the 0-based coordinates (ix, iy); the image is row-major with y the slow
// axis, +y is north and +x is west (east is left, as on the sky).
#include <vector>

namespace astroclip::sim {

// Regularised lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), a > 0, x ≥ 0.
double regularizedGammaP(double a, double x);

// The Sérsic b_n: the constant for which R_e encloses half the light, i.e. P(2n, b_n) = 1/2,
// found by Newton iteration on the incomplete gamma function (exact, any n > 0).
double sersicB(double n);

// Fraction of a Sérsic profile's total light inside the elliptical radius R (R/R_e given).
double sersicEnclosedFraction(double n, double radiusOverRe);

// The elliptical radius (in units of R_e) outside which only lostFraction of the light lies.
double sersicTruncationRadius(double n, double lostFraction);

// Light that addSersic leaves out beyond the truncation radius (so that small and distant
// sources cost little to render): a negligible 1e-5 of each component's flux.
constexpr double kTruncatedFraction = 1e-5;

// Geometry of one Sérsic component in pixel units.
struct SersicShape {
    double n = 1.0;
    double rePix = 1.0;              // half-light radius along the major axis (pixels, > 0)
    double axisRatio = 1.0;          // b/a in (0, 1]
    double positionAngleDeg = 0.0;   // major axis, east of north (counter-clockwise from +y)
    double xc = 0.0, yc = 0.0;       // centre, 0-based pixel-centre coordinates
};

// Adds flux × (profile integrated over each pixel) to image[height][width]. The profile is
// normalised to unit total flux over the infinite plane, so light falling outside the image is
// lost (as is the kTruncatedFraction beyond sersicTruncationRadius). Each pixel is integrated by adaptive sub-pixel quadrature: the midpoint where ln I
// changes by < 0.25 across the pixel, 2×2 Gauss–Legendre where it changes by < 1.5, and
// otherwise recursive subdivision (always for the box holding the centre, whose kink or cusp
// no fixed rule integrates) until the local error is negligible against the total flux.
void addSersic(const SersicShape& shape, double flux, int width, int height, float* image);

} // namespace astroclip::sim
