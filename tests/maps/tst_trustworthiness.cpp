// Trustworthiness (core/maps/trustworthiness.h) equals sklearn.manifold.trustworthiness to
// 1e-9 on small sets: random maps (many intruders), maps that keep the structure (few),
// k from 1 to 15, a set large enough for several query blocks, and vectors far from the origin
// (large float rounding in the fast distance path, so the exact re-check decides). Plus the
// sampled estimate staying near the exact value, and refusals.
#include "clustered_vectors.h"
#include "peer.h"

#include "core/common/error.h"
#include "core/maps/trustworthiness.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;
using namespace astroclip::maps;

namespace {

struct Set {
    std::vector<float> x, map;
    int64_t n, d, e;
};

// Input vectors, and a map that is either a noisy projection (structure kept) or random.
Set makeSet(int64_t n, int64_t d, int64_t e, bool structured, double offset, uint64_t seed) {
    Set s{testdata::clusteredVectors(n, d, 4, seed), {}, n, d, e};
    for (auto& v : s.x) v += float(offset);
    testdata::SeededNormal normal(seed + 1);
    s.map.resize(n * e);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < e; ++c)
            s.map[i * e + c] = float(structured ? s.x[i * d + c] - offset + 0.3 * normal() : normal());
    return s;
}

} // namespace

class TestTrustworthiness : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void equalsScikitLearn_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("d");
        QTest::addColumn<int>("e");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("structured");
        QTest::addColumn<double>("offset");
        QTest::newRow("random_map_k5") << 80 << 6 << 2 << 5 << false << 0.0;
        QTest::newRow("structured_k15") << 200 << 10 << 2 << 15 << true << 0.0;
        QTest::newRow("random_map_k1") << 50 << 3 << 2 << 1 << false << 0.0;
        QTest::newRow("structured_3d_k10") << 150 << 12 << 3 << 10 << true << 0.0;
        QTest::newRow("far_from_origin") << 150 << 16 << 2 << 15 << true << 3000.0;
        QTest::newRow("several_blocks") << 2500 << 24 << 2 << 15 << true << 0.0;
    }
    void equalsScikitLearn() {
        QFETCH(int, n);
        QFETCH(int, d);
        QFETCH(int, e);
        QFETCH(int, k);
        QFETCH(bool, structured);
        QFETCH(double, offset);
        const Set s = makeSet(n, d, e, structured, offset, uint64_t(n + d + k));
        const QString xPath = dir_.filePath("x.f32"), mPath = dir_.filePath("m.f32");
        testpeer::writeFloats(xPath, s.x);
        testpeer::writeFloats(mPath, s.map);
        const auto peer = testpeer::runPeer({"trust", xPath, QString::number(n), QString::number(d), mPath,
                                             QString::number(e), QString::number(k)});
        if (peer.missingModule) QSKIP(qPrintable("scikit-learn is the reference and is missing: " + peer.log));
        QVERIFY2(peer.ok, qPrintable(peer.log));
        const double expected = peer.json["trust"];
        TrustworthinessOptions o;
        o.k = k;
        const double ours = trustworthiness(s.x.data(), n, d, s.map.data(), e, o);
        QVERIFY2(std::fabs(ours - expected) <= 1e-9,
                 qPrintable(QString("ours %1, scikit-learn %2").arg(ours, 0, 'g', 15).arg(expected, 0, 'g', 15)));
        o.threads = 1;
        QCOMPARE(trustworthiness(s.x.data(), n, d, s.map.data(), e, o), ours);
    }

    void sampledEstimateIsClose() {
        const Set s = makeSet(3000, 16, 2, true, 0.0, 99);
        const double exact = trustworthiness(s.x.data(), s.n, s.d, s.map.data(), s.e);
        TrustworthinessOptions o;
        o.maxQueries = 600;
        o.seed = 5;
        int64_t lastDone = 0, total = 0;
        const double sampled = trustworthiness(s.x.data(), s.n, s.d, s.map.data(), s.e, o, [&](const Progress& p) {
            lastDone = p.done;
            total = p.total;
            return true;
        });
        QCOMPARE(total, int64_t(600));
        QCOMPARE(lastDone, int64_t(600));
        QVERIFY2(std::fabs(sampled - exact) < 0.01, qPrintable(QString("sampled %1 exact %2").arg(sampled).arg(exact)));
        o.maxQueries = 3000;  // a sample as large as the set is the exact value
        QCOMPARE(trustworthiness(s.x.data(), s.n, s.d, s.map.data(), s.e, o), exact);
    }

    void refusesBadInput() {
        const Set s = makeSet(40, 4, 2, true, 0.0, 1);
        TrustworthinessOptions o;
        o.k = 20;  // scikit-learn requires k < n / 2
        QVERIFY_THROWS_EXCEPTION(UsageError, trustworthiness(s.x.data(), 40, 4, s.map.data(), 2, o));
        o.k = 0;
        QVERIFY_THROWS_EXCEPTION(UsageError, trustworthiness(s.x.data(), 40, 4, s.map.data(), 2, o));
        auto bad = s.map;
        bad[7] = std::numeric_limits<float>::quiet_NaN();
        QVERIFY_THROWS_EXCEPTION(UsageError, trustworthiness(s.x.data(), 40, 4, bad.data(), 2));
        const ProgressFn stop = [](const Progress&) { return false; };
        QVERIFY_THROWS_EXCEPTION(Cancelled, trustworthiness(s.x.data(), 40, 4, s.map.data(), 2, {}, stop));
    }
};

QTEST_GUILESS_MAIN(TestTrustworthiness)
#include "tst_trustworthiness.moc"
