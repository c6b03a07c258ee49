// Simulated DESI spectra: noise consistent with ivar (per arm and after an inverse-variance
// merge), arms independent in their overlaps, lines at (1+z)λ₀, flux units consistent with the
// photometry, and a sky with its bright lines.
#include "core/data/wavegrid.h"
#include "core/sim/photometry.h"
#include "core/sim/population.h"
#include "core/sim/spectrograph.h"

#include <QtTest>

using namespace astroclip;
using namespace astroclip::sim;

namespace {
struct Drawn {
    GalaxyTruth truth;
    std::vector<double> model;
    ObservedSpectrum spec;
};
std::vector<Drawn> draw(Sample s, int n, uint64_t seed) {
    std::vector<Drawn> out;
    for (int i = 0; i < n; ++i) {
        Rng rng = makeRng(seed, uint64_t(i), 1);
        Drawn d;
        d.truth = drawGalaxy(s, rng);
        d.model = modelOnDesiGrid(d.truth.model, d.truth.pop.vdispKms, d.truth.specAperture);
        Rng noise = makeRng(seed, uint64_t(i), 2);
        d.spec = observeSpectrum(d.model, s == Sample::BGS ? Program::Bright : Program::Dark, noise);
        out.push_back(std::move(d));
    }
    return out;
}
double stddev(const std::vector<double>& v, double* mean = nullptr) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) s += (x - m) * (x - m);
    if (mean) *mean = m;
    return std::sqrt(s / (v.size() - 1));
}
} // namespace

