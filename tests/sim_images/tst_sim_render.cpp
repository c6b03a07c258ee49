// Whole cutouts: flux and colour budgets, noise and depth at Legacy Surveys levels, truth maps
// and tidal debris.
#include "core/sim/render_model.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>

using namespace astroclip::sim;

namespace {
constexpr int kRBand = 1;

double nanomaggies(double mag) { return std::pow(10.0, -0.4 * (mag - 22.5)); }

Component component(double n, double re, double q, double pa, std::array<double, kBands> flux) {
    Component c;
    c.sersicN = n;
    c.reArcsec = re;
    c.axisRatio = q;
    c.positionAngleDeg = pa;
    c.flux = flux;
    return c;
}

// A red bulge inside a bluer disk.
Galaxy twoComponentGalaxy(double z, double bulgeRe, double diskRe, double scale) {
    Galaxy g;
    g.z = z;
    g.bulge = component(4.0, bulgeRe, 0.8, 20.0, {1.0 * scale, 2.5 * scale, 4.0 * scale});
    g.disk = component(1.0, diskRe, 0.5, 70.0, {2.0 * scale, 3.0 * scale, 3.5 * scale});
    g.reArcsec = diskRe;
    return g;
}

std::array<double, kBands> bandSums(const std::vector<float>& cube, int size) {
    std::array<double, kBands> s{};
    const size_t plane = size_t(size) * size;
    for (int b = 0; b < kBands; ++b) s[b] = std::accumulate(cube.begin() + b * plane, cube.begin() + (b + 1) * plane, 0.0);
    return s;
}
} // namespace

