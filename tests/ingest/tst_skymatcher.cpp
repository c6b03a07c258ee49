#include "core/ingest/ingest.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace astroclip;

class TestSkyMatcher : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesWithinRadius_data() {
        QTest::addColumn<double>("ra");
        QTest::addColumn<double>("dec");
        QTest::addColumn<double>("dRaArcsec");   // offset along RA·cos(dec)
        QTest::addColumn<double>("dDecArcsec");
        QTest::addColumn<bool>("match");
        QTest::newRow("equator inside") << 150.0 << 2.0 << 0.7 << 0.0 << true;
        QTest::newRow("equator outside") << 150.0 << 2.0 << 0.0 << 1.2 << false;
        QTest::newRow("across RA=0 inside") << 359.99990 << 10.0 << 0.8 << 0.0 << true;
        QTest::newRow("near the pole, large RA step, small distance") << 37.0 << 89.9999 << 0.9 << 0.0 << true;
        QTest::newRow("high dec outside") << 10.0 << 80.0 << 1.0 << 0.5 << false;
    }
    void matchesWithinRadius() {
        QFETCH(double, ra);
        QFETCH(double, dec);
        QFETCH(double, dRaArcsec);
        QFETCH(double, dDecArcsec);
        QFETCH(bool, match);
        SkyMatcher m(1.0);
        m.add(42, ra, dec);
        double ra2 = ra + dRaArcsec / 3600.0 / std::cos(dec * M_PI / 180.0);
        if (ra2 >= 360) ra2 -= 360;
        const double dec2 = dec + dDecArcsec / 3600.0;
        QCOMPARE(m.nearest(ra2, dec2), match ? int64_t(42) : int64_t(-1));
    }

    // Against brute force on a dense random field: the nearest within the radius, every time.
    void agreesWithBruteForce() {
        std::mt19937_64 rng(3);
        std::uniform_real_distribution<double> ura(149.99, 150.01), udec(1.99, 2.01);
        SkyMatcher m(2.0);
        std::vector<std::pair<double, double>> pts;
        for (int i = 0; i < 2000; ++i) { pts.push_back({ura(rng), udec(rng)}); m.add(i, pts.back().first, pts.back().second); }
        auto sep = [](double a1, double d1, double a2, double d2) {
            const double r = M_PI / 180;
            const double c = std::sin(d1 * r) * std::sin(d2 * r) + std::cos(d1 * r) * std::cos(d2 * r) * std::cos((a1 - a2) * r);
            return std::acos(std::min(1.0, c)) / r * 3600.0;
        };
        for (int q = 0; q < 500; ++q) {
            const double a = ura(rng), d = udec(rng);
            int64_t best = -1;
            double bestSep = 2.0;
            for (int i = 0; i < 2000; ++i) {
                const double s = sep(a, d, pts[i].first, pts[i].second);
                if (s <= bestSep) { bestSep = s; best = i; }
            }
            QCOMPARE(m.nearest(a, d), best);
        }
    }
};

QTEST_GUILESS_MAIN(TestSkyMatcher)
#include "tst_skymatcher.moc"
