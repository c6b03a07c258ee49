// The training loop on small real stages: learning happens, the schedule and the group
// multipliers reach AdamW, clipping bounds the gradient, accumulation equals a big batch,
// frozen parameters stay frozen, weight decay follows the DINOv2 convention, collapse is
// flagged, and bad requests are refused.
#include "core/train/optimizer.h"
#include "core/train/run_checkpoint.h"
#include "core/train/trainer.h"

#include "train_test_stages.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <numbers>

using namespace astroclip;
using namespace astroclip::train;
using namespace astroclip::train::test;

namespace {

TrainParams quickParams(int64_t steps) {
    TrainParams p;
    p.steps = steps;
    p.warmupSteps = std::min<int64_t>(5, steps - 1);
    p.lr = 1e-2;
    p.minLr = 1e-4;
    p.weightDecay = 0.01;
    p.device = "cpu";
    p.threads = 2;
    p.seed = 3;
    return p;
}

double mean(const std::vector<StepMetrics>& history, std::size_t from, std::size_t to, const char* term) {
    double sum = 0;
    for (std::size_t i = from; i < to; ++i) sum += history.at(i).terms.at(term);
    return sum / static_cast<double>(to - from);
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> out;
    for (const auto& t : tensors) out.push_back(t.detach().clone());
    return out;
}

} // namespace

class TestTrainer : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void lossFallsAndProgressIsReported();
    void scheduleValues_data();
    void scheduleValues();
    void groupLearningRateReachesAdamW();
    void gradientClippingBoundsNorm_data();
    void gradientClippingBoundsNorm();
    void accumulationEqualsBigBatch_data();
    void accumulationEqualsBigBatch();
    void frozenParametersStayUntouched();
    void decayRule_data();
    void decayRule();
    void collapseIsFlagged();
    void badRequestsAreRefused_data();
    void badRequestsAreRefused();
};

void TestTrainer::lossFallsAndProgressIsReported() {
    RegressionStage stage({.dropout = 0.1});
    auto params = quickParams(200);
    std::vector<TrainProgress> reports;
    std::vector<StepMetrics> sunk;
    TrainHooks hooks;
    hooks.progress = [&](const TrainProgress& p) {
        reports.push_back(p);
        return true;
    };
    hooks.metrics = [&](const StepMetrics& m) { sunk.push_back(m); };
    const auto result = train::train(stage, params, hooks);

    QCOMPARE(result.status, TrainStatus::Completed);
    QCOMPARE(result.step, int64_t(200));
    QCOMPARE(result.device, std::string("cpu"));
    QVERIFY(result.lastCheckpoint.empty());  // no outDir, no files
    QCOMPARE(result.history.size(), std::size_t(200));
    QCOMPARE(sunk.size(), std::size_t(200));
    const double first = mean(result.history, 0, 5, "mse");
    const double last = mean(result.history, 190, 200, "mse");
    qInfo("mse: first 5 steps %.4f, last 10 steps %.4f", first, last);
    QVERIFY2(last < 0.25 * first, "the regression loss must fall to under a quarter of its start");

    QCOMPARE(reports.size(), std::size_t(200));
    for (std::size_t i = 0; i < reports.size(); ++i) QCOMPARE(reports[i].step, int64_t(i + 1));
    const auto& r = reports.back();
    QCOMPARE(r.totalSteps, int64_t(200));
    QVERIFY(r.terms.count("loss") && r.terms.count("mse"));
    QVERIFY(r.health.count("embedding_std"));
    QVERIFY(r.stepsPerSecond > 0);
    QVERIFY(std::abs(r.samplesPerSecond - 32 * r.stepsPerSecond) < 1e-6 * r.samplesPerSecond);
    QCOMPARE(r.etaSeconds, 0.0);
    QVERIFY(reports[100].etaSeconds > 0);
    QCOMPARE(r.memoryKind, std::string("RSS"));
    QVERIFY(r.peakMemoryBytes > 1'000'000);
    QCOMPARE(r.device, std::string("cpu"));
    QCOMPARE(sunk[41].terms.at("loss"), result.history[41].terms.at("loss"));
}

