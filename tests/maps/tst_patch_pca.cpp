// Patch-feature PCA (core/maps/patch_pca.h) on synthetic patch tokens whose truth is known:
// each image has a disc of "object" patches around its centre, whose tokens vary along three
// hidden directions with distinct variances, on a background of near-constant tokens. The
// foreground mask must be the disc exactly, each colour channel must follow its hidden
// direction (the PCA orders them by variance), the background must stay black, and the sign
// rule must hold when every token is negated.
#include "core/common/error.h"
#include "core/maps/patch_pca.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace astroclip;

namespace {

constexpr int64_t kImages = 6, kGrid = 8, kDim = 16;

struct Synthetic {
    std::vector<float> tokens;            // [images, grid², dim]
    std::vector<uint8_t> object;          // [images, grid²]
    std::vector<std::array<double, 3>> hidden;  // per patch (objects only meaningful)
};

bool inDisc(int64_t y, int64_t x, double radius) {
    const double c = (kGrid - 1) / 2.0;
    return std::hypot(y - c, x - c) <= radius;
}

Synthetic make(double sign) {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    // Orthonormal hidden directions: unit vectors e1, e2, e3 of the token space; the object's mean offset on e0.
    Synthetic s;
    s.tokens.assign(size_t(kImages * kGrid * kGrid * kDim), 0.f);
    for (int64_t k = 0; k < kImages; ++k)
        for (int64_t y = 0; y < kGrid; ++y)
            for (int64_t x = 0; x < kGrid; ++x) {
                const bool obj = inDisc(y, x, 1.5 + 0.4 * double(k % 3));
                std::array<double, 3> h{3.0 * normal(rng), 1.5 * normal(rng), 0.6 * normal(rng)};
                float* t = s.tokens.data() + ((k * kGrid + y) * kGrid + x) * kDim;
                for (int64_t j = 0; j < kDim; ++j) t[j] = float(0.02 * normal(rng));
                if (obj) {
                    t[0] += 12.f;  // the object's tokens sit far from the background's
                    for (int j = 0; j < 3; ++j) t[j + 1] += float(h[size_t(j)]);
                }
                for (int64_t j = 0; j < kDim; ++j) t[j] = float(sign) * t[j];
                s.object.push_back(obj);
                s.hidden.push_back(obj ? h : std::array<double, 3>{0, 0, 0});
            }
    return s;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
    ma /= double(a.size()), mb /= double(b.size());
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

} // namespace

class TestPatchPca : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void recoversObjectsAndParts_data() {
        QTest::addColumn<double>("sign");
        QTest::newRow("as made") << 1.0;
        QTest::newRow("negated") << -1.0;  // the first component's sign flips; the centre rule undoes it
    }
    void recoversObjectsAndParts() {
        QFETCH(double, sign);
        const auto s = make(sign);
        const auto r = maps::patchPca(s.tokens.data(), kImages, kGrid, kDim);
        QCOMPARE(r.images, kImages);
        QCOMPARE(r.grid, kGrid);
        QCOMPARE(r.foreground, s.object);
        QVERIFY(r.firstComponentShare > 0.5);
        QCOMPARE(int(r.colourShares.size()), 3);
        QVERIFY(r.colourShares[0] > r.colourShares[1] && r.colourShares[1] > r.colourShares[2]);
        for (int ch = 0; ch < 3; ++ch) {
            std::vector<double> colour, truth;
            for (size_t i = 0; i < s.object.size(); ++i) {
                if (!s.object[i]) {
                    QCOMPARE(r.rgb[i * 3 + size_t(ch)], 0.f);
                    continue;
                }
                QVERIFY(r.rgb[i * 3 + size_t(ch)] >= 0.f && r.rgb[i * 3 + size_t(ch)] <= 1.f);
                colour.push_back(r.rgb[i * 3 + size_t(ch)]);
                truth.push_back(s.hidden[i][size_t(ch)]);
            }
            const double c = std::abs(correlation(colour, truth));
            QVERIFY2(c > 0.99, qPrintable(QString("channel %1: |corr| %2").arg(ch).arg(c)));
        }
    }

    void refusals() {
        auto s = make(1.0);
        QVERIFY_THROWS_EXCEPTION(UsageError, maps::patchPca(s.tokens.data(), kImages, 1, kDim));
        QVERIFY_THROWS_EXCEPTION(UsageError, maps::patchPca(s.tokens.data(), 0, kGrid, kDim));
        s.tokens[5] = std::nanf("");
        QVERIFY_THROWS_EXCEPTION(UsageError, maps::patchPca(s.tokens.data(), kImages, kGrid, kDim));
    }
};

QTEST_GUILESS_MAIN(TestPatchPca)
#include "tst_patch_pca.moc"
