// k-NN regression and R² (core/analysis/knn.h) against scikit-learn (knn_peer.py run by
// /usr/bin/python3: StandardScaler + KNeighborsRegressor with uniform and distance weights,
// r2_score) on the same vectors: dimensions of very different scales so standardising
// matters, some queries identical to reference vectors (the exact-match rule of distance
// weighting), query blocks smaller than the query set. Plus scikit-learn's conventions for a
// constant truth and the refusals of bad input.
#include "core/analysis/knn.h"
#include "core/common/error.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <limits>

using namespace astroclip;

namespace {

constexpr int64_t kReference = 400;
constexpr int64_t kQueries = 150;
constexpr int64_t kDims = 6;
constexpr int64_t kDuplicates = 10;  // the first queries are copies of reference rows 3, 7, 11, ...

struct Case {
    const char* name;
    int64_t k;
    bool standardize;
    bool distanceWeighted;
    int64_t queryBlock;
};
const Case kCases[] = {
    {"uniform_k16_standardized", 16, true, false, 4096},
    {"distance_k16_standardized", 16, true, true, 7},
    {"uniform_k5_raw", 5, false, false, 33},
    {"distance_k64_standardized", 64, true, true, 4096},
    {"distance_k16_raw", 16, false, true, 64},
};

// A smooth function of the first dimensions plus noise; the later dimensions are pure noise
// on scales up to 100× larger, which swamp unstandardised distances.
double targetOf(const float* x, double noise) {
    return std::sin(2.0 * x[0]) + 0.5 * x[1] * x[1] / 4.0 + 0.3 * x[2] + noise;
}

std::vector<double> column(const torch::Tensor& t) {
    const auto c = t.to(torch::kDouble).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

nlohmann::json rows(const torch::Tensor& t) {
    nlohmann::json out = nlohmann::json::array();
    const auto c = t.to(torch::kDouble).contiguous();
    for (int64_t i = 0; i < c.size(0); ++i) out.push_back(column(c[i]));
    return out;
}

} // namespace

class TestKnn : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    torch::Tensor reference_, queries_;
    std::vector<double> targets_, truth_;
    nlohmann::json peer_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        torch::manual_seed(42);
        const auto scales = torch::tensor({1.0f, 2.0f, 1.0f, 10.0f, 50.0f, 100.0f});
        reference_ = torch::randn({kReference, kDims}) * scales;
        queries_ = torch::randn({kQueries, kDims}) * scales;
        for (int64_t i = 0; i < kDuplicates; ++i) queries_[i].copy_(reference_[3 + 4 * i]);
        const auto refNoise = 0.1 * torch::randn({kReference});
        const auto qryNoise = 0.1 * torch::randn({kQueries});
        for (int64_t i = 0; i < kReference; ++i)
            targets_.push_back(targetOf(reference_[i].data_ptr<float>(), refNoise[i].item<double>()));
        for (int64_t i = 0; i < kQueries; ++i)
            truth_.push_back(targetOf(queries_[i].data_ptr<float>(), qryNoise[i].item<double>()));