void TestTrainer::scheduleValues_data() {
    QTest::addColumn<qint64>("step");
    QTest::addColumn<double>("expected");
    // steps 110, warm-up 10, peak 1e-3, final 1e-5 — values worked out by hand.
    QTest::newRow("first warm-up step") << qint64(0) << 1e-4;
    QTest::newRow("middle of warm-up") << qint64(4) << 5e-4;
    QTest::newRow("last warm-up step") << qint64(9) << 1e-3;
    QTest::newRow("cosine start") << qint64(10) << 1e-3;
    QTest::newRow("quarter of cosine") << qint64(35) << 1e-5 + 0.5 * 0.99e-3 * (1 + std::sqrt(0.5));
    QTest::newRow("half of cosine") << qint64(60) << 5.05e-4;
    QTest::newRow("last step") << qint64(109) << 1e-5 + 0.5 * 0.99e-3 * (1 + std::cos(std::numbers::pi * 0.99));
}

void TestTrainer::scheduleValues() {
    QFETCH(qint64, step);
    QFETCH(double, expected);
    TrainParams p;
    p.steps = 110;
    p.warmupSteps = 10;
    p.lr = 1e-3;
    p.minLr = 1e-5;
    QVERIFY(std::abs(scheduledLr(p, step) - expected) < 1e-15);

    // And the trainer reports that value for the step it makes.
    if (step < 12) {
        RegressionStage stage;
        p.steps = 110;
        p.device = "cpu";
        p.threads = 2;
        std::vector<double> lrs;
        TrainHooks hooks;
        hooks.progress = [&](const TrainProgress& progress) {
            lrs.push_back(progress.lr);
            return progress.step < step + 1;  // stop once the step in question is made
        };
        train::train(stage, p, hooks);
        QCOMPARE(lrs.size(), std::size_t(step + 1));
        QCOMPARE(lrs.back(), scheduledLr(p, step));
    }
}

void TestTrainer::groupLearningRateReachesAdamW() {
    // With zero gradients AdamW only decays: w ← w (1 − lr_group · wd) per step, where
    // lr_group = schedule × multiplier. Three steps through warm-up and cosine.
    DecayProbeStage stage(/*lrMultiplier=*/0.5);
    std::map<std::string, torch::Tensor> initial;
    for (const auto& item : stage.model->named_parameters()) initial[item.key()] = item.value().detach().clone();
    const auto before = initial.at("proj.weight");
    TrainParams p = quickParams(3);
    p.warmupSteps = 1;
    p.lr = 0.1;
    p.minLr = 0.01;
    p.weightDecay = 0.5;
    train::train(stage, p);
    double factor = 1;
    for (int64_t s = 0; s < 3; ++s) factor *= 1 - scheduledLr(p, s) * 0.5 * p.weightDecay;
    const auto expected = before * factor;
    QVERIFY2(torch::allclose(stage.model->proj->weight, expected, 1e-6, 0),
             "decayed weight does not match the per-group learning rate");
    // Biases, norms, layer scales and tokens are not decayed: with zero gradient they stay.
    for (const auto& item : stage.model->named_parameters())
        if (item.key() != "proj.weight") QVERIFY2(torch::equal(item.value(), initial.at(item.key())), item.key().c_str());
}

void TestTrainer::gradientClippingBoundsNorm_data() {
    QTest::addColumn<double>("clip");
    QTest::newRow("off") << 0.0;
    QTest::newRow("0.5") << 0.5;
    QTest::newRow("5") << 5.0;
}

void TestTrainer::gradientClippingBoundsNorm() {
    QFETCH(double, clip);
    RegressionStage stage({.lossScale = 1000.0});
    auto p = quickParams(6);
    p.gradClip = clip;
    const auto result = train::train(stage, p);
    QCOMPARE(stage.gradNormAfterStep.size(), std::size_t(6));
    for (std::size_t i = 0; i < 6; ++i) {
        const double before = result.history[i].gradNorm;  // what backward produced
        const double used = stage.gradNormAfterStep[i];    // what AdamW consumed
        QVERIFY2(before > 5.0, "the scaled loss must give gradients above every clip value");
        if (clip > 0)
            QVERIFY2(used <= clip * (1 + 1e-5) && used > clip * 0.999, qPrintable(QString::number(used)));
        else
            QVERIFY(std::abs(used - before) <= 1e-4 * before);
    }
}

