// PCA (core/maps/pca.h) against numpy's SVD of the centred data: explained variance and its
// ratio (ddof = 1), components and scores up to sign, for more rows than dimensions
// (covariance path, several row blocks) and fewer (Gram path). Plus the sign convention,
// transform of new rows, and refusals.
#include "clustered_vectors.h"
#include "peer.h"

#include "core/common/error.h"
#include "core/maps/pca.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;
using namespace astroclip::maps;

class TestPca : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void matchesNumpy_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("d");
        QTest::addColumn<int>("k");
        QTest::newRow("tall_9000x20_k5") << 9000 << 20 << 5;  // three row blocks
        QTest::newRow("wide_30x50_k4") << 30 << 50 << 4;
        QTest::newRow("square_64x64_k3") << 64 << 64 << 3;
    }
    void matchesNumpy() {
        QFETCH(int, n);
        QFETCH(int, d);
        QFETCH(int, k);
        // Anisotropic: dimension j scaled by 1 + j/4, so the variances are well separated.
        auto x = testdata::clusteredVectors(n, d, 3, uint64_t(n * d));
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < d; ++j) x[i * d + j] = x[i * d + j] * (1.0f + j / 4.0f) + 5.0f;
        const QString path = dir_.filePath("x.f32");
        testpeer::writeFloats(path, x);
        const auto peer = testpeer::runPeer({"pca", path, QString::number(n), QString::number(d), QString::number(k)});
        if (peer.missingModule) QSKIP(qPrintable("numpy is the reference and is missing: " + peer.log));
        QVERIFY2(peer.ok, qPrintable(peer.log));

        PcaModel model;
        const auto scores = pcaMap(x.data(), n, d, k, {}, &model);
        QCOMPARE(model.components, k);
        for (int c = 0; c < k; ++c) {
            const double var = peer.json["variance"][c], ratio = peer.json["ratio"][c];
            QVERIFY2(std::fabs(model.explainedVariance[c] - var) <= 1e-9 * var,
                     qPrintable(QString("component %1: variance %2 vs %3").arg(c).arg(model.explainedVariance[c]).arg(var)));
            QVERIFY(std::fabs(model.explainedVarianceRatio[c] - ratio) <= 1e-9);
            double dot = 0, norm = 0, largest = 0;
            for (int64_t j = 0; j < d; ++j) {
                const double a = model.axes[c * d + j];
                dot += a * double(peer.json["axes"][c][j]);
                norm += a * a;
                if (std::fabs(a) > std::fabs(largest)) largest = a;
            }
            QVERIFY(std::fabs(norm - 1.0) < 1e-12);
            QVERIFY2(std::fabs(std::fabs(dot) - 1.0) < 1e-8, qPrintable(QString("|cos| %1").arg(std::fabs(dot), 0, 'g', 12)));
            QVERIFY(largest > 0);  // our sign convention
            const double sign = dot > 0 ? 1.0 : -1.0;
            for (int64_t i = 0; i < n; i += 7) {
                const double expected = sign * double(peer.json["scores"][i][c]);
                QVERIFY(std::fabs(scores[i * k + c] - expected) <= 1e-4 * (1.0 + std::fabs(expected)));
            }
        }
        // Variances decrease; ratios sum to at most 1.
        double sum = 0;
        for (int c = 0; c < k; ++c) {
            if (c > 0) QVERIFY(model.explainedVariance[c] <= model.explainedVariance[c - 1]);
            sum += model.explainedVarianceRatio[c];
        }
        QVERIFY(sum <= 1.0 + 1e-12);
        // A new row is projected with the fitted mean and axes.
        const auto one = model.transform(x.data() + 3 * d, 1);
        for (int c = 0; c < k; ++c) QCOMPARE(one[c], scores[3 * k + c]);
    }

    void refusesBadInput() {
        auto x = testdata::clusteredVectors(10, 4, 1, 1);
        QVERIFY_THROWS_EXCEPTION(UsageError, fitPca(x.data(), 10, 4, 5));
        QVERIFY_THROWS_EXCEPTION(UsageError, fitPca(x.data(), 10, 4, 0));
        QVERIFY_THROWS_EXCEPTION(UsageError, fitPca(x.data(), 1, 4, 1));
        x[6] = std::numeric_limits<float>::infinity();
        QVERIFY_THROWS_EXCEPTION(UsageError, fitPca(x.data(), 10, 4, 2));
    }
};

QTEST_GUILESS_MAIN(TestPca)
#include "tst_pca.moc"
