// Trainer checkpoints: resuming repeats a straight run bit for bit (weights, AdamW state,
// RNG, data order, extra state, metrics), cancelling leaves a loadable checkpoint, damaged
// checkpoints are refused with a message naming the file, divergence keeps the last good
// checkpoint, and --init loads weights strictly or as a subset.
#include "core/checkpoint/checkpoint.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/train/run_checkpoint.h"
#include "core/train/trainer.h"

#include "train_test_stages.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace astroclip;
using namespace astroclip::train;
using namespace astroclip::train::test;

namespace fs = std::filesystem;

namespace {

TrainParams params(int64_t steps, const QString& outDir) {
    TrainParams p;
    p.steps = steps;
    p.warmupSteps = 2;
    p.lr = 5e-3;
    p.minLr = 1e-4;
    p.weightDecay = 0.05;
    p.gradClip = 1.0;
    p.device = "cpu";
    p.threads = 2;
    p.seed = 42;
    p.outDir = outDir.toStdString();
    return p;
}

std::unique_ptr<Stage> makeStage(const QString& kind) {
    if (kind == "regression") return std::make_unique<RegressionStage>(RegressionOptions{.dropout = 0.3});
    return std::make_unique<FrozenBackboneStage>();
}

int64_t stepOf(const std::string& dir, const std::string& name) {
    return loadCheckpoint(dir, name).info["step"].get<int64_t>();
}

} // namespace

class TestTrainCheckpoint : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void resumeIsBitExact_data();
    void resumeIsBitExact();
    void cancelLeavesCheckpoint();
    void damagedCheckpointIsRefused_data();
    void damagedCheckpointIsRefused();
    void divergenceKeepsLastGoodCheckpoint();
    void initLoadsWeightsOnly();
    void initSubsetAndPrefixes();
};

void TestTrainCheckpoint::resumeIsBitExact_data() {
    QTest::addColumn<QString>("stage");
    QTest::addColumn<int>("accumulate");
    QTest::newRow("regression with dropout") << "regression" << 1;
    QTest::newRow("regression, 2 micro-batches") << "regression" << 2;
    QTest::newRow("frozen backbone with extra state") << "frozen" << 1;
}

void TestTrainCheckpoint::resumeIsBitExact() {
    QFETCH(QString, stage);
    QFETCH(int, accumulate);
    QTemporaryDir straightDir, resumedDir;

    auto straightStage = makeStage(stage);
    auto p = params(8, straightDir.path());
    p.accumulate = accumulate;
    p.checkpointEvery = 4;
    const auto straight = train::train(*straightStage, p);
    QCOMPARE(straight.step, int64_t(8));

    auto resumedStage = makeStage(stage);
    p.outDir = resumedDir.path().toStdString();
    p.resumeFrom = straightDir.path().toStdString() + "/checkpoint-4";
    p.seed = 999;  // a resumed run takes its random state from the checkpoint, not the seed
    const auto resumed = train::train(*resumedStage, p);
    QCOMPARE(resumed.step, int64_t(8));
    QCOMPARE(resumed.history.size(), std::size_t(8));

    const auto a = readRunCheckpoint(straightDir.path().toStdString() + "/checkpoint-8");
    const auto b = readRunCheckpoint(resumedDir.path().toStdString() + "/checkpoint-8");
    QCOMPARE(a.tensors.size(), b.tensors.size());
    int optimizerEntries = 0;
    for (const auto& [name, tensor] : a.tensors) {
        QVERIFY2(b.tensors.count(name), name.c_str());
        QVERIFY2(torch::equal(tensor, b.tensors.at(name)), ("differs after resume: " + name).c_str());
        optimizerEntries += name.rfind("optim.", 0) == 0;
    }
    QVERIFY(optimizerEntries >= 6);
    QCOMPARE(a.info["data_state"], b.info["data_state"]);
    QCOMPARE(a.info["metrics"], b.info["metrics"]);
    // The live modules agree too, not only what was written.
    const auto live1 = straightStage->modules().front().module->parameters();
    const auto live2 = resumedStage->modules().front().module->parameters();
    for (std::size_t i = 0; i < live1.size(); ++i) QVERIFY(torch::equal(live1[i], live2[i]));
}