void TestTrainer::accumulationEqualsBigBatch_data() {
    QTest::addColumn<int>("microBatches");
    QTest::newRow("2 x 16") << 2;
    QTest::newRow("4 x 8") << 4;
    QTest::newRow("8 x 4") << 8;
}

void TestTrainer::accumulationEqualsBigBatch() {
    QFETCH(int, microBatches);
    RegressionStage accumulated({.batchSize = 32 / microBatches, .dropout = 0.0});
    RegressionStage big({.batchSize = 32, .dropout = 0.0});
    auto p = quickParams(4);
    p.lr = 1e-3;
    p.gradClip = 1.0;
    p.accumulate = microBatches;
    const auto a = train::train(accumulated, p);
    p.accumulate = 1;
    const auto b = train::train(big, p);
    const auto pa = accumulated.model->parameters();
    const auto pb = big.model->parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) {
        const double diff = (pa[i] - pb[i]).abs().max().item<double>();
        QVERIFY2(diff < 1e-6, qPrintable(QString("parameter %1 differs by %2").arg(i).arg(diff)));
    }
    for (int s = 0; s < 4; ++s)
        QVERIFY(std::abs(a.history[s].terms.at("loss") - b.history[s].terms.at("loss")) < 1e-6);
}

void TestTrainer::frozenParametersStayUntouched() {
    QTemporaryDir dir;
    FrozenBackboneStage stage;
    const auto backboneBefore = clones(stage.model->backbone->parameters());
    const auto headBefore = clones(stage.model->head->parameters());
    auto p = quickParams(5);
    p.outDir = dir.path().toStdString();
    train::train(stage, p);

    const auto backbone = stage.model->backbone->parameters();
    for (std::size_t i = 0; i < backbone.size(); ++i) {
        QVERIFY(torch::equal(backbone[i], backboneBefore[i]));
        QVERIFY(!backbone[i].requires_grad());
        QVERIFY(!backbone[i].grad().defined());
    }
    const auto head = stage.model->head->parameters();
    for (std::size_t i = 0; i < head.size(); ++i) QVERIFY(!torch::equal(head[i], headBefore[i]));

    const auto saved = readRunCheckpoint(dir.path().toStdString() + "/checkpoint-5");
    for (const auto& [name, tensor] : saved.tensors) {
        if (name.rfind("optim.", 0) == 0)
            QVERIFY2(name.find("backbone") == std::string::npos, name.c_str());
    }
    for (const char* name : {"optim.exp_avg.head.weight", "optim.exp_avg_sq.head.bias", "optim.step.head.weight",
                             "backbone.0.weight", "backbone.1.bias", "extra.seen", "rng.torch_cpu"})
        QVERIFY2(saved.tensors.count(name), name);
    QCOMPARE(saved.tensors.at("optim.step.head.weight").item<int64_t>(), int64_t(5));
    QVERIFY(torch::equal(saved.tensors.at("backbone.1.weight"), backboneBefore[2]));
    // The description lists the groups AdamW got: the head only, weights decayed, bias not.
    const auto& groups = saved.info["optimizer"]["groups"];
    QCOMPARE(groups.size(), std::size_t(2));
    QCOMPARE(groups[0]["name"].get<std::string>(), std::string("head"));
    QCOMPARE(groups[0]["lr_multiplier"].get<double>(), 0.5);
    QCOMPARE(groups[1]["parameters"][0].get<std::string>(), std::string("head.bias"));
}

void TestTrainer::decayRule_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<bool>("decays");
    QTest::newRow("linear weight") << "blocks.0.attn.qkv.weight" << QList<qint64>{96, 32} << true;
    QTest::newRow("patch conv") << "patch_embed.proj.weight" << QList<qint64>{32, 3, 8, 8} << true;
    QTest::newRow("position table") << "pos_embed" << QList<qint64>{1, 17, 32} << true;
    QTest::newRow("bias") << "blocks.0.attn.qkv.bias" << QList<qint64>{96} << false;
    QTest::newRow("norm weight") << "blocks.0.norm1.weight" << QList<qint64>{32} << false;
    QTest::newRow("layer scale") << "blocks.0.ls1.gamma" << QList<qint64>{32} << false;
    QTest::newRow("cls token") << "cls_token" << QList<qint64>{1, 1, 32} << false;
    QTest::newRow("register tokens") << "register_tokens" << QList<qint64>{1, 4, 32} << false;
    QTest::newRow("mask token") << "mask_token" << QList<qint64>{1, 32} << false;
    QTest::newRow("scalar") << "logit_scale" << QList<qint64>{} << false;
}

