#include "core/data/wavegrid.h"

#include <QtTest>

#include <cmath>
#include <numeric>
#include <random>

using namespace astroclip;

class TestWaveGrid : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gridMatchesDesi() {
        QCOMPARE(DesiGrid::kSize, 7781);
        QCOMPARE(DesiGrid::wave(0), 3600.0);
        QVERIFY(std::abs(DesiGrid::wave(DesiGrid::kSize - 1) - 9824.0) < 1e-9);
    }

    void rebinConservesFlux_data() {
        QTest::addColumn<double>("inStep");
        QTest::newRow("finer input 0.25 Å") << 0.25;
        QTest::newRow("same step 0.8 Å") << 0.8;
        QTest::newRow("coarser input 2 Å") << 2.0;
    }
    // The integral of flux over a range fully inside both grids is the same before and after.
    void rebinConservesFlux() {
        QFETCH(double, inStep);
        std::vector<double> w, f, iv;
        for (double x = 3500; x < 10000; x += inStep) {
            w.push_back(x);
            f.push_back(1.0 + 0.5 * std::sin(x / 37.0) + (std::abs(x - 6563) < 3 ? 20.0 : 0.0));
            iv.push_back(4.0);
        }
        const auto out = rebinSpectrum(w, f, iv, DesiGrid::waves());
        const auto ie = pixelEdges(w);
        const auto oe = pixelEdges(DesiGrid::waves());
        // integral over output pixels 1000..5000
        double outInt = 0;
        for (int i = 1000; i < 5000; ++i) outInt += out.flux[i] * (oe[i + 1] - oe[i]);
        const double lo = oe[1000], hi = oe[5000];
        double inInt = 0;
        for (size_t k = 0; k < w.size(); ++k) {
            const double ov = std::min(hi, ie[k + 1]) - std::max(lo, ie[k]);
            if (ov > 0) inInt += ov * f[k];
        }
        QVERIFY2(std::abs(outInt - inInt) < 1e-6 * std::abs(inInt), qPrintable(QString("%1 vs %2").arg(outInt).arg(inInt)));
    }

    // Averaging N independent pixels of ivar v gives ivar ≈ N v (exact for aligned bins).
    void rebinPropagatesIvar() {
        std::vector<double> w, f, iv;
        for (int i = 0; i < 40000; ++i) { w.push_back(3400.1 + 0.2 * i); f.push_back(1.0); iv.push_back(2.0); }
        const auto out = rebinSpectrum(w, f, iv, DesiGrid::waves());
        QVERIFY(!out.mask[10]);
        QVERIFY(std::abs(out.ivar[10] - 8.0f) < 1e-3);  // 0.8 / 0.2 = 4 pixels × 2
    }

    // Uncovered pixels and pixels touching bad input are masked, never invented.
    void rebinMasksGapsAndBadPixels() {
        std::vector<double> w, f, iv;
        for (int i = 0; i < 3000; ++i) { w.push_back(4000.0 + 1.0 * i); f.push_back(3.0); iv.push_back(i == 1500 ? 0.0 : 1.0); }
        const auto out = rebinSpectrum(w, f, iv, DesiGrid::waves());
        QCOMPARE(int(out.mask[0]), 1);                 // 3600 Å: no input
        QCOMPARE(out.ivar[0], 0.0f);
        const int bad = int(std::lround((5500.0 - 3600.0) / 0.8));
        QCOMPARE(int(out.mask[bad]), 1);               // touches the zero-ivar input pixel
        QCOMPARE(int(out.mask[bad + 5]), 0);
        QVERIFY(std::abs(out.flux[bad + 5] - 3.0f) < 1e-5);
    }

    void meanPerPixelOfLinearFunction() {
        std::vector<double> x{0, 10}, y{0, 10};
        std::vector<double> edges{1, 2, 4};
        const auto m = integrateMeanPerPixel(x, y, edges);
        QCOMPARE(m.size(), size_t(2));
        QVERIFY(std::abs(m[0] - 1.5) < 1e-12);
        QVERIFY(std::abs(m[1] - 3.0) < 1e-12);
    }
};

QTEST_GUILESS_MAIN(TestWaveGrid)
#include "tst_wavegrid.moc"
