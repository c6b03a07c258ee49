// UMAP (core/maps/umap.h), fast checks: a and b against umap-learn's find_ab_params, the
// same bytes for the same seed (and for any thread count), progress phases and cancellation,
// the PCA fallback of the spectral initialisation on a disconnected graph, and the refusals
// of bad input. Map quality against umap-learn is tst_umap_quality.
#include "clustered_vectors.h"
#include "peer.h"

#include "core/common/error.h"
#include "core/common/log.h"
#include "core/maps/knn_descent.h"
#include "core/maps/umap.h"
#include "core/maps/umap_graph.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace astroclip;
using namespace astroclip::maps;

namespace {

constexpr int64_t kPoints = 600;
constexpr int64_t kDims = 32;

UmapParams quickParams(int threads) {
    UmapParams p;
    p.nEpochs = 60;
    p.threads = threads;
    p.seed = 7;
    return p;
}

} // namespace

class TestUmap : public QObject {
    Q_OBJECT

    // One cluster: a connected graph, so the spectral initialisation applies.
    std::vector<float> data_ = testdata::clusteredVectors(kPoints, kDims, 1, 11);

private Q_SLOTS:
    void curveMatchesUmapLearn() {
        const std::vector<std::pair<double, double>> cases{{1.0, 0.0}, {1.0, 0.001}, {1.0, 0.1}, {1.0, 0.25},
                                                           {1.0, 0.5}, {1.0, 0.99}, {2.0, 0.5}, {0.5, 0.05}};
        QStringList args;
        for (auto [spread, minDist] : cases) args << QString("%1:%2").arg(spread).arg(minDist);
        const auto peer = testpeer::runPeer(QStringList{"ab"} + args);
        if (peer.missingModule) QSKIP(qPrintable("umap-learn is the reference and is missing (Debian: python3-umap-learn): " + peer.log));
        QVERIFY2(peer.ok, qPrintable(peer.log));
        for (size_t i = 0; i < cases.size(); ++i) {
            const auto ours = findAbParams(cases[i].first, cases[i].second);
            const double a = peer.json[i]["a"], b = peer.json[i]["b"];
            const QString what = QString("spread %1 minDist %2: ours a=%3 b=%4, umap-learn a=%5 b=%6")
                                     .arg(cases[i].first).arg(cases[i].second).arg(ours.a, 0, 'g', 10)
                                     .arg(ours.b, 0, 'g', 10).arg(a, 0, 'g', 10).arg(b, 0, 'g', 10);
            QVERIFY2(std::fabs(ours.a - a) <= 1e-4 * std::fabs(a), qPrintable(what));
            QVERIFY2(std::fabs(ours.b - b) <= 1e-4 * std::fabs(b), qPrintable(what));
        }
    }

    void sameSeedSameBytes_data() {
        QTest::addColumn<int>("dims");
        QTest::addColumn<int>("init");
        QTest::addColumn<int>("metric");
        QTest::newRow("2d_spectral_euclidean") << 2 << int(UmapInit::Spectral) << int(UmapMetric::Euclidean);
        QTest::newRow("3d_pca_cosine") << 3 << int(UmapInit::Pca) << int(UmapMetric::Cosine);
        QTest::newRow("2d_random_euclidean") << 2 << int(UmapInit::Random) << int(UmapMetric::Euclidean);
        QTest::newRow("2d_spectral_nn_descent") << 2 << int(UmapInit::Spectral) << -1;
    }
    void sameSeedSameBytes() {
        QFETCH(int, dims);
        QFETCH(int, init);
        QFETCH(int, metric);
        auto p = quickParams(2);
        p.nComponents = dims;
        p.init = UmapInit(init);
        p.metric = metric < 0 ? UmapMetric::Euclidean : UmapMetric(metric);
        if (metric < 0) p.knn = UmapKnn::Approximate;
        UmapInfo info;
        const auto first = Umap::fit(data_.data(), kPoints, kDims, p, {}, &info);
        QCOMPARE(int64_t(first.size()), kPoints * dims);
        for (float v : first) QVERIFY(std::isfinite(v));
        const auto again = Umap::fit(data_.data(), kPoints, kDims, p);
        QVERIFY(first == again);
        p.threads = 1;  // the epoch-synchronous SGD does not depend on the thread count
        QVERIFY(Umap::fit(data_.data(), kPoints, kDims, p) == first);
        p.seed = 8;
        QVERIFY(Umap::fit(data_.data(), kPoints, kDims, p) != first);
        QCOMPARE(info.nEpochs, 60);
        QVERIFY(info.edges > kPoints);
        QVERIFY(info.knnMethod.rfind(metric < 0 ? "approximate" : "exact", 0) == 0);
    }