class TestSimSpectra : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void ivarMatchesTheNoise() {
        auto gals = draw(Sample::ELG, 12, 5);
        auto bgs = draw(Sample::BGS, 12, 6);
        gals.insert(gals.end(), bgs.begin(), bgs.end());
        std::array<std::vector<double>, 3> pulls;
        std::vector<double> merged, overlapB, overlapR;
        for (const Drawn& d : gals) {
            // Merge by inverse variance onto the coadd grid, as a reader would.
            std::vector<double> num(DesiGrid::kSize, 0.0), den(DesiGrid::kSize, 0.0);
            for (int a = 0; a < 3; ++a) {
                const DesiArm& arm = desiArms()[a];
                const ArmSpectrum& s = d.spec.arms[a];
                QCOMPARE(int(s.flux.size()), arm.npix);
                for (int i = 0; i < arm.npix; ++i) {
                    const double dev = s.flux[i] - d.model[arm.offset + i];
                    pulls[a].push_back(dev * std::sqrt(s.ivar[i]));
                    num[arm.offset + i] += s.flux[i] * s.ivar[i];
                    den[arm.offset + i] += s.ivar[i];
                    if (a == 0 && arm.offset + i >= 2700) overlapB.push_back(dev);
                    if (a == 1 && i < 51) overlapR.push_back(dev);
                }
            }
            for (int i = 0; i < DesiGrid::kSize; ++i) {
                QVERIFY(den[i] > 0);
                merged.push_back((num[i] / den[i] - d.model[i]) * std::sqrt(den[i]));
            }
        }
        for (int a = 0; a < 3; ++a) {
            double mean;
            const double s = stddev(pulls[a], &mean);
            qInfo("arm %c: pull std %.4f mean %.4f", desiArms()[a].name, s, mean);
            QVERIFY(std::abs(s - 1) < 0.01 && std::abs(mean) < 0.01);
        }
        double mean;
        QVERIFY(std::abs(stddev(merged, &mean) - 1) < 0.01 && std::abs(mean) < 0.01);
        // The arms' noise is independent where they overlap (5760–5800 Å).
        QCOMPARE(overlapB.size(), overlapR.size());
        double sbr = 0, sb = 0, sr = 0;
        for (size_t i = 0; i < overlapB.size(); ++i) { sbr += overlapB[i] * overlapR[i]; sb += overlapB[i] * overlapB[i]; sr += overlapR[i] * overlapR[i]; }
        QVERIFY(std::abs(sbr / std::sqrt(sb * sr)) < 0.1);
    }

    void linesSitAtTheirRedshiftedWavelengths() {
        int checked = 0;
        for (Sample s : {Sample::ELG, Sample::BGS}) {
            const auto gals = draw(s, 100, 11 + int(s));
            for (const Drawn& d : gals) {
                // The strongest truth line inside the grid.
                const std::array<std::pair<TruthLine, double>, 3> cands = {
                    std::pair{kOIII5007, 5008.240}, std::pair{kHalpha, 6564.608}, std::pair{kHbeta, 4862.683}};
                for (const auto& [line, rest] : cands) {
                    const double obs = rest * (1 + d.truth.z);
                    if (obs < 3700 || obs > 9700) continue;
                    const int expect = int(std::lround((obs - DesiGrid::kWaveMin) / DesiGrid::kStep));
                    // Strong enough that noise cannot move the peak: model peak S/N > 8 in its arm.
                    int arm = obs < 5780 ? 0 : obs < 7570 ? 1 : 2;
                    const DesiArm& a = desiArms()[arm];
                    const ArmSpectrum& sp = d.spec.arms[arm];
                    const int i0 = expect - a.offset;
                    if (i0 < 8 || i0 >= a.npix - 8) continue;
                    const double cont = 0.5 * (d.model[expect - 8] + d.model[expect + 8]);
                    if ((d.model[expect] - cont) * std::sqrt(sp.ivar[i0]) < 8) continue;
                    // Peak of the noisy spectrum after a 3-pixel running mean (lines span ≥ 5 px).
                    auto smooth = [&](int k) { return sp.flux[k - 1] + sp.flux[k] + sp.flux[k + 1]; };
                    int best = i0;
                    for (int k = i0 - 6; k <= i0 + 6; ++k) if (smooth(k) > smooth(best)) best = k;
                    QVERIFY2(std::abs(best - i0) <= 1, qPrintable(QString("z=%1 line %2: peak %3 px off").arg(d.truth.z).arg(rest).arg(best - i0)));
                    ++checked;
                    break;
                }
            }
        }
        qInfo("%d strong lines checked", checked);
        QVERIFY(checked >= 15);
    }

    void spectrumFluxMatchesPhotometry() {
        // Without fibre losses, the model spectrum through the r filter (wholly inside the grid)
        // gives the truth r-band flux: same units, same redshift dimming, broadening conserves flux.
        const std::vector<double> grid = DesiGrid::waves();
        for (Sample s : {Sample::BGS, Sample::LRG, Sample::ELG}) {
            Rng rng = makeRng(3, 0, int(s));
            const GalaxyTruth g = drawGalaxy(s, rng);
            const std::vector<double> model = modelOnDesiGrid(g.model, g.pop.vdispKms, 1.0);
            std::vector<double> cgs(model.size());
            for (size_t i = 0; i < model.size(); ++i) cgs[i] = model[i] * 1e-17;
            const double r = synthNanomaggies(decamFilters()[1], grid, cgs);
            QVERIFY2(std::abs(r / g.flux[1] - 1) < 0.01, qPrintable(QString("%1: %2 vs %3").arg(sampleName(s)).arg(r).arg(g.flux[1])));
        }
    }

    void skyHasItsLinesAndMoon() {
        const auto& dark = skySpectrum(Program::Dark);
        const auto& bright = skySpectrum(Program::Bright);
        const int oi = int(std::lround((5578.9 - 3600) / 0.8));
        QVERIFY(dark[oi] > 20 * dark[oi - 30]);                 // [OI] 5577 towers over the continuum
        const int b = int(std::lround((4500 - 3600) / 0.8));
        QVERIFY(bright[b] > 5 * dark[b]);                        // moonlight is blue
        // Bright-time BGS exposures are noisier than dark-time ones for the same source.
        const std::vector<double> flat(DesiGrid::kSize, 1.0);
        QVERIFY(armVariance(0, flat, Program::Bright)[b] > armVariance(0, flat, Program::Dark)[b]);
        // The sky lines raise the variance on their pixels.
        const auto v = armVariance(0, flat, Program::Dark);
        QVERIFY(v[oi] > 3 * v[oi - 30]);
    }
};

QTEST_GUILESS_MAIN(TestSimSpectra)
#include "tst_sim_spectra.moc"