class TestSimRender : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A compact galaxy keeps its whole flux in every band (PSF-convolved, noiseless).
    void compactGalaxyTotalFlux_data() {
        QTest::addColumn<double>("bulgeRe");
        QTest::addColumn<double>("diskRe");
        QTest::newRow("compact") << 0.2 << 0.4;
        QTest::newRow("very compact") << 0.05 << 0.1;
        QTest::newRow("small") << 0.5 << 1.0;
    }
    void compactGalaxyTotalFlux() {
        QFETCH(double, bulgeRe);
        QFETCH(double, diskRe);
        CutoutScene scene;
        scene.size = 64;
        scene.central = twoComponentGalaxy(0.3, bulgeRe, diskRe, 1.0);
        Rng rng = makeRng(11, 0, 1);
        const SceneModel model = renderSceneModel(scene, rng);
        const auto sums = bandSums(model.flux, scene.size);
        const auto truth = scene.central.totalFlux();
        for (int b = 0; b < kBands; ++b) {
            qInfo("%s: %.4f of %.4f", kBandNames[b], sums[b], truth[b]);
            QVERIFY(std::abs(sums[b] / truth[b] - 1) < 0.01);
        }
    }

    // Summed image fluxes (noise included) have the input colours.
    void imageColour_data() {
        QTest::addColumn<quint64>("seed");
        QTest::newRow("seed 1") << quint64(1);
        QTest::newRow("seed 2") << quint64(2);
    }
    void imageColour() {
        QFETCH(quint64, seed);
        CutoutScene scene;
        scene.size = 64;
        scene.central = twoComponentGalaxy(0.2, 0.3, 0.6, 60.0);   // ~17 mag
        Rng rng = makeRng(seed, 0, 2);
        const RenderedCutout cut = renderCutout(scene, rng);
        const auto sums = bandSums(cut.flux, scene.size);
        const auto truth = scene.central.totalFlux();
        for (int b : {0, 2}) {
            const double measured = sums[b] / sums[kRBand], expected = truth[b] / truth[kRBand];
            qInfo("%s/r: %.4f, input %.4f", kBandNames[b], measured, expected);
            QVERIFY(std::abs(measured / expected - 1) < 0.01);
        }
    }

    // flux·sqrt(ivar) on background pixels is a unit normal.
    void backgroundNoiseIsUnitNormal_data() {
        QTest::addColumn<int>("band");
        for (int b = 0; b < kBands; ++b) QTest::newRow(kBandNames[b]) << b;
    }
    void backgroundNoiseIsUnitNormal() {
        QFETCH(int, band);
        double sum = 0, sum2 = 0;
        long count = 0;
        for (int i = 0; i < 20; ++i) {
            CutoutScene scene;
            scene.size = 64;
            scene.central = twoComponentGalaxy(0.4, 0.3, 0.6, 0.5);
            Rng rng = makeRng(3, uint64_t(i), 3);
            const RenderedCutout cut = renderCutout(scene, rng);
            const size_t plane = size_t(scene.size) * scene.size;
            for (size_t p = 0; p < plane; ++p) {
                const int x = int(p % scene.size) - scene.size / 2, y = int(p / scene.size) - scene.size / 2;
                if (cut.segmap[p] != kSegBackground || std::hypot(x, y) < 15) continue;
                const double chi = cut.flux[band * plane + p] * std::sqrt(cut.ivar[band * plane + p]);
                sum += chi;
                sum2 += chi * chi;
                ++count;
            }
        }
        QVERIFY(count > 20000);
        const double mean = sum / count, sd = std::sqrt(sum2 / count - mean * mean);
        qInfo("%ld pixels: mean %.4f, std %.4f", count, mean, sd);
        QVERIFY(std::abs(mean) < 0.02);
        QVERIFY(std::abs(sd - 1) < 0.02);
    }

    // A 0.45″ round exponential at the cutout's galdepth is found at 5σ by the matched
    // filter: S/N = Σ P d ivar / sqrt(Σ P² ivar), P the noiseless profile.
    void galdepthGivesFiveSigma_data() {
        QTest::addColumn<int>("band");
        for (int b = 0; b < kBands; ++b) QTest::newRow(kBandNames[b]) << b;
    }
    void galdepthGivesFiveSigma() {
        QFETCH(int, band);
        const int trials = 300;
        double ratioSum = 0;
        for (int i = 0; i < trials; ++i) {
            CutoutScene scene;
            scene.size = 48;
            scene.central.z = 0.5;
            scene.central.disk = component(1.0, kGaldepthReferenceReArcsec, 1.0, 0.0, {0, 0, 0});
            scene.central.disk.flux[band] = nanomaggies(kNominalGaldepthMag[band]);
            Rng rng = makeRng(4, uint64_t(i), 4);
            const SceneModel model = renderSceneModel(scene, rng);
            const RenderedCutout cut = observeScene(model, rng);
            QVERIFY(std::abs(cut.galdepthMag[band] - kNominalGaldepthMag[band]) < 0.2);
            const size_t plane = size_t(scene.size) * scene.size;
            double num = 0, den = 0;
            for (size_t p = band * plane; p < (band + 1) * plane; ++p) {
                const double profile = model.flux[p];
                num += profile * cut.flux[p] * cut.ivar[p];
                den += profile * profile * cut.ivar[p];
            }
            const double snr = num / std::sqrt(den);
            // This cutout's PSF moves its depth a little: expect 5 × f / f(galdepth).
            const double expected = 5.0 * scene.central.disk.flux[band] / nanomaggies(cut.galdepthMag[band]);
            ratioSum += snr / expected;
        }
        const double meanRatio = ratioSum / trials;
        qInfo("mean measured/expected S/N over %d sources: %.4f", trials, meanRatio);
        QVERIFY(std::abs(meanRatio - 1) < 0.05);
    }

    // Truth maps against the noiseless per-source images.
    void truthMaps() {
        CutoutScene scene;
        scene.size = 64;
        scene.central = twoComponentGalaxy(0.2, 0.4, 1.2, 3.0);
        Neighbour nb;
        nb.galaxy = twoComponentGalaxy(0.7, 0.3, 0.7, 1.5);
        nb.galaxy.sample = "neighbour";
        nb.dxPix = 12.3;
        nb.dyPix = -7.6;
        scene.neighbours.push_back(nb);
        Rng rng = makeRng(5, 0, 5);
        const SceneModel model = renderSceneModel(scene, rng);
        QCOMPARE(model.sources.size(), size_t(2));
        const auto& central = model.sources[0].fluxR;
        const auto& neighbour = model.sources[1].fluxR;
        const size_t plane = size_t(scene.size) * scene.size;
        const double threshold = nanomaggies(28.0) * kPixelScaleArcsec * kPixelScaleArcsec;
        int nCentral = 0, nNeighbour = 0;
        for (size_t p = 0; p < plane; ++p) {
            const double total = model.flux[kRBand * plane + p];
            QVERIFY(std::abs(total - (central[p] + neighbour[p])) <= 1e-5 * std::max(total, 1e-3));
            switch (model.segmap[p]) {
            case kSegCentral:
                ++nCentral;
                QVERIFY(central[p] >= neighbour[p] && total > threshold);
                QCOMPARE(model.depthmap[p], 0.2f);
                break;
            case kSegNeighbour:
                ++nNeighbour;
                QVERIFY(neighbour[p] >= central[p] && total > threshold);
                QCOMPARE(model.depthmap[p], 0.7f);
                break;
            case kSegBackground:
                QVERIFY(total <= threshold);
                QCOMPARE(model.depthmap[p], 0.0f);
                break;
            default: QFAIL("unexpected class");
            }
        }
        const int c = scene.size / 2;
        QCOMPARE(model.segmap[size_t(c) * scene.size + c], int16_t(kSegCentral));
        QCOMPARE(model.segmap[size_t(c - 8) * scene.size + c + 12], int16_t(kSegNeighbour));
        QVERIFY(nCentral > 200 && nNeighbour > 30);
        // The noisy cutout carries the same truth for the same draws.
        Rng again = makeRng(5, 0, 5);
        const RenderedCutout cut = renderCutout(scene, again);
        QVERIFY(cut.segmap == model.segmap && cut.depthmap == model.depthmap);
    }

    // Tidal debris: labelled pixels exist at the drawn radii, the ridge has the requested mean
    // surface brightness, and the debris has the host bulge's colour.
    void tidalFeatures_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<quint64>("seed");
        for (auto k : {TidalKind::Shells, TidalKind::Stream, TidalKind::Tail})
            for (quint64 seed : {1u, 2u, 3u})
                QTest::newRow(qPrintable(QString("%1 %2").arg(tidalKindName(k)).arg(seed))) << int(k) << seed;
    }
    void tidalFeatures() {
        QFETCH(int, kind);
        QFETCH(quint64, seed);
        CutoutScene scene;
        scene.size = 96;
        scene.central = twoComponentGalaxy(0.1, 0.5, 1.0, 2.0);
        scene.tidal = TidalKind(kind);
        scene.tidalMuR = 25.5;
        Rng rng = makeRng(seed, 0, 6);
        const SceneModel model = renderSceneModel(scene, rng);
        const TidalGeometry& geo = model.tidal;
        QVERIFY(!geo.arcs.empty());
        QCOMPARE(model.sources.back().segClass, kSegTidal);

        // Mean ridge brightness along the arcs (length-weighted), sampled exactly on the ridge.
        double weighted = 0, length = 0, widest = 0;
        for (const TidalArc& a : geo.arcs) {
            widest = std::max({widest, a.innerWidthArcsec, a.outerWidthArcsec});
            TidalGeometry single = geo;   // this arc's own light, without overlapping neighbours
            single.arcs = {a};
            for (int s = 0; s < 1000; ++s) {
                const double t = (s + 0.5) / 1000;
                const double radius = a.radiusStartArcsec + (a.radiusEndArcsec - a.radiusStartArcsec) * t;
                const double angle = a.angleStartRad + a.angleSpanRad * t;
                weighted += tidalFluxPerPixelR(single, radius * std::cos(angle), radius * std::sin(angle)) * radius;
                length += radius;
            }
        }
        const double mu = 22.5 - 2.5 * std::log10(weighted / length / (kPixelScaleArcsec * kPixelScaleArcsec));
        qInfo("%zu arcs, ridge radii %.2f–%.2f\", mean ridge μ_r %.3f", geo.arcs.size(), geo.minRidgeRadiusArcsec(), geo.maxRidgeRadiusArcsec(), mu);
        QVERIFY(std::abs(mu - scene.tidalMuR) < 0.03);

        // Tidal-labelled pixels lie around the drawn ridges.
        const double margin = 3.0 * widest + 1.5;   // cross-section plus the PSF
        int nTidal = 0;
        for (int y = 0; y < scene.size; ++y)
            for (int x = 0; x < scene.size; ++x) {
                if (model.segmap[size_t(y) * scene.size + x] != kSegTidal) continue;
                ++nTidal;
                const double r = std::hypot(x - scene.size / 2, y - scene.size / 2) * kPixelScaleArcsec;
                QVERIFY(r >= geo.minRidgeRadiusArcsec() - margin && r <= geo.maxRidgeRadiusArcsec() + margin);
                QCOMPARE(model.depthmap[size_t(y) * scene.size + x], 0.1f);
            }
        qInfo("%d tidal pixels", nTidal);
        QVERIFY(nTidal > 30);

        // Colour: the same draws without the debris give the difference image.
        CutoutScene without = scene;
        without.tidalMuR = 99.0;
        Rng again = makeRng(seed, 0, 6);
        const SceneModel plain = renderSceneModel(without, again);
        const auto all = bandSums(model.flux, scene.size), host = bandSums(plain.flux, scene.size);
        const auto& bulge = scene.central.bulge.flux;
        for (int b : {0, 2}) {
            const double measured = (all[b] - host[b]) / (all[kRBand] - host[kRBand]);
            QVERIFY(std::abs(measured / (bulge[b] / bulge[kRBand]) - 1) < 0.01);
        }
    }

    // Not asserted (no timed assertions): the cost of a cutout, for the record.
    void renderingCost_data() {
        QTest::addColumn<int>("size");
        QTest::newRow("64 px") << 64;
        QTest::newRow("152 px") << 152;
    }
    void renderingCost() {
        QFETCH(int, size);
        CutoutScene scene;
        scene.size = size;
        scene.central = twoComponentGalaxy(0.2, 0.6, 1.5, 5.0);
        Neighbour nb;
        nb.galaxy = twoComponentGalaxy(0.6, 0.3, 0.6, 1.0);
        nb.dxPix = 20;
        nb.dyPix = 10;
        scene.neighbours.push_back(nb);
        scene.tidal = TidalKind::Shells;
        const int n = 30;
        const std::clock_t start = std::clock();   // CPU time: the machine is shared
        for (int i = 0; i < n; ++i) {
            Rng rng = makeRng(9, uint64_t(i), 9);
            const RenderedCutout cut = renderCutout(scene, rng);
            QCOMPARE(cut.size, size);
        }
        qInfo("%.2f ms per %d-px cutout (central + neighbour + shells)", 1e3 * double(std::clock() - start) / CLOCKS_PER_SEC / n, size);
    }
};

QTEST_GUILESS_MAIN(TestSimRender)
#include "tst_sim_render.moc"