    void approximateGraphFindsTheNeighbours() {
        // NN-descent (used above kExactKnnLimit points) against the exact FAISS graph on 4,000
        // clustered 64-d vectors: recall@15, and the same graph for 1 and 2 threads.
        constexpr int64_t n = 4000, d = 64;
        constexpr int k = 15;
        const auto x = testdata::clusteredVectors(n, d, 8, 21);
        const auto exact = detail::nearestNeighbours(x.data(), n, d, k, UmapMetric::Euclidean, UmapKnn::Exact, 2, 1);
        const auto approx = detail::nearestNeighbours(x.data(), n, d, k, UmapMetric::Euclidean, UmapKnn::Approximate, 2, 1);
        QCOMPARE(QString::fromStdString(approx.method), QString("approximate (random-projection trees + NN-descent)"));
        int64_t found = 0;
        for (int64_t i = 0; i < n; ++i) {
            QCOMPARE(approx.indices[i * k], i);  // the point itself first
            const std::set<int64_t> truth(exact.indices.begin() + i * k, exact.indices.begin() + (i + 1) * k);
            for (int j = 0; j < k; ++j) found += truth.count(approx.indices[i * k + j]);
            for (int j = 1; j < k; ++j) QVERIFY(approx.distances[i * k + j] >= approx.distances[i * k + j - 1]);
        }
        const double recall = double(found) / double(n * k);
        qInfo("NN-descent recall@%d: %.4f", k, recall);
        QVERIFY2(recall >= 0.97, qPrintable(QString::number(recall)));
        const auto single = detail::nearestNeighbours(x.data(), n, d, k, UmapMetric::Euclidean, UmapKnn::Approximate, 1, 1);
        QVERIFY(single.indices == approx.indices);
        // squaredL2's SIMD lanes agree with a plain sum.
        double plain = 0;
        for (int64_t j = 0; j < d; ++j) plain += double(x[j] - x[d + j]) * double(x[j] - x[d + j]);
        QVERIFY(std::fabs(detail::squaredL2(x.data(), x.data() + d, d) - plain) <= 1e-5 * plain);
    }

    void defaultsFollowUmapLearn() {
        UmapParams p;
        QCOMPARE(p.nNeighbors, 15);
        QCOMPARE(p.minDist, 0.1f);
        QCOMPARE(p.negativeSampleRate, 5);
        p.nEpochs = 0;
        p.threads = 2;
        UmapInfo info;
        int epochsSeen = 0;
        const ProgressFn count = [&](const Progress& pr) {
            if (pr.stage == "umap: optimise") epochsSeen = int(pr.done);
            return true;
        };
        Umap::fit(data_.data(), kPoints, kDims, p, count, &info);
        QCOMPARE(info.nEpochs, 500);  // n ≤ 10,000
        QCOMPARE(epochsSeen, 500);
        QCOMPARE(QString::fromStdString(info.initUsed), QString("spectral"));
        QVERIFY(std::fabs(info.a - 1.577) < 0.01 && std::fabs(info.b - 0.895) < 0.01);
    }

