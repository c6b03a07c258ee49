// UMAP map quality against umap-learn 0.5.3 on the same data and parameters (k = 15,
// minDist 0.1, 2-D, default epochs): trustworthiness (k = 15, scikit-learn's, computed by the
// peer for both maps) within 0.02 of umap-learn's, on scikit-learn's bundled digits
// (1797 × 64) and on 2,000 seeded clustered 512-d vectors. Our own trustworthiness of our map
// must equal scikit-learn's (to 1e-9 where no distances tie). Label integration: umap-learn takes a minute or two here.
#include "clustered_vectors.h"
#include "peer.h"

#include "core/maps/trustworthiness.h"
#include "core/maps/umap.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <vector>

using namespace astroclip;
using namespace astroclip::maps;

class TestUmapQuality : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;

    // ownTolerance: how close our trustworthiness of our map must be to scikit-learn's. Exact
    // (1e-9) for continuous data; the digits are integers 0..16 with many tied distances, which
    // numpy's argsort ranks in an arbitrary order and we by the smallest rank.
    void compareWithUmapLearn(const std::vector<float>& x, int64_t n, int64_t d, const QString& name, double ownTolerance) {
        UmapParams p;
        p.seed = 1;
        p.threads = 2;
        UmapInfo info;
        const auto ours = Umap::fit(x.data(), n, d, p, {}, &info);
        const QString xPath = dir_.filePath(name + ".f32"), oursPath = dir_.filePath(name + "_ours.f32");
        testpeer::writeFloats(xPath, x);
        testpeer::writeFloats(oursPath, ours);
        const auto peer = testpeer::runPeer({"umap", xPath, QString::number(n), QString::number(d), oursPath, "2", "1", "0"});
        if (peer.missingModule) QSKIP(qPrintable("umap-learn/scikit-learn are the reference and are missing: " + peer.log));
        QVERIFY2(peer.ok, qPrintable(peer.log));
        const double peerTrust = peer.json["peer_trust"], oursTrust = peer.json["ours_trust"];
        const double ownScore = trustworthiness(x.data(), n, d, ours.data(), 2);
        qInfo("%s: trustworthiness ours %.4f, umap-learn %.4f (init %s, %lld edges)", qPrintable(name), oursTrust,
              peerTrust, info.initUsed.c_str(), static_cast<long long>(info.edges));
        QVERIFY2(std::fabs(oursTrust - peerTrust) <= 0.02,
                 qPrintable(QString("ours %1 vs umap-learn %2").arg(oursTrust).arg(peerTrust)));
        QVERIFY2(std::fabs(ownScore - oursTrust) <= ownTolerance,
                 qPrintable(QString("our trustworthiness %1 vs scikit-learn's %2").arg(ownScore, 0, 'g', 12).arg(oursTrust, 0, 'g', 12)));
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void digitsLikeUmapLearn() {
        const QString path = dir_.filePath("digits.f32");
        const auto peer = testpeer::runPeer({"digits", path});
        if (peer.missingModule) QSKIP(qPrintable("scikit-learn (for its digits) is missing: " + peer.log));
        QVERIFY2(peer.ok, qPrintable(peer.log));
        const int64_t n = peer.json["n"], d = peer.json["d"];
        QCOMPARE(n, int64_t(1797));
        compareWithUmapLearn(testpeer::readFloats(path, size_t(n * d)), n, d, "digits", 1e-3);
    }

    void clusteredEmbeddingsLikeUmapLearn() {
        constexpr int64_t n = 2000, d = 512;
        compareWithUmapLearn(testdata::clusteredVectors(n, d, 12, 2024), n, d, "clustered", 1e-9);
    }
};

QTEST_GUILESS_MAIN(TestUmapQuality)
#include "tst_umap_quality.moc"
