#include "core/sim/spectrum_model.h"

#include "core/data/wavegrid.h"
#include "core/sim/cosmology.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {
constexpr double kSpeedOfLightKmS = 299792.458;
constexpr double kMpcCm = 3.0856775814913673e24;
constexpr double kSigmaPerFwhm = 1.0 / 2.3548200450309493;
} // namespace

double StellarPopulation::stellarMass(const KcorrectTemplates& t) const {
    double m = 0;
    for (int i = 0; i < kTemplates; ++i) m += coeff[i] * t.massRemaining(i);
    return m;
}

double StellarPopulation::sfrMsunPerYear(const KcorrectTemplates& t) const {
    double m = 0;
    for (int i = 0; i < kTemplates; ++i) m += coeff[i] * t.massFormed300Myr(i);
    return m / kSfrTimescaleYears;
}

ObservedModel observedModel(const KcorrectTemplates& templates, const StellarPopulation& pop, double z) {
    assert(z > 0);
    ObservedModel m;
    m.z = z;
    const auto& rest = templates.wave();
    const double dl = defaultCosmology().luminosityDistanceMpc(z) * kMpcCm;
    const double dist2 = (kTenParsecCm / dl) * (kTenParsecCm / dl);  // templates are at 10 pc
    const double dimming = dist2 / (1 + z);                             // and f_λ spreads over (1+z) more Å
    m.wave.resize(rest.size());
    m.continuum.assign(rest.size(), 0.0);
    m.bulgeContinuum.assign(rest.size(), 0.0);
    for (size_t i = 0; i < rest.size(); ++i) {
        m.wave[i] = rest[i] * (1 + z);
        const double att = std::pow(10.0, -0.4 * calzettiK(rest[i]) * pop.ebvStar) * dimming;
        double c = 0, cb = 0;
        for (int t = 0; t < kTemplates; ++t) {
            c += pop.coeff[t] * templates.continuum(t)[i];
            cb += pop.bulgeCoeff[t] * templates.continuum(t)[i];
        }
        m.continuum[i] = c * att;
        m.bulgeContinuum[i] = cb * att;
    }
    observedLines(templates, pop, z, m.lineWave, m.lineFlux);
    return m;
}

void observedLines(const KcorrectTemplates& templates, const StellarPopulation& pop, double z,
                   std::vector<double>& wave, std::vector<double>& flux) {
    const double dl = defaultCosmology().luminosityDistanceMpc(z) * kMpcCm;
    const double dist2 = (kTenParsecCm / dl) * (kTenParsecCm / dl);
    const auto& lines = nebularLines();
    wave.resize(lines.size());
    flux.resize(lines.size());
    for (size_t l = 0; l < lines.size(); ++l) {
        double f = 0;
        for (int t = 0; t < kTemplates; ++t) f += pop.coeff[t] * templates.lineFlux(t, int(l));
        wave[l] = lines[l].restWave * (1 + z);
        // A line flux integrates f_λ over λ, so it dims by D_L² only (no extra 1+z).
        flux[l] = pop.lineScale * f * std::pow(10.0, -0.4 * calzettiK(lines[l].restWave) * pop.ebvGas()) * dist2;
    }
}

BandFluxes bandFluxes(const ObservedModel& model, const std::array<FilterCurve, kBands>& filters) {
    BandFluxes out;
    for (int b = 0; b < kBands; ++b) {
        out.bulge[b] = synthNanomaggies(filters[b], model.wave, model.bulgeContinuum);
        double t = synthNanomaggies(filters[b], model.wave, model.continuum);
        for (size_t l = 0; l < model.lineWave.size(); ++l) t += lineNanomaggies(filters[b], model.lineWave[l], model.lineFlux[l]);
        out.total[b] = t;
    }
    return out;
}

