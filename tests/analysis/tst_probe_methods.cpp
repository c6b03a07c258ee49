// The probes' methods (core/analysis: ridge.h, knn.h's classifier, mlp_probe.h) against
// scikit-learn (probe_peer.py run by /usr/bin/python3) on the same vectors: RidgeCV's chosen
// alpha and predictions, RidgeClassifierCV's classes, KNeighborsClassifier's classes with
// uniform and distance votes. The MLP head has no exact peer: it must beat the linear probe
// on a target a linear model cannot fit, and repeat itself for a seed.
#include "core/analysis/knn.h"
#include "core/analysis/mlp_probe.h"
#include "core/analysis/ridge.h"
#include "core/common/error.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

using namespace astroclip;

namespace {

constexpr int64_t kTrain = 300, kQueries = 120, kDims = 8, kClasses = 3;
const std::vector<double> kAlphas = {1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3};

nlohmann::json rows(const torch::Tensor& t) {
    nlohmann::json out = nlohmann::json::array();
    const auto c = t.to(torch::kDouble).contiguous();
    for (int64_t i = 0; i < c.size(0); ++i) out.push_back(std::vector<double>(c[i].data_ptr<double>(), c[i].data_ptr<double>() + kDims));
    return out;
}

std::vector<double> values(const torch::Tensor& t) {
    const auto c = t.to(torch::kDouble).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// A mostly linear target with noise (ridge has something to regularise), and classes by the
// sign pattern of two directions.
torch::Tensor linearTarget(const torch::Tensor& x) {
    return x.matmul(torch::linspace(-1.0, 1.0, kDims, torch::kDouble)) + 0.3 * torch::randn({x.size(0)}, torch::kDouble);
}
std::vector<int64_t> classesOf(const torch::Tensor& x) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < x.size(0); ++i) {
        const double a = x[i][0].item<double>() + 0.2 * x[i][3].item<double>(), b = x[i][1].item<double>();
        out.push_back(a < -0.3 ? 0 : (b < 0.2 ? 1 : 2));
    }
    return out;
}

} // namespace