void TestTrainCheckpoint::cancelLeavesCheckpoint() {
    QTemporaryDir dir;
    const std::string out = dir.path().toStdString();
    RegressionStage stage;
    TrainHooks hooks;
    hooks.progress = [](const TrainProgress& p) { return p.step < 3; };
    auto p = params(10, dir.path());
    p.checkpointEvery = 5;
    const auto result = train::train(stage, p, hooks);
    QCOMPARE(result.status, TrainStatus::Cancelled);
    QCOMPARE(result.step, int64_t(3));
    QCOMPARE(result.lastCheckpoint, out + "/checkpoint-3");
    QCOMPARE(stepOf(out, "checkpoint-3"), int64_t(3));
    QCOMPARE(stepOf(out, "last"), int64_t(3));
    QCOMPARE(loadCheckpoint(out, "last").info["weights"]["sha256"],
             loadCheckpoint(out, "checkpoint-3").info["weights"]["sha256"]);
    QVERIFY(!fs::exists(out + "/checkpoint-5.json"));
    // No temporary files are left behind.
    for (const auto& entry : fs::directory_iterator(out))
        QVERIFY2(entry.path().filename().string()[0] != '.', entry.path().c_str());

    // And the run continues from it.
    RegressionStage again;
    p.resumeFrom = out + "/last";
    const auto finished = train::train(again, p);
    QCOMPARE(finished.status, TrainStatus::Completed);
    QCOMPARE(finished.step, int64_t(10));
    QCOMPARE(stepOf(out, "last"), int64_t(10));
    QCOMPARE(stepOf(out, "checkpoint-5"), int64_t(5));
}

void TestTrainCheckpoint::damagedCheckpointIsRefused_data() {
    QTest::addColumn<QString>("damage");
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("flipped byte") << "flip" << "checkpoint-4.safetensors" << "checksum";
    QTest::newRow("truncated") << "truncate" << "checkpoint-4.safetensors" << "size recorded";
    QTest::newRow("weights missing") << "remove" << "checkpoint-4.safetensors" << "weights file is missing";
    QTest::newRow("JSON of another checkpoint") << "swap-json" << "checkpoint-4.json" << "mixed up";
    QTest::newRow("JSON of another stage") << "stage" << "checkpoint-4.json" << "written by stage 'test-other'";
    QTest::newRow("JSON without step") << "no-step" << "checkpoint-4.json" << "no valid \"step\"";
    QTest::newRow("not a training checkpoint") << "kind" << "checkpoint-4.json" << "not a training checkpoint";
}

void TestTrainCheckpoint::damagedCheckpointIsRefused() {
    QFETCH(QString, damage);
    QFETCH(QString, file);
    QFETCH(QString, fragment);
    QTemporaryDir dir;
    const std::string out = dir.path().toStdString();
    {
        RegressionStage stage;
        auto p = params(4, dir.path());
        p.checkpointEvery = 2;
        train::train(stage, p);
    }
    const std::string weights = out + "/checkpoint-4.safetensors";
    const std::string info = out + "/checkpoint-4.json";
    auto editJson = [&](const std::function<void(nlohmann::json&)>& edit) {
        nlohmann::json j = nlohmann::json::parse(std::ifstream(info));
        edit(j);
        std::ofstream(info) << j.dump(2);
    };
    if (damage == "flip") {
        std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(fs::file_size(weights) / 2));
        char byte = 0;
        f.read(&byte, 1);
        f.seekp(static_cast<std::streamoff>(fs::file_size(weights) / 2));
        byte = static_cast<char>(byte ^ 0x40);
        f.write(&byte, 1);
    } else if (damage == "truncate") {
        fs::resize_file(weights, fs::file_size(weights) - 64);
    } else if (damage == "remove") {
        fs::remove(weights);
    } else if (damage == "swap-json") {
        fs::copy_file(out + "/checkpoint-2.json", info, fs::copy_options::overwrite_existing);
    } else if (damage == "stage") {
        editJson([](nlohmann::json& j) { j["stage"] = "test-other"; });
    } else if (damage == "no-step") {
        editJson([](nlohmann::json& j) { j.erase("step"); });
    } else if (damage == "kind") {
        editJson([](nlohmann::json& j) { j.erase("kind"); });
    }

    RegressionStage stage;
    auto p = params(8, dir.path());
    p.resumeFrom = out + "/checkpoint-4";
    try {
        train::train(stage, p);
        QFAIL("a damaged checkpoint was accepted");
    } catch (const FileError& e) {
        QVERIFY2(QString::fromStdString(e.path()).endsWith(file), e.what());
        QVERIFY2(QString(e.what()).contains(fragment), e.what());
    }
}

