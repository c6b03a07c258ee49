#include "core/sim/cosmology.h"

#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {
constexpr double kSpeedOfLightKmS = 299792.458;
}

FlatLambdaCdm::FlatLambdaCdm(double h0, double omegaM, double zMax)
    : h0_(h0), omegaM_(omegaM), hubbleDistance_(kSpeedOfLightKmS / h0), zMax_(zMax), step_(1e-3) {
    assert(h0 > 0 && omegaM > 0 && omegaM <= 1 && zMax > 0);
    // Cumulative integral of 1/E on a fine grid, each step by 5-point Gauss–Legendre (exact to
    // far below the 1e-6 level that linear interpolation between steps of 1e-3 keeps).
    const int n = int(std::ceil(zMax_ / step_)) + 1;
    table_.assign(n, 0.0);
    static const double x[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831, 0.9061798459386640};
    static const double w[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665, 0.2369268850561891};
    for (int i = 1; i < n; ++i) {
        const double a = (i - 1) * step_, mid = a + 0.5 * step_;
        double s = 0;
        for (int k = 0; k < 5; ++k) s += w[k] / efunc(mid + 0.5 * step_ * x[k]);
        table_[i] = table_[i - 1] + 0.5 * step_ * s;
    }
}

double FlatLambdaCdm::efunc(double z) const {
    const double zp = 1 + z;
    return std::sqrt(omegaM_ * zp * zp * zp + (1 - omegaM_));
}

double FlatLambdaCdm::comovingDistanceMpc(double z) const {
    assert(z >= 0 && z <= zMax_);
    const double t = z / step_;
    const int i = std::min(int(t), int(table_.size()) - 2);
    const double f = t - i;
    // Interpolating the integral with the integrand's slope (cubic Hermite) keeps full accuracy.
    const double y0 = table_[i], y1 = table_[i + 1];
    const double d0 = step_ / efunc(i * step_), d1 = step_ / efunc((i + 1) * step_);
    const double f2 = f * f, f3 = f2 * f;
    const double v = (2 * f3 - 3 * f2 + 1) * y0 + (f3 - 2 * f2 + f) * d0 + (-2 * f3 + 3 * f2) * y1 + (f3 - f2) * d1;
    return hubbleDistance_ * v;
}

double FlatLambdaCdm::differentialComovingVolume(double z) const {
    const double dc = comovingDistanceMpc(z);
    return hubbleDistance_ * dc * dc / efunc(z);
}

double FlatLambdaCdm::distanceModulus(double z) const {
    return 5.0 * std::log10(luminosityDistanceMpc(z) * 1e5);
}

const FlatLambdaCdm& defaultCosmology() {
    static const FlatLambdaCdm cosmo;
    return cosmo;
}

} // namespace astroclip::sim
