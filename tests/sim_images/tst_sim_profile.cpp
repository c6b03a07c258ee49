// The lowest layers of the imaging half: Sérsic profiles integrated over pixels, and the PSF.
#include "core/sim/profile.h"
#include "core/sim/psf.h"
#include "core/sim/render_model.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

using namespace astroclip::sim;

namespace {
struct EllipseFrame {
    double q, sinPa, cosPa;
    EllipseFrame(double axisRatio, double paDeg)
        : q(axisRatio), sinPa(std::sin(paDeg * std::numbers::pi / 180)), cosPa(std::cos(paDeg * std::numbers::pi / 180)) {}
    // Elliptical radius of offset (dx, dy); PA counter-clockwise from +y (north) toward -x (east).
    double radius(double dx, double dy) const {
        const double major = -dx * sinPa + dy * cosPa, minor = dx * cosPa + dy * sinPa;
        return std::hypot(major, minor / q);
    }
};

// Half-max crossing of samples f around index i..i+1 (f[i] >= h > f[i+1]) by 4-point
// Lagrange interpolation, solved by bisection.
double crossing(const std::vector<double>& f, int i, double h) {
    auto interp = [&](double x) {
        const int i0 = std::clamp(int(std::floor(x)) - 1, 0, int(f.size()) - 4);
        double v = 0;
        for (int a = 0; a < 4; ++a) {
            double w = 1;
            for (int b = 0; b < 4; ++b)
                if (b != a) w *= (x - (i0 + b)) / double(a - b);
            v += w * f[size_t(i0 + a)];
        }
        return v;
    };
    double lo = i, hi = i + 1;
    const bool falling = f[size_t(i)] > f[size_t(i + 1)];
    for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        if ((interp(mid) > h) == falling) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double fwhmOfProfile(const std::vector<double>& f) {
    const int peak = int(std::max_element(f.begin(), f.end()) - f.begin());
    const double h = 0.5 * f[size_t(peak)];
    int right = peak, left = peak;
    while (f[size_t(right + 1)] >= h) ++right;
    while (f[size_t(left - 1)] >= h) --left;
    return crossing(f, right, h) - crossing(f, left - 1, h);
}
} // namespace

class TestSimProfile : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sersicB_data() {
        QTest::addColumn<double>("n");
        QTest::addColumn<double>("expected");
        // Gaussian: ln 2 exactly; exponential and de Vaucouleurs: the tabulated values.
        QTest::newRow("n=0.5") << 0.5 << std::log(2.0);
        QTest::newRow("n=1") << 1.0 << 1.678347;
        QTest::newRow("n=4") << 4.0 << 7.669249;
    }
    void sersicB() {
        QFETCH(double, n);
        QFETCH(double, expected);
        QVERIFY(std::abs(astroclip::sim::sersicB(n) - expected) < 2e-6);
        QVERIFY(std::abs(sersicEnclosedFraction(n, 1.0) - 0.5) < 1e-10);
    }

    // Exponential enclosed light has a closed form: 1 - (1 + x) e^-x, x = b R/R_e.
    void enclosedFractionMatchesClosedForm() {
        const double b = astroclip::sim::sersicB(1.0);
        for (double r : {0.1, 0.5, 2.0, 5.0, 12.0}) {
            const double x = b * r;
            QVERIFY(std::abs(sersicEnclosedFraction(1.0, r) - (1.0 - (1.0 + x) * std::exp(-x))) < 1e-12);
        }
    }

    // Flux in the stamp, PSF-free: compact sources keep their analytic total; large ones
    // hold what the stamp covers, bracketed by the analytic light inside the largest
    // ellipse the square contains and inside the smallest ellipse containing it.
    void fluxInStamp_data() {
        QTest::addColumn<double>("n");
        QTest::addColumn<double>("rePix");
        QTest::addColumn<double>("q");
        QTest::addColumn<double>("pa");
        QTest::addColumn<double>("dx");
        QTest::newRow("compact exponential") << 1.0 << 0.4 << 0.7 << 30.0 << 0.0;
        QTest::newRow("compact de Vaucouleurs") << 4.0 << 0.5 << 0.8 << 100.0 << 0.3;
        QTest::newRow("point-like de Vaucouleurs") << 4.0 << 0.02 << 1.0 << 0.0 << 0.0;
        QTest::newRow("compact n=0.5 off-centre") << 0.5 << 0.3 << 0.5 << -20.0 << 0.45;
        QTest::newRow("thin exponential") << 1.0 << 3.0 << 0.08 << 60.0 << 0.0;
        QTest::newRow("large exponential") << 1.0 << 20.0 << 0.5 << 45.0 << 0.0;
        QTest::newRow("large de Vaucouleurs") << 4.0 << 12.0 << 0.9 << 10.0 << 0.0;
    }
    void fluxInStamp() {
        QFETCH(double, n);
        QFETCH(double, rePix);
        QFETCH(double, q);
        QFETCH(double, pa);
        QFETCH(double, dx);
        const int size = 64;
        std::vector<float> image(size * size, 0.0f);
        SersicShape s{n, rePix, q, pa, size / 2 + dx, size / 2.0};
        addSersic(s, 1.0, size, size, image.data());
        const double sum = std::accumulate(image.begin(), image.end(), 0.0);
        // Elliptical radii (in R_e) of the stamp's boundary: min = inscribed, max = corners.
        const EllipseFrame e(q, pa);
        double rIn = 1e300, rOut = 0;
        for (int k = 0; k <= 4000; ++k) {
            const double t = -0.5 + k / 4000.0;
            for (auto [bx, by] : {std::pair{t * size, -0.5 * size}, {t * size, 0.5 * size}, {-0.5 * size, t * size}, {0.5 * size, t * size}}) {
                const double r = e.radius(bx - dx, by) / rePix;
                rIn = std::min(rIn, r);
                rOut = std::max(rOut, r);
            }
        }
        const double lower = sersicEnclosedFraction(n, rIn), upper = sersicEnclosedFraction(n, rOut);
        qInfo("sum %.5f, analytic bracket [%.5f, %.5f]", sum, lower, upper);
        QVERIFY(sum >= lower * 0.998 && sum <= upper * 1.002);
        if (upper - lower < 1e-3) QVERIFY(std::abs(sum - 1.0) < 0.01);
    }

