#include "core/sim/spectrograph.h"

#include "core/data/wavegrid.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {
constexpr double kHcErgAngstrom = 1.98644586e-8;   // h·c
constexpr double kMirrorAreaCm2 = 8.65e4;           // Mayall 4 m, less the central obstruction
constexpr double kFibreAreaArcsec2 = 3.14159265358979 * 0.75 * 0.75;
constexpr double kReadNoiseVariance = 3.5 * 3.5 * 4;  // e⁻² per coadd pixel (≈4 CCD pixels per extraction)
// Excess variance over the ideal photon budget (extraction, sky subtraction, calibration, fibre
// losses of real nights). Calibrated on the real DESI coadd in shared/data: its sky-limited R-arm
// noise (σ ≈ 0.16e-17 after 10973 s of exposure, ~4000 s of effective time on a survey-validation
// tile) scaled to 1000 s of effective time gives σ ≈ 0.35e-17 at 6500 Å.
constexpr double kNoiseExcess = 5.0;

double edge(double w, double at, bool rising) { return 1.0 / (1.0 + std::exp((rising ? at - w : w - at) / 8.0)); }

double interpNodes(const std::vector<std::pair<double, double>>& nodes, double w) {
    if (w <= nodes.front().first) return nodes.front().second;
    for (size_t i = 1; i < nodes.size(); ++i)
        if (w <= nodes[i].first) {
            const double t = (w - nodes[i - 1].first) / (nodes[i].first - nodes[i - 1].first);
            return nodes[i - 1].second + t * (nodes[i].second - nodes[i - 1].second);
        }
    return nodes.back().second;
}

double abToFlam1e17(double mag, double w) {  // AB mag → 1e-17 erg/s/cm²/Å
    return std::pow(10.0, -0.4 * (mag + 48.6)) * 2.99792458e18 / (w * w) * 1e17;
}

std::vector<double> buildSky(Program p) {
    const std::vector<double> grid = DesiGrid::waves();
    // Dark-sky continuum between the lines (AB mag/arcsec²), Kitt Peak-like.
    const std::vector<std::pair<double, double>> dark = {{3600, 22.4}, {4000, 22.5}, {4500, 22.2}, {5000, 21.9},
                                                         {5500, 21.6}, {6000, 21.4}, {6500, 21.2}, {7000, 21.1},
                                                         {8000, 21.0}, {9000, 20.8}, {9824, 20.7}};
    // Scattered moonlight for bright time: bluer, ~2–3 mag brighter than dark sky in the blue.
    const std::vector<std::pair<double, double>> moon = {{3600, 19.4}, {4500, 19.2}, {5500, 19.5}, {6500, 19.8},
                                                         {8000, 20.2}, {9824, 20.5}};
    std::vector<double> sky(grid.size());
    for (size_t i = 0; i < grid.size(); ++i) {
        sky[i] = abToFlam1e17(interpNodes(dark, grid[i]), grid[i]);
        if (p == Program::Bright) sky[i] += abToFlam1e17(interpNodes(moon, grid[i]), grid[i]);
    }
    // Emission lines: (vacuum Å, 1e-17 erg/s/cm²/arcsec²).
    std::vector<std::pair<double, double>> lines = {{4359.6, 8}, {5462.3, 8}, {5578.9, 150}, {5891.6, 25},
                                                    {5897.6, 20}, {6302.0, 60}, {6365.5, 20}};
    for (int k = 0; k < 10; ++k) lines.push_back({8645.0 + 7.0 * k, 12.0 * std::exp(-0.2 * k)});  // O2 (0-1) band
    // OH Meinel bands: positions of the band origins, strengths rising to the red; within a
    // band, lines spread with growing spacing and falling intensity (a fixed pattern).
    const std::vector<std::pair<double, double>> ohBands = {{6257, 8}, {6498, 15}, {6864, 25}, {7316, 30}, {7750, 25},
                                                            {7913, 45}, {8344, 60}, {8827, 70}, {9375, 50}, {9788, 60}};
    for (const auto& [head, strength] : ohBands) {
        double w = head;
        for (int k = 0; k < 14; ++k) {
            w += 6.0 + 1.5 * k;
            const double modulation = 0.6 + 0.8 * std::abs(std::sin(1.7 * k + head));  // deterministic irregularity
            lines.push_back({w, strength * std::exp(-k / 5.0) * modulation});
        }
    }
    const std::vector<double> edges = pixelEdges(grid);
    const double sigma = 1.8 / 2.3548200450309493;
    for (const auto& [lw, lf] : lines) {
        const int lo = std::max(0, int((lw - 6 * sigma - edges.front()) / DesiGrid::kStep));
        const int hi = std::min(DesiGrid::kSize - 1, int((lw + 6 * sigma - edges.front()) / DesiGrid::kStep) + 1);
        for (int i = lo; i <= hi; ++i) {
            const double a = (edges[i] - lw) / (std::sqrt(2.0) * sigma), b = (edges[i + 1] - lw) / (std::sqrt(2.0) * sigma);
            sky[i] += lf * 0.5 * (std::erf(b) - std::erf(a)) / (edges[i + 1] - edges[i]);
        }
    }
    return sky;
}
} // namespace

