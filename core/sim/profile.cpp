#include "core/sim/profile.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

namespace astroclip::sim {

double regularizedGammaP(double a, double x) {
    assert(a > 0 && x >= 0);
    if (x <= 0) return 0.0;
    const double logPrefactor = a * std::log(x) - x - std::lgamma(a);
    if (x < a + 1.0) {
        // Power series: γ(a,x) = x^a e^-x Σ x^k / (a (a+1) ... (a+k)).
        double term = 1.0 / a, sum = term;
        for (int k = 1; k < 1000; ++k) {
            term *= x / (a + k);
            sum += term;
            if (std::abs(term) < std::abs(sum) * 1e-16) break;
        }
        return std::min(1.0, sum * std::exp(logPrefactor));
    }
    // Continued fraction for Q(a,x) = 1 - P (modified Lentz), converges fast for x ≥ a + 1.
    constexpr double tiny = 1e-300;
    double bcf = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / bcf, h = d;
    for (int k = 1; k < 1000; ++k) {
        const double an = -k * (k - a);
        bcf += 2.0;
        d = an * d + bcf;
        if (std::abs(d) < tiny) d = tiny;
        c = bcf + an / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1.0) < 1e-16) break;
    }
    return std::max(0.0, 1.0 - std::exp(logPrefactor) * h);
}

double sersicB(double n) {
    assert(n > 0);
    const double a = 2.0 * n;
    // Ciotti & Bertin (1999) asymptotic expansion as the starting point, then safeguarded
    // Newton steps on P(2n, b) - 1/2 inside a bracket that always holds the root.
    double lo = 1e-12, hi = a + 20.0;
    double b = std::clamp(a - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n), 1e-3, hi);
    for (int it = 0; it < 100; ++it) {
        const double f = regularizedGammaP(a, b) - 0.5;
        if (f > 0) hi = b; else lo = b;
        const double slope = std::exp((a - 1.0) * std::log(b) - b - std::lgamma(a));
        double next = b - f / slope;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (std::abs(next - b) < 1e-13 * b) return next;
        b = next;
    }
    return b;
}

double sersicEnclosedFraction(double n, double radiusOverRe) {
    if (radiusOverRe <= 0) return 0.0;
    return regularizedGammaP(2.0 * n, sersicB(n) * std::pow(radiusOverRe, 1.0 / n));
}

namespace {

// Evaluates one Sérsic profile (unit total flux) and integrates it over boxes.
class SersicIntegrator {
public:
    explicit SersicIntegrator(const SersicShape& s)
        : n_(s.n), invN_(1.0 / s.n), re_(s.rePix), invQ_(1.0 / s.axisRatio), b_(sersicB(s.n)),
          exponential_(s.n == 1.0) {
        const double pa = s.positionAngleDeg * std::numbers::pi / 180.0;
        sinPa_ = std::sin(pa);
        cosPa_ = std::cos(pa);
        // Total flux = 2π q R_e² n e^b b^-2n Γ(2n) I_e; keep I(R) = exp(lnI0 - b (R/R_e)^(1/n)).
        const double lnTotal = std::log(2.0 * std::numbers::pi * s.axisRatio * re_ * re_ * n_) + b_ -
                               2.0 * n_ * std::log(b_) + std::lgamma(2.0 * n_);
        lnI0_ = b_ - lnTotal;
        // Elliptical radii at which a whole pixel can be integrated by its midpoint alone:
        // |d ln I / dR| · (pixel extent in R) ≤ kTolerance. |dlnI/dR| = (b / n R_e) (R/R_e)^(1/n - 1).
        const double halfDiag = halfDiagonal_ = 0.5 * std::numbers::sqrt2 * invQ_;
        const double coeff = b_ * invN_ / re_;   // gradient at R = R_e
        if (exponential_) {
            safeMin_ = coeff * invQ_ <= kTolerance ? 0.0 : std::numeric_limits<double>::infinity();
            safeMax_ = std::numeric_limits<double>::infinity();
        } else {
            // Radius where the gradient (times the pixel's extent 1/q) equals the tolerance.
            const double rStar = re_ * std::pow(kTolerance / (coeff * invQ_), 1.0 / (invN_ - 1.0));
            if (n_ > 1.0) { safeMin_ = rStar + halfDiag; safeMax_ = std::numeric_limits<double>::infinity(); }
            else { safeMin_ = 0.0; safeMax_ = rStar - halfDiag; }
        }
    }

    double ellipticalRadius(double dx, double dy) const {
        const double major = -dx * sinPa_ + dy * cosPa_;   // along the major axis (PA from +y toward -x)
        const double minor = dx * cosPa_ + dy * sinPa_;
        return std::sqrt(major * major + minor * minor * invQ_ * invQ_);
    }
    double intensity(double radius) const {
        if (exponential_) return std::exp(lnI0_ - b_ * radius / re_);   // the common disk, no pow
        if (radius <= 0) return std::exp(lnI0_);
        return std::exp(lnI0_ - b_ * std::exp(invN_ * std::log(radius / re_)));
    }
    // |d ln I / dR| at elliptical radius R.
    double logGradient(double radius) const {
        if (exponential_) return b_ / re_;
        if (radius <= 0) return n_ > 1.0 ? std::numeric_limits<double>::infinity() : 0.0;
        return b_ * invN_ / radius * std::exp(invN_ * std::log(radius / re_));
    }