    // R_e recovered from a noiseless PSF-free render: the elliptical radius enclosing half
    // of the (analytic, unit) total, from the pixels' cumulative flux.
    void halfLightRadius_data() {
        QTest::addColumn<double>("n");
        QTest::addColumn<double>("rePix");
        QTest::addColumn<double>("q");
        QTest::addColumn<double>("pa");
        QTest::newRow("exponential round") << 1.0 << 6.0 << 1.0 << 0.0;
        QTest::newRow("exponential inclined") << 1.0 << 8.0 << 0.4 << 35.0;
        QTest::newRow("de Vaucouleurs") << 4.0 << 5.0 << 0.8 << 120.0;
        QTest::newRow("n=2") << 2.0 << 7.0 << 0.6 << 80.0;
        QTest::newRow("n=0.5") << 0.5 << 3.0 << 0.7 << 0.0;
    }
    void halfLightRadius() {
        QFETCH(double, n);
        QFETCH(double, rePix);
        QFETCH(double, q);
        QFETCH(double, pa);
        const int size = 400;   // holds all but a negligible part of the light within the half
        std::vector<float> image(size * size, 0.0f);
        addSersic({n, rePix, q, pa, size / 2.0, size / 2.0}, 1.0, size, size, image.data());
        const EllipseFrame e(q, pa);
        std::vector<std::pair<double, double>> byRadius;   // (elliptical radius, flux)
        for (int y = 0; y < size; ++y)
            for (int x = 0; x < size; ++x)
                byRadius.emplace_back(e.radius(x - size / 2.0, y - size / 2.0), image[size_t(y) * size + x]);
        std::sort(byRadius.begin(), byRadius.end());
        double cumulative = 0, measured = 0;
        for (size_t i = 0; i < byRadius.size(); ++i) {
            const double next = cumulative + byRadius[i].second;
            if (next >= 0.5) {
                // Interpolate between the previous and this pixel's radius.
                const double prevR = i ? byRadius[i - 1].first : 0.0;
                measured = prevR + (byRadius[i].first - prevR) * (0.5 - cumulative) / byRadius[i].second;
                break;
            }
            cumulative = next;
        }
        qInfo("R_e measured %.3f px, true %.3f px", measured, rePix);
        QVERIFY(std::abs(measured / rePix - 1.0) < 0.02);
    }

    // Pixel values against brute-force 45×45 midpoint supersampling with the profile written
    // out independently here (I = I_e exp(-b((R/R_e)^(1/n) - 1)), total 2π q R_e² n e^b b^-2n Γ(2n) I_e).
    void pixelIntegrationMatchesBruteForce_data() {
        QTest::addColumn<double>("n");
        QTest::addColumn<double>("rePix");
        QTest::addColumn<double>("q");
        QTest::addColumn<double>("b");   // tabulated b_n
        QTest::newRow("exponential compact") << 1.0 << 0.8 << 0.5 << 1.678347;
        QTest::newRow("n=2") << 2.0 << 1.5 << 0.7 << 3.672061;
        QTest::newRow("n=0.5") << 0.5 << 1.0 << 0.9 << std::log(2.0);
    }
    void pixelIntegrationMatchesBruteForce() {
        QFETCH(double, n);
        QFETCH(double, rePix);
        QFETCH(double, q);
        QFETCH(double, b);
        const int size = 15;
        const double xc = 7.3, yc = 6.9, pa = 25.0;
        std::vector<float> image(size * size, 0.0f);
        addSersic({n, rePix, q, pa, xc, yc}, 1.0, size, size, image.data());
        const double ie = 1.0 / (2 * std::numbers::pi * q * rePix * rePix * n * std::exp(b) * std::pow(b, -2 * n) * std::tgamma(2 * n));
        const EllipseFrame e(q, pa);
        const int sub = 45;
        double worst = 0, absoluteSum = 0;
        for (int y = 4; y <= 10; ++y)
            for (int x = 4; x <= 10; ++x) {
                double sum = 0;
                for (int j = 0; j < sub; ++j)
                    for (int i = 0; i < sub; ++i) {
                        const double r = e.radius(x - 0.5 + (i + 0.5) / sub - xc, y - 0.5 + (j + 0.5) / sub - yc);
                        sum += ie * std::exp(-b * (std::pow(r / rePix, 1 / n) - 1));
                    }
                sum /= sub * sub;
                const double difference = std::abs(image[size_t(y) * size + x] - sum);
                absoluteSum += difference;
                if (sum > 1e-3) worst = std::max(worst, difference / sum);   // pixels that matter
            }
        qInfo("worst relative difference %.2e, summed absolute difference %.2e of the total", worst, absoluteSum);
        QVERIFY(worst < 0.005);
        QVERIFY(absoluteSum < 0.003);
    }

