// find_ab_params: the a, b of 1/(1 + a x^2b) closest (least squares) to UMAP's target
// membership curve, by Levenberg–Marquardt from (1, 1) as scipy's curve_fit does.
#include "core/maps/umap.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace astroclip::maps {

CurveParams findAbParams(double spread, double minDist) {
    constexpr int kPoints = 300;
    std::array<double, kPoints> xs{}, ys{};
    for (int i = 0; i < kPoints; ++i) {
        xs[i] = 3.0 * spread * i / (kPoints - 1);  // numpy.linspace(0, 3 spread, 300)
        ys[i] = xs[i] < minDist ? 1.0 : std::exp(-(xs[i] - minDist) / spread);
    }
    // Sum of squared residuals, and the normal equations JᵀJ, Jᵀr at (a, b).
    auto evaluate = [&](double a, double b, double jtj[3], double jtr[2]) {
        double cost = 0;
        jtj[0] = jtj[1] = jtj[2] = jtr[0] = jtr[1] = 0;
        for (int i = 0; i < kPoints; ++i) {
            const double x = xs[i];
            const double p = x > 0 ? std::pow(x, 2 * b) : 0.0;  // x^2b
            const double den = 1 + a * p;
            const double r = 1 / den - ys[i];
            const double da = -p / (den * den);
            const double db = x > 0 ? -a * p * 2 * std::log(x) / (den * den) : 0.0;
            cost += r * r;
            jtj[0] += da * da;
            jtj[1] += da * db;
            jtj[2] += db * db;
            jtr[0] += da * r;
            jtr[1] += db * r;
        }
        return cost;
    };
    double a = 1, b = 1, lambda = 1e-3;
    double jtj[3], jtr[2];
    double cost = evaluate(a, b, jtj, jtr);
    for (int iter = 0; iter < 500; ++iter) {
        // Marquardt's scaling: damp each parameter by its own curvature.
        const double m00 = jtj[0] * (1 + lambda), m11 = jtj[2] * (1 + lambda), m01 = jtj[1];
        const double det = m00 * m11 - m01 * m01;
        if (!(det > 0)) {
            lambda *= 10;
            continue;
        }
        const double stepA = -(m11 * jtr[0] - m01 * jtr[1]) / det;
        const double stepB = -(m00 * jtr[1] - m01 * jtr[0]) / det;
        double tjtj[3], tjtr[2];
        const double trial = evaluate(a + stepA, b + stepB, tjtj, tjtr);
        if (trial < cost) {
            a += stepA;
            b += stepB;
            const bool converged = cost - trial <= 1e-15 * cost &&
                                   std::fabs(stepA) <= 1e-12 * std::fabs(a) && std::fabs(stepB) <= 1e-12 * std::fabs(b);
            cost = trial;
            std::copy(tjtj, tjtj + 3, jtj);
            std::copy(tjtr, tjtr + 2, jtr);
            lambda = std::max(lambda / 10, 1e-12);
            if (converged) break;
        } else {
            lambda *= 10;
            if (lambda > 1e12) break;  // no step lowers the cost: at the minimum
        }
    }
    return {a, b};
}

} // namespace astroclip::maps