        const QString python = "/usr/bin/python3";
        if (!QFileInfo::exists(python)) QSKIP("/usr/bin/python3 is not available (scikit-learn is the reference)");
        nlohmann::json in{{"reference", rows(reference_)}, {"targets", targets_}, {"queries", rows(queries_)},
                          {"truth", truth_}, {"cases", nlohmann::json::array()}};
        for (const auto& c : kCases)
            in["cases"].push_back({{"name", c.name}, {"k", c.k}, {"standardize", c.standardize},
                                   {"weights", c.distanceWeighted ? "distance" : "uniform"}});
        const QString inPath = dir_.filePath("in.json"), outPath = dir_.filePath("out.json");
        std::ofstream(inPath.toStdString()) << in.dump();
        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(python, {QStringLiteral(KNN_PEER_SCRIPT), inPath, outPath});
        QVERIFY(process.waitForFinished(120000));
        const QString log = QString::fromUtf8(process.readAll());
        if (log.contains("No module named 'sklearn'") || log.contains("No module named 'numpy'"))
            QSKIP("scikit-learn is not installed for /usr/bin/python3 (Debian: python3-sklearn)");
        QVERIFY2(process.exitCode() == 0, qPrintable(log));
        peer_ = nlohmann::json::parse(std::ifstream(outPath.toStdString()));
    }

    void matchesScikitLearn_data() {
        QTest::addColumn<int>("index");
        for (int i = 0; i < int(std::size(kCases)); ++i) QTest::newRow(kCases[i].name) << i;
    }
    void matchesScikitLearn() {
        QFETCH(int, index);
        const auto& c = kCases[index];
        analysis::KnnOptions o;
        o.k = c.k;
        o.standardize = c.standardize;
        o.distanceWeighted = c.distanceWeighted;
        o.queryBlock = c.queryBlock;
        const auto ours = analysis::knnRegress(reference_, targets_, queries_, o);
        const auto theirs = peer_.at(c.name).at("predictions").get<std::vector<double>>();
        QCOMPARE(ours.size(), theirs.size());
        double worst = 0;
        for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(ours[i] - theirs[i]));
        qInfo("%s: max |ours − scikit-learn| = %.3g", c.name, worst);
        // Both work in float64 and find the same neighbours: rounding-level agreement.
        QVERIFY2(worst < 1e-9, qPrintable(QString("prediction differs by %1").arg(worst)));

        // R²: our r2Score on their predictions is their r2_score; on ours, nearly so.
        const double theirR2 = peer_.at(c.name).at("r2").get<double>();
        QVERIFY(std::abs(analysis::r2Score(truth_, theirs) - theirR2) < 1e-12);
        QVERIFY(std::abs(analysis::r2Score(truth_, ours) - theirR2) < 1e-9);
        QVERIFY(theirR2 > -1.0);  // the data are not degenerate
    }

    void standardisingMatters() {
        // With dimensions 100× apart the noise dimensions dominate raw distances: the
        // standardised and raw predictions must differ (else the cases above prove nothing).
        analysis::KnnOptions raw;
        raw.standardize = false;
        const auto a = analysis::knnRegress(reference_, targets_, queries_, {});
        const auto b = analysis::knnRegress(reference_, targets_, queries_, raw);
        QVERIFY(std::abs(analysis::r2Score(truth_, a) - analysis::r2Score(truth_, b)) > 1e-3);
    }

    void exactMatchTakesTheWholeWeight() {
        analysis::KnnOptions o;
        o.distanceWeighted = true;
        const auto predictions = analysis::knnRegress(reference_, targets_, queries_, o);
        for (int64_t i = 0; i < kDuplicates; ++i) QCOMPARE(predictions[size_t(i)], targets_[size_t(3 + 4 * i)]);
    }

    void r2ConventionsForConstantTruth() {
        QCOMPARE(analysis::r2Score({2.0, 2.0, 2.0}, {2.0, 2.0, 2.0}), 1.0);
        QCOMPARE(analysis::r2Score({2.0, 2.0, 2.0}, {2.0, 2.5, 2.0}), 0.0);
        // By hand: truth mean 2, Σ(y − ȳ)² = 2, residual 0.5 → 1 − 0.25.
        QCOMPARE(analysis::r2Score({1.0, 2.0, 3.0}, {1.5, 2.0, 3.5}), 0.75);
    }

    void badInputIsRefused() {
        const auto ref = torch::randn({10, 3});
        const std::vector<double> y(10, 1.0);
        analysis::KnnOptions o;
        o.k = 4;
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnRegress(ref, y, torch::randn({5, 4}), o));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnRegress(ref, std::vector<double>(9, 1.0), ref, o));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnRegress(torch::randn({3, 3}), {1, 2, 3}, ref, o));
        auto withNan = y;
        withNan[4] = std::numeric_limits<double>::quiet_NaN();
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnRegress(ref, withNan, ref, o));
        o.k = 0;
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnRegress(ref, y, ref, o));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::r2Score({1.0}, {1.0}));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::r2Score({1.0, 2.0}, {1.0}));
    }
};

QTEST_GUILESS_MAIN(TestKnn)
#include "tst_knn.moc"