std::vector<double> modelOnDesiGrid(const ObservedModel& model, double vdispKms, double aperture) {
    // Fine linear grid around the DESI range; the continuum is convolved there block by block
    // with a Gaussian whose width is constant within a block (the LSF and the velocity
    // broadening change by < 3 % across 150 Å).
    constexpr double kFineStep = 0.2, kMargin = 60.0, kBlock = 150.0;
    const double w0 = DesiGrid::kWaveMin - 0.5 * DesiGrid::kStep - kMargin;
    const int nFine = int((DesiGrid::kWaveMax + 0.5 * DesiGrid::kStep + kMargin - w0) / kFineStep) + 1;
    std::vector<double> fineWave(nFine), fine(nFine);
    {
        size_t j = 1;
        for (int i = 0; i < nFine; ++i) {
            const double w = w0 + i * kFineStep;
            fineWave[i] = w;
            while (j < model.wave.size() - 1 && model.wave[j] < w) ++j;
            const double t = std::clamp((w - model.wave[j - 1]) / (model.wave[j] - model.wave[j - 1]), 0.0, 1.0);
            fine[i] = (model.continuum[j - 1] + t * (model.continuum[j] - model.continuum[j - 1])) * 1e17 * aperture;
        }
    }
    // The templates' sampling already smooths the continuum (a linear interpolant of samples
    // spaced Δ acts as a kernel of σ = Δ/√6); only the velocity dispersion beyond that is added.
    auto templateSigma = [&](double w) {
        size_t j = size_t(std::lower_bound(model.wave.begin(), model.wave.end(), w) - model.wave.begin());
        j = std::clamp<size_t>(j, 1, model.wave.size() - 1);
        return (model.wave[j] - model.wave[j - 1]) / std::sqrt(6.0);
    };
    std::vector<double> smooth(nFine, 0.0);
    const double lsfSigma = kDesiLsfFwhmAngstrom * kSigmaPerFwhm;
    for (double b0 = w0; b0 < fineWave.back(); b0 += kBlock) {
        const double wc = b0 + 0.5 * kBlock;
        const double velSigma = wc * vdispKms / kSpeedOfLightKmS, tmplSigma = templateSigma(wc);
        const double extra2 = std::max(0.0, velSigma * velSigma - tmplSigma * tmplSigma);
        const double sigma = std::sqrt(extra2 + lsfSigma * lsfSigma) / kFineStep;  // fine pixels
        const int half = int(std::ceil(4 * sigma));
        std::vector<double> kern(2 * half + 1);
        double ks = 0;
        for (int k = -half; k <= half; ++k) ks += kern[k + half] = std::exp(-0.5 * k * k / (sigma * sigma));
        for (double& k : kern) k /= ks;
        const int i0 = int((b0 - w0) / kFineStep), i1 = std::min(nFine, int((b0 + kBlock - w0) / kFineStep));
        for (int i = i0; i < i1; ++i) {
            double s = 0;
            for (int k = -half; k <= half; ++k) s += kern[k + half] * fine[std::clamp(i + k, 0, nFine - 1)];
            smooth[i] = s;
        }
    }
    const std::vector<double> grid = DesiGrid::waves();
    const std::vector<double> edges = pixelEdges(grid);
    std::vector<double> out = integrateMeanPerPixel(fineWave, smooth, edges);
    // Lines: Gaussians of σ² = σ_v² + σ_LSF², integrated exactly over each DESI pixel.
    for (size_t l = 0; l < model.lineWave.size(); ++l) {
        const double lw = model.lineWave[l], lf = model.lineFlux[l] * 1e17 * aperture;
        if (lf <= 0 || lw < edges.front() - 50 || lw > edges.back() + 50) continue;
        const double vs = lw * vdispKms / kSpeedOfLightKmS;
        const double sigma = std::sqrt(vs * vs + lsfSigma * lsfSigma);
        const int lo = std::max(0, int((lw - 6 * sigma - edges.front()) / DesiGrid::kStep));
        const int hi = std::min(DesiGrid::kSize - 1, int((lw + 6 * sigma - edges.front()) / DesiGrid::kStep) + 1);
        for (int p = lo; p <= hi; ++p) {
            const double a = (edges[p] - lw) / (std::sqrt(2.0) * sigma), b = (edges[p + 1] - lw) / (std::sqrt(2.0) * sigma);
            out[p] += lf * 0.5 * (std::erf(b) - std::erf(a)) / (edges[p + 1] - edges[p]);
        }
    }
    return out;
}

} // namespace astroclip::sim