    void reportsPhasesAndCancels() {
        std::vector<std::string> stages;
        const ProgressFn stopAtEpoch5 = [&](const Progress& pr) {
            if (stages.empty() || stages.back() != pr.stage) stages.push_back(pr.stage);
            return !(pr.stage == "umap: optimise" && pr.done >= 5);
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, Umap::fit(data_.data(), kPoints, kDims, quickParams(2), stopAtEpoch5));
        const std::vector<std::string> expected{"umap: neighbours", "umap: graph", "umap: init", "umap: optimise"};
        QVERIFY(stages == expected);
        const ProgressFn stopAtOnce = [](const Progress&) { return false; };
        QVERIFY_THROWS_EXCEPTION(Cancelled, Umap::fit(data_.data(), kPoints, kDims, quickParams(1), stopAtOnce));
    }

    void disconnectedGraphFallsBackToPca() {
        // Two clumps 1000 units apart: no k-NN edge joins them, the Laplacian has two zero
        // eigenvalues, and umap-learn's spectral layout does not apply.
        std::vector<float> x = testdata::clusteredVectors(200, 8, 1, 3);
        for (int64_t i = 100; i < 200; ++i) x[i * 8] += 1000.0f;
        std::vector<std::string> warnings;
        setLogHandler([&](LogLevel level, const std::string& m) {
            if (level == LogLevel::Warning) warnings.push_back(m);
        });
        UmapInfo info;
        auto p = quickParams(2);
        const auto map = Umap::fit(x.data(), 200, 8, p, {}, &info);
        setLogHandler(nullptr);
        QCOMPARE(info.graphComponents, int64_t(2));
        QCOMPARE(QString::fromStdString(info.initUsed), QString("pca"));
        QCOMPARE(int(warnings.size()), 1);
        QVERIFY(warnings[0].find("disconnected") != std::string::npos);
        // The clumps stay apart in the map: every point is nearer its own clump's centre.
        double centre[2][2] = {{0, 0}, {0, 0}};
        for (int64_t i = 0; i < 200; ++i)
            for (int c = 0; c < 2; ++c) centre[i / 100][c] += map[i * 2 + c] / 100.0;
        for (int64_t i = 0; i < 200; ++i) {
            auto dist = [&](int g) { return std::hypot(map[i * 2] - centre[g][0], map[i * 2 + 1] - centre[g][1]); };
            QVERIFY(dist(int(i / 100)) < dist(1 - int(i / 100)));
        }
    }

    void refusesBadInput_data() {
        QTest::addColumn<QString>("what");
        for (const char* w : {"too_few_points", "nan", "inf", "one_dim_map", "four_dim_map", "one_neighbour",
                              "min_dist_above_spread", "negative_epochs", "zero_learning_rate",
                              "zero_vector_cosine", "no_data", "negative_threads"})
            QTest::newRow(w) << QString(w);
    }
    void refusesBadInput() {
        QFETCH(QString, what);
        std::vector<float> x(data_.begin(), data_.begin() + 100 * kDims);
        int64_t n = 100;
        const float* ptr = x.data();
        UmapParams p = quickParams(1);
        if (what == "too_few_points") n = 15;
        if (what == "nan") x[37 * kDims + 3] = std::numeric_limits<float>::quiet_NaN();
        if (what == "inf") x[5] = std::numeric_limits<float>::infinity();
        if (what == "one_dim_map") p.nComponents = 1;
        if (what == "four_dim_map") p.nComponents = 4;
        if (what == "one_neighbour") p.nNeighbors = 1;
        if (what == "min_dist_above_spread") p.minDist = 2.0f;
        if (what == "negative_epochs") p.nEpochs = -1;
        if (what == "zero_learning_rate") p.learningRate = 0.0f;
        if (what == "zero_vector_cosine") {
            p.metric = UmapMetric::Cosine;
            std::fill_n(x.begin() + 9 * kDims, kDims, 0.0f);
        }
        if (what == "no_data") ptr = nullptr;
        if (what == "negative_threads") p.threads = -2;
        try {
            Umap::fit(ptr, n, kDims, p);
            QFAIL("no UsageError");
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).rfind("UMAP: ", 0) == 0, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestUmap)
#include "tst_umap.moc"