class TestProbeMethods : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    torch::Tensor x_, queries_;
    std::vector<double> y_;
    std::vector<int64_t> labels_;
    nlohmann::json peer_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        torch::manual_seed(5);
        const auto scales = torch::tensor({1.0, 1.0, 3.0, 0.5, 2.0, 1.0, 4.0, 1.0}, torch::kDouble);
        x_ = torch::randn({kTrain, kDims}, torch::kDouble) * scales;
        queries_ = torch::randn({kQueries, kDims}, torch::kDouble) * scales;
        y_ = values(linearTarget(x_));
        labels_ = classesOf(x_);

        const QString python = "/usr/bin/python3";
        nlohmann::json in{{"x", rows(x_)}, {"y", y_}, {"labels", labels_}, {"queries", rows(queries_)},
                          {"alphas", kAlphas},
                          {"knn", {{{"name", "knn_uniform_k15"}, {"k", 15}, {"weights", "uniform"}},
                                   {{"name", "knn_distance_k7"}, {"k", 7}, {"weights", "distance"}}}}};
        const QString inPath = dir_.filePath("in.json"), outPath = dir_.filePath("out.json");
        std::ofstream(inPath.toStdString()) << in.dump();
        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(python, {QStringLiteral(PROBE_PEER_SCRIPT), inPath, outPath});
        QVERIFY(process.waitForFinished(120000));
        const QString log = QString::fromUtf8(process.readAll());
        if (process.error() == QProcess::FailedToStart || log.contains("No module named"))
            QSKIP("scikit-learn is not installed for /usr/bin/python3 (Debian: python3-sklearn)");
        QVERIFY2(process.exitCode() == 0, qPrintable(log));
        peer_ = nlohmann::json::parse(std::ifstream(outPath.toStdString()));
    }

    void ridgeMatchesRidgeCV() {
        analysis::RidgeOptions o;
        o.alphas = kAlphas;
        const auto model = analysis::fitRidgeCV(x_, torch::tensor(y_, torch::kDouble), o);
        QCOMPARE(model.alpha, peer_["ridge"]["alpha"].get<double>());
        const auto ours = values(model.predict(queries_));
        const auto theirs = peer_["ridge"]["predictions"].get<std::vector<double>>();
        double worst = 0;
        for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(ours[i] - theirs[i]));
        qInfo("RidgeCV: alpha %g, max |ours − scikit-learn| = %.3g", model.alpha, worst);
        QVERIFY2(worst < 1e-9, qPrintable(QString::number(worst)));
    }

    void ridgeClassifierMatchesRidgeClassifierCV() {
        analysis::RidgeOptions o;
        o.alphas = kAlphas;
        auto targets = torch::full({kTrain, kClasses}, -1.0, torch::kDouble);
        for (int64_t i = 0; i < kTrain; ++i) targets[i][labels_[size_t(i)]] = 1.0;
        const auto model = analysis::fitRidgeCV(x_, targets, o);
        QCOMPARE(model.alpha, peer_["ridge_classifier"]["alpha"].get<double>());
        const auto best = model.predict(queries_).argmax(1).contiguous();
        const std::vector<int64_t> ours(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel());
        QCOMPARE(ours, peer_["ridge_classifier"]["predictions"].get<std::vector<int64_t>>());
    }

    void knnClassifierMatchesScikitLearn_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("distance");
        QTest::newRow("uniform k15") << "knn_uniform_k15" << 15 << false;
        QTest::newRow("distance k7") << "knn_distance_k7" << 7 << true;
    }
    void knnClassifierMatchesScikitLearn() {
        QFETCH(QString, name);
        QFETCH(int, k);
        QFETCH(bool, distance);
        analysis::KnnOptions o;
        o.k = k;
        o.standardize = false;  // scikit-learn's classifier sees the raw vectors here
        o.distanceWeighted = distance;
        o.queryBlock = 50;
        const auto ours = analysis::knnClassify(x_, labels_, kClasses, queries_, o);
        QCOMPARE(ours, peer_[name.toStdString()]["predictions"].get<std::vector<int64_t>>());
        const auto truth = classesOf(queries_);
        const double accuracy = analysis::accuracyScore(truth, ours);
        qInfo("%s: accuracy %.3f", qPrintable(name), accuracy);
        // Above chance (≈ 0.33), though raw distances are dominated by the wide noise dimensions.
        QVERIFY(accuracy > 0.45);
    }

    void mlpFitsWhatALinearProbeCannot() {
        // y = |x0| + x1²/2: symmetric, so its best linear fit is nearly flat.
        const auto target = [](const torch::Tensor& x) {
            return x.select(1, 0).abs() + 0.5 * x.select(1, 1).pow(2) + 0.05 * torch::randn({x.size(0)}, torch::kDouble);
        };
        torch::manual_seed(11);
        const auto x = torch::randn({800, kDims}, torch::kDouble), q = torch::randn({300, kDims}, torch::kDouble);
        const auto y = values(target(x)), truth = values(target(q));
        const auto linear = analysis::fitRidgeCV(x, torch::tensor(y, torch::kDouble));
        const double linearR2 = analysis::r2Score(truth, values(linear.predict(q)));
        analysis::MlpProbeOptions o;
        o.epochs = 60;
        o.seed = 3;
        const auto first = analysis::mlpRegress(x, y, q, o);
        const double mlpR2 = analysis::r2Score(truth, first);
        qInfo("nonlinear target: ridge R2 %.3f, MLP R2 %.3f", linearR2, mlpR2);
        QVERIFY(linearR2 < 0.2);
        QVERIFY(mlpR2 > linearR2 + 0.4);
        QCOMPARE(analysis::mlpRegress(x, y, q, o), first);  // same seed, same head

        // Classification: probabilities sum to one, the argmax is mostly right.
        const auto probabilities = analysis::mlpClassify(x_, labels_, kClasses, queries_, o);
        QCOMPARE(probabilities.size(1), kClasses);
        QVERIFY(torch::allclose(probabilities.sum(1), torch::ones({kQueries}, torch::kDouble)));
        const auto best = probabilities.argmax(1).contiguous();
        const double accuracy = analysis::accuracyScore(
            classesOf(queries_), std::vector<int64_t>(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + best.numel()));
        qInfo("MLP classifier accuracy %.3f", accuracy);
        QVERIFY(accuracy > 0.8);
    }

    void badInputIsRefused() {
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::fitRidgeCV(x_, torch::zeros({kTrain - 1}, torch::kDouble)));
        analysis::RidgeOptions negative;
        negative.alphas = {-1.0};
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::fitRidgeCV(x_, torch::tensor(y_, torch::kDouble), negative));
        auto bad = labels_;
        bad[0] = kClasses;
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::knnClassify(x_, bad, kClasses, queries_, {}));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::mlpClassify(x_, labels_, 1, queries_, {}));
        QVERIFY_THROWS_EXCEPTION(UsageError, analysis::accuracyScore({}, {}));
    }
};

QTEST_GUILESS_MAIN(TestProbeMethods)
#include "tst_probe_methods.moc"