void TestTrainCheckpoint::divergenceKeepsLastGoodCheckpoint() {
    QTemporaryDir dir;
    const std::string out = dir.path().toStdString();
    RegressionStage stage({.nanAtStep = 6});
    auto p = params(10, dir.path());
    p.checkpointEvery = 5;
    std::vector<StepMetrics> sunk;
    TrainHooks hooks;
    hooks.metrics = [&](const StepMetrics& m) { sunk.push_back(m); };
    try {
        train::train(stage, p, hooks);
        QFAIL("a NaN loss did not stop the run");
    } catch (const TrainingDiverged& e) {
        QCOMPARE(e.step(), int64_t(7));
        QCOMPARE(e.term(), std::string("loss term 'loss'"));
        QCOMPARE(e.lastGoodCheckpoint(), out + "/checkpoint-5");
        QVERIFY2(QString(e.what()).contains("checkpoint-5"), e.what());
    }
    QCOMPARE(sunk.size(), std::size_t(6));
    QCOMPARE(stepOf(out, "checkpoint-5"), int64_t(5));
    QCOMPARE(stepOf(out, "last"), int64_t(5));
    QVERIFY(!fs::exists(out + "/checkpoint-6.json") && !fs::exists(out + "/checkpoint-7.json"));
    const auto good = readRunCheckpoint(out + "/last");
    for (const auto& [name, tensor] : good.tensors)
        if (tensor.is_floating_point()) QVERIFY2(torch::isfinite(tensor).all().item<bool>(), name.c_str());
}

void TestTrainCheckpoint::initLoadsWeightsOnly() {
    QTemporaryDir dir;
    const std::string out = dir.path().toStdString();
    RegressionStage trained;
    train::train(trained, params(6, dir.path()));

    RegressionOptions other;
    other.initSeed = 1234;
    RegressionStage fresh(other);
    QVERIFY(!torch::equal(fresh.model->fc1->weight, trained.model->fc1->weight));
    const auto report = initWeights(fresh, out + "/last");
    QCOMPARE(report.loaded.size(), std::size_t(4));
    QVERIFY(report.kept.empty());
    QVERIFY(torch::equal(fresh.model->fc1->weight, trained.model->fc1->weight));
    QVERIFY(torch::equal(fresh.model->fc2->bias, trained.model->fc2->bias));

    // A run started from --init weights is a fresh run: step 0, new optimizer state.
    QTemporaryDir second;
    const auto result = train::train(fresh, params(3, second.path()));
    QCOMPARE(result.history.size(), std::size_t(3));
    QCOMPARE(readRunCheckpoint(result.lastCheckpoint).tensors.at("optim.step.mlp.fc1.weight").item<int64_t>(),
             int64_t(3));

    // Strict init refuses weights of another stage, naming what is missing.
    FrozenBackboneStage otherStage;
    try {
        initWeights(otherStage, out + "/last");
        QFAIL("weights of another stage were accepted");
    } catch (const models::WeightsMismatch& e) {
        QVERIFY2(QString(e.what()).contains("head.weight"), e.what());
        QVERIFY2(QString(e.what()).contains("mlp.fc1.weight"), e.what());
    }
}