    // Flux in the pixel centred at offset (dx, dy) from the profile centre.
    double pixel(double dx, double dy) const {
        const double r = ellipticalRadius(dx, dy);
        if (r >= safeMin_ && r <= safeMax_ && r > halfDiagonal_) return intensity(r);
        return box(dx, dy, 1.0, 0);
    }

private:
    double box(double dx, double dy, double w, int depth) const {
        const double r = ellipticalRadius(dx, dy);
        const double extent = 0.5 * std::numbers::sqrt2 * w * invQ_;
        const double rMin = std::max(0.0, r - extent), rMax = r + extent;
        // ln I changes by at most this much across the box (R varies by up to w/q within it).
        const double steepest = logGradient(n_ >= 1.0 ? rMin : rMax) * w * invQ_;
        // The centre is a kink (n = 1) or cusp (n > 1) that no fixed rule integrates well:
        // a box containing it is always subdivided, down to a negligible share of the flux.
        const bool holdsCentre = r <= extent;
        const bool negligible = intensity(rMin) * w * w < kAbsoluteTolerance;
        if (holdsCentre) {
            if (negligible || depth >= kMaxDepth) return intensity(r) * w * w;
        } else if (steepest <= kTolerance) {
            return intensity(r) * w * w;
        }
        // 2×2 Gauss–Legendre: relative error ~ (Δ ln I)⁴ / 4320 per axis, < 0.1 % here.
        if (!holdsCentre && (steepest <= kGaussTolerance || depth >= kMaxDepth || negligible)) {
            const double h = 0.5 * w / std::numbers::sqrt3;
            return 0.25 * w * w *
                   (intensity(ellipticalRadius(dx - h, dy - h)) + intensity(ellipticalRadius(dx + h, dy - h)) +
                    intensity(ellipticalRadius(dx - h, dy + h)) + intensity(ellipticalRadius(dx + h, dy + h)));
        }
        const int m = int(std::clamp(std::ceil(steepest / kGaussTolerance), 2.0, 8.0));
        const double sub = w / m;
        double sum = 0;
        for (int j = 0; j < m; ++j)
            for (int i = 0; i < m; ++i)
                sum += box(dx - 0.5 * w + (i + 0.5) * sub, dy - 0.5 * w + (j + 0.5) * sub, sub, depth + 1);
        return sum;
    }

    static constexpr double kTolerance = 0.25;          // max change of ln I across a midpoint box
    static constexpr double kGaussTolerance = 1.5;      // ... across a 2×2 Gauss–Legendre box
    static constexpr double kAbsoluteTolerance = 2e-8;  // of the total flux, per box
    static constexpr int kMaxDepth = 8;

    double n_, invN_, re_, invQ_, b_;
    bool exponential_;
    double sinPa_ = 0, cosPa_ = 1, lnI0_ = 0;
    double safeMin_ = 0, safeMax_ = 0;
    double halfDiagonal_ = 0;   // largest change of elliptical radius from a pixel's centre to its edge
};

} // namespace

double sersicTruncationRadius(double n, double lostFraction) {
    // Bisection on ln x for 1 - P(2n, b x^(1/n)) = lostFraction.
    double lo = 0.0, hi = std::log(1e4);
    for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (1.0 - sersicEnclosedFraction(n, std::exp(mid)) > lostFraction) lo = mid; else hi = mid;
    }
    return std::exp(hi);
}

void addSersic(const SersicShape& shape, double flux, int width, int height, float* image) {
    assert(shape.n > 0 && shape.rePix > 0 && shape.axisRatio > 0 && shape.axisRatio <= 1.0);
    assert(width > 0 && height > 0);
    if (flux == 0) return;
    const SersicIntegrator profile(shape);
    // Pixels beyond the radius that holds all but kTruncatedFraction of the light stay dark.
    const double reach = sersicTruncationRadius(shape.n, kTruncatedFraction) * shape.rePix + 1.0;
    const int x0 = std::max(0, int(std::floor(shape.xc - reach))), x1 = std::min(width - 1, int(std::ceil(shape.xc + reach)));
    const int y0 = std::max(0, int(std::floor(shape.yc - reach))), y1 = std::min(height - 1, int(std::ceil(shape.yc + reach)));
    for (int iy = y0; iy <= y1; ++iy) {
        const double dy = iy - shape.yc;
        float* row = image + size_t(iy) * width;
        for (int ix = x0; ix <= x1; ++ix) row[ix] += float(flux * profile.pixel(ix - shape.xc, dy));
    }
}

} // namespace astroclip::sim