const char* programName(Program p) { return p == Program::Dark ? "dark" : "bright"; }
// Bright time: ~800 s under a sky ~4.5 times brighter in r, i.e. DESI's 180 s of effective time.
double exposureSeconds(Program p) { return p == Program::Dark ? 1000.0 : 800.0; }

const std::array<DesiArm, 3>& desiArms() {
    static const std::array<DesiArm, 3> arms = {DesiArm{'B', 3600.0, 5800.0, 2751, 0}, DesiArm{'R', 5760.0, 7620.0, 2326, 2700},
                                                DesiArm{'Z', 7520.0, 9824.0, 2881, 4900}};
    return arms;
}

const std::vector<double>& skySpectrum(Program p) {
    static const std::array<std::vector<double>, 2> sky = {buildSky(Program::Dark), buildSky(Program::Bright)};
    return sky[int(p)];
}

double armThroughput(int arm, double w) {
    switch (arm) {
    case 0: return interpNodes({{3600, 0.12}, {4000, 0.28}, {4400, 0.36}, {5000, 0.40}, {5700, 0.38}}, w) * edge(w, 5785, false);
    case 1: return interpNodes({{5760, 0.40}, {6500, 0.42}, {7600, 0.40}}, w) * edge(w, 5775, true) * edge(w, 7600, false);
    case 2: return interpNodes({{7520, 0.40}, {8500, 0.38}, {9000, 0.32}, {9500, 0.22}, {9824, 0.12}}, w) * edge(w, 7540, true);
    default: assert(false); return 0;
    }
}

std::vector<double> armVariance(int arm, const std::vector<double>& model, Program p) {
    assert(model.size() == size_t(DesiGrid::kSize));
    const DesiArm& a = desiArms()[arm];
    const std::vector<double>& sky = skySpectrum(p);
    const double t = exposureSeconds(p);
    std::vector<double> var(a.npix);
    for (int i = 0; i < a.npix; ++i) {
        const int g = a.offset + i;
        const double w = DesiGrid::wave(g);
        // Detected electrons per pixel for 1e-17 erg/s/cm²/Å.
        const double perUnit = 1e-17 * kMirrorAreaCm2 * t * armThroughput(arm, w) * DesiGrid::kStep * w / kHcErgAngstrom;
        const double electrons = std::max(model[g], 0.0) * perUnit + sky[g] * kFibreAreaArcsec2 * perUnit + kReadNoiseVariance;
        var[i] = kNoiseExcess * electrons / (perUnit * perUnit);
    }
    return var;
}

ObservedSpectrum observeSpectrum(const std::vector<double>& model, Program p, Rng& rng) {
    ObservedSpectrum out;
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> snr;
    for (int arm = 0; arm < 3; ++arm) {
        const DesiArm& a = desiArms()[arm];
        const std::vector<double> var = armVariance(arm, model, p);
        ArmSpectrum& s = out.arms[arm];
        s.flux.resize(a.npix);
        s.ivar.resize(a.npix);
        s.mask.assign(a.npix, 0);
        for (int i = 0; i < a.npix; ++i) {
            const double sigma = std::sqrt(var[i]);
            s.flux[i] = float(model[a.offset + i] + sigma * normal(rng));
            s.ivar[i] = float(1.0 / var[i]);
            if (arm == 1) snr.push_back(model[a.offset + i] / sigma);
        }
    }
    std::nth_element(snr.begin(), snr.begin() + snr.size() / 2, snr.end());
    out.medianSnrR = snr[snr.size() / 2];
    return out;
}

} // namespace astroclip::sim
