// The simulated population: selections respected, sizes consistent with distances, and the
// correlations real galaxy populations show (quiescent fraction rising with mass, the star-
// forming main sequence, redder colours at higher mass, Hα tracing SFR).
#include "core/sim/cosmology.h"
#include "core/sim/photometry.h"
#include "core/sim/population.h"

#include <QtTest>

#include <numeric>

using namespace astroclip::sim;

namespace {
double mag(double nmgy) { return nanomaggiesToMag(nmgy); }

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = double(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

// Draws are cached per sample: every test reads the same population.
const std::vector<GalaxyTruth>& population(Sample s) {
    static std::array<std::vector<GalaxyTruth>, 3> cache;
    auto& v = cache[int(s)];
    if (v.empty()) {
        const int n = s == Sample::BGS ? 300 : 150;
        for (int i = 0; i < n; ++i) {
            Rng rng = makeRng(77, uint64_t(i), 100 + int(s));
            GalaxyTruth g = drawGalaxy(s, rng);
            g.model = ObservedModel{};  // keep memory small; tests re-create what they need
            v.push_back(std::move(g));
        }
    }
    return v;
}
} // namespace

class TestSimPopulation : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void selectionsAreRespected() {
        for (const auto& g : population(Sample::BGS)) {
            QVERIFY(mag(g.flux[1]) < 19.5);
            QVERIFY(g.z >= 0.01 && g.z <= 0.6);
        }
        for (const auto& g : population(Sample::LRG)) {
            QVERIFY(mag(g.fibreFlux[2]) < 21.6);
            QVERIFY(mag(g.flux[1]) - mag(g.flux[2]) > std::max(0.9, 0.45 * (mag(g.flux[2]) - 16.83)));
            QVERIFY(g.z >= 0.4 && g.z <= 1.0);
        }
        for (const auto& g : population(Sample::ELG)) {
            const double gm = mag(g.flux[0]), rm = mag(g.flux[1]), zm = mag(g.flux[2]);
            QVERIFY(gm < 23.4 && gm > 20);
            QVERIFY(gm - rm < 0.5 * (rm - zm) + 0.1 && gm - rm < -1.2 * (rm - zm) + 1.3 && rm - zm > 0.15);
            QVERIFY(g.z >= 0.6 && g.z <= 1.6);
            // [OII]-bright: total (not fibre) flux above 5e-17 erg/s/cm².
            QVERIFY(g.lineFlux[kOII3727] / g.specAperture > 5.0);
        }
        // LRGs are red and quiescent; ELGs star forming.
        int q = 0;
        for (const auto& g : population(Sample::LRG)) q += g.quenched;
        QVERIFY(q > 0.85 * population(Sample::LRG).size());
        for (const auto& g : population(Sample::ELG)) QVERIFY(!g.quenched);
    }

    void angularSizeFollowsDistance() {
        const auto& c = defaultCosmology();
        for (Sample s : {Sample::BGS, Sample::LRG, Sample::ELG})
            for (const auto& g : population(s)) {
                const double daKpc = c.angularDiameterDistanceMpc(g.z) * 1e3;
                QVERIFY(std::abs(g.galaxy.reArcsec / 206264.80624709636 * daKpc / g.galaxy.reKpc - 1) < 1e-9);
                QVERIFY(g.galaxy.reKpc > 0.1 && g.galaxy.reKpc < 60);
                // Bulge and disk together have the galaxy's half-light radius.
                const double rel = compositeHalfLightRadius(g.bulgeFracR, g.galaxy.bulge.reArcsec / g.galaxy.disk.reArcsec);
                QVERIFY(std::abs(rel * g.galaxy.disk.reArcsec / g.galaxy.reArcsec - 1) < 1e-6);
                // Bulge + disk fluxes are the spectrum's photometry.
                for (int b = 0; b < kBands; ++b) QVERIFY(std::abs(g.galaxy.totalFlux()[b] / g.flux[b] - 1) < 1e-9);
            }
    }

    void quiescentFractionRisesWithMass() {
        std::array<int, 3> n{}, q{};
        for (const auto& g : population(Sample::BGS)) {
            const int bin = g.logMstar < 10.3 ? 0 : g.logMstar < 10.9 ? 1 : 2;
            ++n[bin];
            q[bin] += g.quenched;
        }
        for (int b = 0; b < 3; ++b) QVERIFY2(n[b] >= 20, "too few galaxies per mass bin");
        const double f0 = double(q[0]) / n[0], f1 = double(q[1]) / n[1], f2 = double(q[2]) / n[2];
        qInfo("quiescent fraction: %.2f (<10.3)  %.2f  %.2f (>10.9)", f0, f1, f2);
        QVERIFY(f0 < f1 && f1 < f2);
        QVERIFY(f2 > 0.6);
    }

