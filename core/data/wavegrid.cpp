#include "core/data/wavegrid.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip {

std::vector<double> DesiGrid::waves() {
    std::vector<double> w(kSize);
    for (int i = 0; i < kSize; ++i) w[i] = wave(i);
    return w;
}

std::vector<double> pixelEdges(std::span<const double> c) {
    assert(c.size() >= 2);
    std::vector<double> e(c.size() + 1);
    for (size_t i = 1; i < c.size(); ++i) e[i] = 0.5 * (c[i - 1] + c[i]);
    e.front() = c[0] - (e[1] - c[0]);
    e.back() = c.back() + (c.back() - e[c.size() - 1]);
    return e;
}

Rebinned rebinSpectrum(std::span<const double> inWave, std::span<const double> inFlux,
                       std::span<const double> inIvar, std::span<const double> outWave) {
    assert(inWave.size() == inFlux.size() && inFlux.size() == inIvar.size());
    Rebinned out;
    const size_t n = outWave.size();
    out.flux.assign(n, 0.f);
    out.ivar.assign(n, 0.f);
    out.mask.assign(n, 1);
    if (inWave.size() < 2) return out;
    const auto ie = pixelEdges(inWave);
    const auto oe = pixelEdges(outWave);
    size_t j = 0;  // first input pixel that may overlap
    for (size_t i = 0; i < n; ++i) {
        const double lo = oe[i], hi = oe[i + 1];
        while (j < inWave.size() && ie[j + 1] <= lo) ++j;
        double wsum = 0, fsum = 0, varsum = 0, covered = 0;
        for (size_t k = j; k < inWave.size() && ie[k] < hi; ++k) {
            const double ov = std::min(hi, ie[k + 1]) - std::max(lo, ie[k]);
            if (ov <= 0) continue;
            covered += ov;
            const double iv = inIvar[k];
            if (!(iv > 0) || !std::isfinite(inFlux[k]) || !std::isfinite(iv)) { wsum = -1; break; }
            wsum += ov;
            fsum += ov * inFlux[k];
            varsum += ov * ov / iv;
        }
        // Require the output pixel to be fully covered by valid input: a partly covered pixel
        // at an arm's edge would be biased.
        if (wsum <= 0 || covered < (hi - lo) * (1 - 1e-6)) continue;
        out.flux[i] = float(fsum / wsum);
        out.ivar[i] = float(wsum * wsum / varsum);
        out.mask[i] = 0;
    }
    return out;
}

std::vector<double> integrateMeanPerPixel(std::span<const double> x, std::span<const double> y,
                                          std::span<const double> edges) {
    assert(x.size() == y.size() && x.size() >= 2 && edges.size() >= 2);
    // Cumulative integral of the piecewise-linear function at the knots, then the integral
    // to any point by interpolating within its segment.
    std::vector<double> cum(x.size(), 0.0);
    for (size_t k = 1; k < x.size(); ++k) cum[k] = cum[k - 1] + 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
    auto integralTo = [&](double t) {
        if (t <= x.front()) return 0.0;
        if (t >= x.back()) return cum.back();
        size_t k = std::upper_bound(x.begin(), x.end(), t) - x.begin();  // x[k-1] <= t < x[k]
        const double f = (t - x[k - 1]) / (x[k] - x[k - 1]);
        const double yt = y[k - 1] + f * (y[k] - y[k - 1]);
        return cum[k - 1] + 0.5 * (y[k - 1] + yt) * (t - x[k - 1]);
    };
    std::vector<double> out(edges.size() - 1);
    double prev = integralTo(edges[0]);
    for (size_t i = 0; i + 1 < edges.size(); ++i) {
        const double next = integralTo(edges[i + 1]);
        out[i] = (next - prev) / (edges[i + 1] - edges[i]);
        prev = next;
    }
    return out;
}

} // namespace astroclip