    // The mixture reproduces the Moffat β = 3.5 it stands for: enclosed energy of a
    // convolved point source against the Moffat's closed form, and flux conservation.
    void psfEncloseEnergyMatchesMoffat_data() {
        QTest::addColumn<int>("band");
        for (int b = 0; b < kBands; ++b) QTest::newRow(kBandNames[b]) << b;
    }
    void psfEncloseEnergyMatchesMoffat() {
        QFETCH(int, band);
        const double fwhmPix = kNominalPsfFwhmArcsec[band] / kPixelScaleArcsec;
        const GaussianMixturePsf psf(kNominalPsfFwhmArcsec[band], kPixelScaleArcsec);
        const int size = 129, c = size / 2;
        std::vector<float> image(size * size, 0.0f);
        image[size_t(c) * size + c] = 1.0f;
        psf.convolve(image.data(), size, size);
        QVERIFY(std::abs(std::accumulate(image.begin(), image.end(), 0.0) - 1.0) < 1e-4);
        const double beta = 3.5, alpha = fwhmPix / (2 * std::sqrt(std::pow(2.0, 1 / beta) - 1));
        // The convolved delta samples the PSF at pixel centres: compare aperture sums with the
        // Moffat sampled at the same pixels.
        auto moffat = [&](double r) { return (beta - 1) / (std::numbers::pi * alpha * alpha) * std::pow(1 + (r / alpha) * (r / alpha), -beta); };
        for (double radiusFwhm : {0.5, 1.0, 2.0, 3.0}) {
            const double radius = radiusFwhm * fwhmPix;
            double inside = 0, insideMoffat = 0;
            for (int y = 0; y < size; ++y)
                for (int x = 0; x < size; ++x)
                    if (std::hypot(x - c, y - c) <= radius) {
                        inside += image[size_t(y) * size + x];
                        insideMoffat += moffat(std::hypot(x - c, y - c));
                    }
            qInfo("r = %.1f FWHM: mixture %.4f, Moffat %.4f", radiusFwhm, inside, insideMoffat);
            QVERIFY(std::abs(inside - insideMoffat) < 0.015);
        }
    }

    // FWHM measured on a point source rendered through the whole scene (noiseless).
    void psfFwhmFromPointSource_data() {
        QTest::addColumn<int>("band");
        QTest::addColumn<quint64>("seed");
        for (int b = 0; b < kBands; ++b)
            for (quint64 seed : {1u, 2u})
                QTest::newRow(qPrintable(QString("%1 seed %2").arg(kBandNames[b]).arg(seed))) << b << seed;
    }
    void psfFwhmFromPointSource() {
        QFETCH(int, band);
        QFETCH(quint64, seed);
        CutoutScene scene;
        scene.size = 64;
        scene.central.z = 0.1;
        scene.central.bulge.reArcsec = 0;   // a point source
        scene.central.bulge.flux = {10, 10, 10};
        Rng rng = makeRng(seed, 0, 7);
        const SceneModel model = renderSceneModel(scene, rng);
        const int c = scene.size / 2;
        const float* img = model.flux.data() + size_t(band) * scene.size * scene.size;
        std::vector<double> row(scene.size), col(scene.size);
        for (int i = 0; i < scene.size; ++i) {
            row[size_t(i)] = img[size_t(c) * scene.size + i];
            col[size_t(i)] = img[size_t(i) * scene.size + c];
        }
        const double measured = 0.5 * (fwhmOfProfile(row) + fwhmOfProfile(col)) * kPixelScaleArcsec;
        qInfo("FWHM measured %.4f\", recorded %.4f\", nominal %.2f\"", measured, model.psfFwhmArcsec[band], kNominalPsfFwhmArcsec[band]);
        QVERIFY(std::abs(measured / model.psfFwhmArcsec[band] - 1) < 0.02);
        QVERIFY(std::abs(model.psfFwhmArcsec[band] / kNominalPsfFwhmArcsec[band] - 1) <= kPsfJitterClip + 1e-9);
    }
};

QTEST_GUILESS_MAIN(TestSimProfile)
#include "tst_sim_profile.moc"