    void starFormersLieOnTheMainSequence() {
        std::vector<double> m, sfr;
        double ssfrQ = 0, ssfrSf = 0;
        int nq = 0, nsf = 0;
        for (const auto& g : population(Sample::BGS)) {
            const double logSsfr = std::log10(g.sfr) - g.logMstar;
            if (g.quenched) { ssfrQ += logSsfr; ++nq; }
            else { ssfrSf += logSsfr; ++nsf; m.push_back(g.logMstar); sfr.push_back(std::log10(g.sfr)); }
        }
        // Least-squares slope of log SFR on log M*: sub-linear and positive (0.4–1 observed).
        const double mx = std::accumulate(m.begin(), m.end(), 0.0) / m.size(), my = std::accumulate(sfr.begin(), sfr.end(), 0.0) / sfr.size();
        double sxy = 0, sxx = 0;
        for (size_t i = 0; i < m.size(); ++i) { sxy += (m[i] - mx) * (sfr[i] - my); sxx += (m[i] - mx) * (m[i] - mx); }
        const double slope = sxy / sxx;
        double rss = 0;
        for (size_t i = 0; i < m.size(); ++i) rss += std::pow(sfr[i] - my - slope * (m[i] - mx), 2);
        const double scatter = std::sqrt(rss / m.size());
        qInfo("main sequence slope %.2f scatter %.2f dex; <log sSFR> SF %.2f Q %.2f", slope, scatter, ssfrSf / nsf, ssfrQ / nq);
        QVERIFY(slope > 0.4 && slope < 1.0);
        QVERIFY(scatter < 0.5);
        QVERIFY(ssfrSf / nsf - ssfrQ / nq > 1.0);
    }

    void massiveGalaxiesAreRedderAtFixedRedshift() {
        std::vector<double> m, gr;
        for (const auto& g : population(Sample::BGS))
            if (g.z > 0.1 && g.z < 0.25) { m.push_back(g.logMstar); gr.push_back(mag(g.flux[0]) - mag(g.flux[1])); }
        QVERIFY(m.size() > 40);
        const double r = pearson(m, gr);
        qInfo("corr(log M*, g-r) at 0.1<z<0.25: %.2f (n=%zu)", r, m.size());
        QVERIFY(r > 0.3);
    }

    void coloursLieWithinTheTemplateEnvelope() {
        const auto& kt = KcorrectTemplates::shipped();
        for (Sample s : {Sample::BGS, Sample::LRG, Sample::ELG})
            for (const auto& g : population(s)) {
                double lo = 1e9, hi = -1e9;
                for (int t = 0; t < kTemplates; ++t) {
                    StellarPopulation p;
                    p.coeff[t] = 1.0;
                    const BandFluxes f = bandFluxes(observedModel(kt, p, g.z), decamFilters());
                    const double c = mag(f.total[0]) - mag(f.total[1]);
                    lo = std::min(lo, c);
                    hi = std::max(hi, c);
                }
                const double gr = mag(g.flux[0]) - mag(g.flux[1]);
                // Dust may push a galaxy redder than the reddest dust-free template.
                QVERIFY2(gr >= lo - 0.05 && gr <= hi + 1.5 * g.pop.ebvStar + 0.05,
                         qPrintable(QString("z=%1 g-r=%2 envelope [%3, %4]").arg(g.z).arg(gr).arg(lo).arg(hi)));
            }
    }

    void halphaTracesStarFormation() {
        const auto& c = defaultCosmology();
        int n = 0;
        for (const auto& g : population(Sample::BGS)) {
            if (g.quenched || g.z > 0.4) continue;
            const double dl = c.luminosityDistanceMpc(g.z) * 3.0856775814913673e24;
            const double observed = g.lineFlux[kHalpha] / g.specAperture * 1e-17;
            const double intrinsic = observed * std::pow(10.0, 0.4 * calzettiK(6564.61) * g.pop.ebvGas());
            const double lHa = intrinsic * 4 * 3.14159265358979 * dl * dl;
            // Kennicutt & Evans (2012): log SFR = log L(Hα) − 41.27, here with 0.1 dex scatter.
            QVERIFY2(std::abs(std::log10(lHa) - 41.27 - std::log10(g.sfr)) < 0.5,
                     qPrintable(QString("log L(Ha)=%1 SFR=%2").arg(std::log10(lHa)).arg(g.sfr)));
            ++n;
        }
        QVERIFY(n > 30);
    }

    void lineTruthIsTheLineInTheSpectrum() {
        const auto& kt = KcorrectTemplates::shipped();
        int checked = 0;
        for (const auto& g : population(Sample::BGS)) {
            if (g.quenched || g.z > 0.45 || checked >= 8) continue;
            StellarPopulation noLines = g.pop;
            noLines.lineScale = 0;
            const auto with = modelOnDesiGrid(observedModel(kt, g.pop, g.z), g.pop.vdispKms, g.specAperture);
            const auto without = modelOnDesiGrid(observedModel(kt, noLines, g.z), g.pop.vdispKms, g.specAperture);
            // Hα + both [NII] lines sit in 6520–6610 Å (rest); integrate what the lines add there.
            double sum = 0;
            for (int i = 0; i < int(with.size()); ++i) {
                const double rest = (3600.0 + 0.8 * i) / (1 + g.z);
                if (rest > 6520 && rest < 6610) sum += (with[i] - without[i]) * 0.8;
            }
            const double truth = g.lineFlux[kHalpha] + g.lineFlux[kNII6548] + g.lineFlux[kNII6584];
            QVERIFY2(std::abs(sum / truth - 1) < 0.01, qPrintable(QString("%1 vs %2").arg(sum).arg(truth)));
            ++checked;
        }
        QCOMPARE(checked, 8);
    }
};

QTEST_GUILESS_MAIN(TestSimPopulation)
#include "tst_sim_population.moc"