void TestTrainCheckpoint::initSubsetAndPrefixes() {
    QTemporaryDir dir;
    const std::string file = dir.path().toStdString() + "/backbone.safetensors";
    FrozenBackboneStage source(0.5, /*seed=*/77);
    // An encoder's own state dict: names without the stage's "backbone." prefix.
    models::writeStateDict(file, models::exportStateDict(*source.model->backbone));

    FrozenBackboneStage target;
    const auto headBefore = target.model->head->weight.detach().clone();
    QVERIFY(!torch::equal(target.model->backbone[0]->as<torch::nn::Linear>()->weight,
                          source.model->backbone[0]->as<torch::nn::Linear>()->weight));

    // Strict over the whole stage: the head is missing from the file.
    try {
        initWeights(target, file, {.allowSubset = false, .filePrefix = "", .stagePrefix = "backbone."});
    } catch (...) {
        QFAIL("strict init under a stage prefix must accept exactly that part");
    }
    const auto sourceParams = source.model->backbone->parameters();
    const auto targetParams = target.model->backbone->parameters();
    for (std::size_t i = 0; i < sourceParams.size(); ++i) QVERIFY(torch::equal(sourceParams[i], targetParams[i]));
    QVERIFY(torch::equal(target.model->head->weight, headBefore));
    QVERIFY_THROWS_EXCEPTION(models::WeightsMismatch, initWeights(target, file));

    // Subset mode: backbone loaded, head kept, nothing ignored once prefixed.
    FrozenBackboneStage subset;
    const auto report = initWeights(subset, file, {.allowSubset = true, .stagePrefix = "backbone."});
    QCOMPARE(report.loaded.size(), std::size_t(4));
    QVERIFY(report.kept.empty());  // only stage tensors under the prefix are considered
    QVERIFY(report.ignored.empty());
    QVERIFY_THROWS_EXCEPTION(FileError, initWeights(subset, file, {.allowSubset = true}));  // no name matches

    // A fine-tuning start: a file with the backbone under the stage's names and tensors the
    // stage does not have; the head keeps its initialisation.
    models::StateDict mixed;
    for (const auto& [name, tensor] : models::exportStateDict(*source.model->backbone)) mixed["backbone." + name] = tensor;
    mixed["teacher.head.weight"] = torch::ones({3, 3});
    const std::string mixedFile = dir.path().toStdString() + "/mixed.safetensors";
    models::writeStateDict(mixedFile, mixed);
    FrozenBackboneStage fineTune;
    const auto fineTuneHead = fineTune.model->head->weight.detach().clone();
    const auto mixedReport = initWeights(fineTune, mixedFile, {.allowSubset = true});
    QCOMPARE(mixedReport.loaded.size(), std::size_t(4));
    QCOMPARE(mixedReport.kept, (std::vector<std::string>{"head.weight", "head.bias"}));
    QCOMPARE(mixedReport.ignored, std::vector<std::string>{"teacher.head.weight"});
    QVERIFY(torch::equal(fineTune.model->head->weight, fineTuneHead));

    // Shapes must agree even in subset mode.
    const std::string wrongFile = dir.path().toStdString() + "/wrong.safetensors";
    models::writeStateDict(wrongFile, {{"head.weight", torch::zeros({2, 8})}});
    try {
        initWeights(fineTune, wrongFile, {.allowSubset = true});
        QFAIL("a wrongly shaped tensor was accepted");
    } catch (const models::WeightsMismatch& e) {
        QVERIFY2(QString(e.what()).contains("shape of head.weight"), e.what());
    }
}

QTEST_GUILESS_MAIN(TestTrainCheckpoint)
#include "tst_train_checkpoint.moc"