void TestTrainer::decayRule() {
    QFETCH(QString, name);
    QFETCH(QList<qint64>, shape);
    QFETCH(bool, decays);
    std::vector<int64_t> dims(shape.begin(), shape.end());
    QCOMPARE(decaysWeight(name.toStdString(), torch::zeros(dims)), decays);

}

void TestTrainer::collapseIsFlagged() {
    const HealthGuard guard{"embedding_std", 0.02, std::nullopt, 5, /*stopRun=*/true};
    // Minimising the features' energy drives them to zero: a collapse.
    QTemporaryDir dir;
    RegressionStage collapsing({.collapseObjective = true});
    auto p = quickParams(400);
    p.healthGuards = {guard};
    p.outDir = dir.path().toStdString();
    std::vector<std::string> seenWarnings;
    TrainHooks hooks;
    hooks.progress = [&](const TrainProgress& progress) {
        seenWarnings.insert(seenWarnings.end(), progress.warnings.begin(), progress.warnings.end());
        return true;
    };
    const auto result = train::train(collapsing, p, hooks);
    QCOMPARE(result.status, TrainStatus::StoppedOnCollapse);
    QVERIFY(result.collapsed);
    QVERIFY(result.step < 400);
    QCOMPARE(seenWarnings.size(), std::size_t(1));
    QVERIFY2(seenWarnings[0].find("embedding_std") != std::string::npos, seenWarnings[0].c_str());
    for (int64_t s = result.step - 5; s < result.step; ++s)
        QVERIFY(result.history[s].health.at("embedding_std") < 0.02);
    QCOMPARE(result.lastCheckpoint, checkpointPath(p.outDir, result.step));
    QVERIFY(readRunCheckpoint(result.lastCheckpoint).info["collapsed"].get<bool>());

    // The same guard on a healthy regression never fires.
    RegressionStage healthy;
    p.steps = 100;
    p.outDir.clear();
    const auto fine = train::train(healthy, p);
    QCOMPARE(fine.status, TrainStatus::Completed);
    QVERIFY(!fine.collapsed);
    QVERIFY(fine.warnings.empty());
}

void TestTrainer::badRequestsAreRefused_data() {
    QTest::addColumn<QString>("what");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("zero steps") << "steps=0" << "steps must be positive";
    QTest::newRow("warm-up too long") << "warmup=steps" << "warm-up steps";
    QTest::newRow("no accumulation") << "accumulate=0" << "accumulation";
    QTest::newRow("final above peak") << "minLr>lr" << "final learning rate";
    QTest::newRow("unknown device") << "device=tpu" << "unknown device 'tpu'";
    QTest::newRow("guard without bound") << "guard" << "neither floor nor ceiling";
    if (!torch::cuda::is_available()) QTest::newRow("cuda without GPU") << "device=cuda" << "no CUDA GPU";
}

void TestTrainer::badRequestsAreRefused() {
    QFETCH(QString, what);
    QFETCH(QString, fragment);
    auto p = quickParams(10);
    if (what == "steps=0") p.steps = 0;
    if (what == "warmup=steps") p.warmupSteps = 10;
    if (what == "accumulate=0") p.accumulate = 0;
    if (what == "minLr>lr") p.minLr = 1.0;
    if (what == "device=tpu") p.device = "tpu";
    if (what == "device=cuda") p.device = "cuda";
    if (what == "guard") p.healthGuards = {HealthGuard{"embedding_std", std::nullopt, std::nullopt, 3, false}};
    RegressionStage stage;
    try {
        train::train(stage, p);
        QFAIL("accepted");
    } catch (const UsageError& e) {
        QVERIFY2(QString(e.what()).contains(fragment), e.what());
    }
}

QTEST_GUILESS_MAIN(TestTrainer)
#include "tst_trainer.moc"
