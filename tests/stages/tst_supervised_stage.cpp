// Supervised fine-tuning (core/stages/supervised_stage.h) on synthetic objects whose targets
// are known functions of the input: the width of a galaxy-like blob in the g,r,z cutout
// (regression, with a ViT) and which of three emission lines a spectrum carries
// (classification, with a SpecFormer). The real trainer lowers the loss and the held-out
// score rises clearly; a frozen backbone stays bit-identical; a resumed run repeats a straight
// one; predictions are the head applied to core/embed/encode.h's vectors, un-standardised with
// the training rows' statistics (computed here from split.h independently); NaN targets are
// skipped; bad requests are refused with a reason.
#include "core/common/error.h"
#include "core/dataset/split.h"
#include "core/embed/encode.h"
#include "core/stages/supervised_stage.h"
#include "core/train/trainer.h"

#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

#include <cmath>
#include <random>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

constexpr int kSide = 16;
constexpr int kLength = 192;
constexpr int kLinePixel[3] = {40, 96, 150};

// n objects with 16×16 g,r,z cutouts of a round Gaussian blob whose width is 1 + 2.5·size
// (column "size", uniform in [0, 1]) and whose brightness and colour are nuisances, and
// 192-px spectra with a continuum and one emission line at one of three places (column
// "line", 0/1/2). Every 16th object has both targets null.
std::shared_ptr<DatasetSnapshot> blobSnapshot(int n, uint64_t seed) {
    auto snap = std::make_shared<DatasetSnapshot>();
    snap->catalogPath = "in-memory blob survey";
    snap->params.modality = Modality::Both;
    snap->params.cropSize = kSide;
    snap->params.columns = {"size", "line"};
    snap->counts.selected = snap->counts.loaded = n;
    snap->cropSize = kSide;
    snap->spectrumLength = kLength;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> gauss(0.0, 1.0);
    auto& size = snap->columns["size"];
    auto& line = snap->columns["line"];
    for (int i = 0; i < n; ++i) {
        snap->ids.push_back(i + 1);
        const double t = unit(rng), amp = 0.5 + unit(rng), sigma = 1.0 + 2.5 * t, c = 0.5 * (kSide - 1);
        const int kind = int(rng() % 3);
        const double colour[3] = {0.6 + 0.3 * unit(rng), 1.0, 1.1 + 0.3 * unit(rng)};
        for (int b = 0; b < 3; ++b)
            for (int y = 0; y < kSide; ++y)
                for (int x = 0; x < kSide; ++x) {
                    const double r2 = ((x - c) * (x - c) + (y - c) * (y - c)) / (sigma * sigma);
                    snap->images.push_back(float(amp * colour[b] * std::exp(-0.5 * r2) + 0.01 * gauss(rng)));
                    snap->imageMask.push_back(1);
                }
        snap->bandPresent.insert(snap->bandPresent.end(), {1, 1, 1});
        const double level = 2.0 + 2.0 * unit(rng), slope = unit(rng) - 0.5;
        for (int k = 0; k < kLength; ++k) {
            const double d = (k - kLinePixel[kind]) / 3.0;
            const double f = level * (1.0 + slope * (k - 96) / 96.0) + 2.0 * level * std::exp(-0.5 * d * d);
            snap->spectrumFlux.push_back(float(f + 0.1 * level * gauss(rng)));
            snap->spectrumIvar.push_back(float(1.0 / (0.01 * level * level)));
        }
        const bool missing = i % 16 == 5;
        size.push_back(missing ? NAN : t);
        line.push_back(missing ? NAN : double(kind));
    }
    return snap;
}

models::VisionTransformer testViT(uint64_t seed) {
    models::ViTConfig c;
    c.name = "test";
    c.imageSize = kSide;
    c.patchSize = 4;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 2;
    c.layerScaleInit = 1.0;  // as a pre-trained model's gammas are
    torch::manual_seed(seed);
    return models::VisionTransformer(c);
}

models::SpecFormer testSpecFormer(uint64_t seed) {
    models::SpecFormerConfig c;
    c.name = "test";
    c.inputLength = kLength;
    c.patchLength = 16;
    c.patchStride = 8;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 2;
    c.maxTokens = 1 + c.numPatches(kLength);
    torch::manual_seed(seed);
    return models::SpecFormer(c);
}

train::TrainParams quickParams(int64_t steps, double lr) {
    train::TrainParams p;
    p.steps = steps;
    p.warmupSteps = 5;
    p.lr = lr;
    p.minLr = lr / 20;
    p.weightDecay = 0.01;
    p.device = "cpu";
    p.threads = 1;  // tiny models: one thread beats two on a shared CI machine
    p.seed = 11;
    return p;
}

double meanLoss(const std::vector<train::StepMetrics>& h, size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += h.at(i).terms.at("loss");
    return sum / double(to - from);
}

std::map<std::string, torch::Tensor> copyParameters(const torch::nn::Module& m) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : m.named_parameters(true)) out[item.key()] = item.value().detach().clone();
    return out;
}

template <typename Fn>
QString thrownMessage(Fn&& fn) {
    try {
        fn();
    } catch (const UsageError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

SupervisedStageOptions regressionOptions() {
    SupervisedStageOptions o;
    o.target = "size";
    o.batchSize = 16;
    o.heldOutFraction = 0.25;
    o.splitSeed = 3;
    o.samplerSeed = 8;
    return o;
}

SupervisedStageOptions classificationOptions() {
    auto o = regressionOptions();
    o.target = "line";
    o.task = SupervisedTask::Classification;
    o.head = SupervisedHead::Mlp;
    o.mlpHidden = 32;
    return o;
}

} // namespace

class TestSupervisedStage : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void scoresAgainstHandValues() {
        // ȳ = 2, Σ(y − ȳ)² = 2, Σ(y − ŷ)² = 0.5 → R² = 0.75; non-finite pairs left out.
        QCOMPARE(coefficientOfDetermination({1.5, 2.0, 2.5, 7.0}, {1.0, 2.0, 3.0, NAN}), 0.75);
        QVERIFY(std::isnan(coefficientOfDetermination({1.0, 2.0}, {3.0, 3.0})));
        QCOMPARE(classificationAccuracy({0, 1, 2, 2}, {0, 1, 1, 2}), 0.75);
    }

    void targetsSplitAndStatistics() {
        auto snap = blobSnapshot(96, 1);
        SupervisedStage stage(snap, testViT(1), regressionOptions());
        QCOMPARE(stage.name(), std::string("supervised-regression"));
        // Independent split: training rows are the objects split.h does not hold out, minus
        // those with a null target.
        std::vector<double> train;
        int64_t heldOut = 0, missing = 0;
        for (size_t r = 0; r < snap->size(); ++r) {
            const double y = snap->columns["size"][r];
            if (std::isnan(y)) { ++missing; continue; }
            if (isHeldOut(snap->ids[r], 0.25, 3)) ++heldOut;
            else train.push_back(y);
        }
        QCOMPARE(stage.trainRows().size(), train.size());
        QCOMPARE(int64_t(stage.heldOutRows().size()), heldOut);
        QCOMPARE(missing, int64_t(6));
        for (auto r : stage.trainRows()) QVERIFY(!std::isnan(snap->columns["size"][size_t(r)]));
        double mean = 0, var = 0;
        for (double y : train) mean += y / double(train.size());
        for (double y : train) var += (y - mean) * (y - mean) / double(train.size());
        const auto config = stage.config();
        QVERIFY(std::abs(config["target_mean"].get<double>() - mean) < 1e-12);
        QVERIFY(std::abs(config["target_std"].get<double>() - std::sqrt(var)) < 1e-12);
        QCOMPARE(stage.provenance()["objects_without_target"].get<int64_t>(), missing);

        // A head that outputs a constant b predicts b·std + mean, in target units.
        auto head = stage.head();
        {
            torch::NoGradGuard noGrad;
            for (auto& p : head->parameters()) p.zero_();
            head->named_parameters()["linear.bias"].fill_(1.5);
        }
        const auto predicted = stage.predict({0, 1, 5});
        QCOMPARE(predicted.size(0), int64_t(3));
        for (int i = 0; i < 3; ++i) QVERIFY(std::abs(predicted[i].item<double>() - (1.5 * std::sqrt(var) + mean)) < 1e-6);

        // Classification: the classes are the column's distinct values, probabilities softmax.
        SupervisedStage classify(snap, testSpecFormer(1), classificationOptions());
        QCOMPARE(classify.name(), std::string("supervised-classification"));
        QCOMPARE(classify.config()["classes"], nlohmann::json({0.0, 1.0, 2.0}));
        {
            torch::NoGradGuard noGrad;
            for (auto& p : classify.head()->parameters()) p.zero_();
            classify.head()->named_parameters()["fc2.bias"].copy_(torch::tensor({0.0f, 1.0f, 2.0f}));
        }
        const auto probabilities = classify.predict({2, 3});
        const auto expected = torch::softmax(torch::tensor({0.0, 1.0, 2.0}, torch::kDouble), 0);
        QVERIFY(torch::allclose(probabilities[0], expected, 1e-6, 1e-7));
        QCOMPARE(classify.predictValues({2}).at(0), 2.0);
    }

    void predictionsUseTheEncodedVectors() {
        // With a random linear head W, b: prediction = (W·v + b)·std + mean, v from encode.h.
        auto snap = blobSnapshot(40, 2);
        auto vit = testViT(4);
        SupervisedStage images(snap, vit, regressionOptions());
        const std::vector<int64_t> rows = {0, 3, 7, 11, 30};
        const auto all = torch::from_blob(snap->images.data(), {int64_t(snap->size()), 3, kSide, kSide}, torch::kFloat);
        const auto v = embed::encodeImages(*vit, all.index_select(0, torch::tensor(rows)), {}, {});
        auto check = [&](SupervisedStage& stage, const torch::Tensor& vectors) {
            const auto params = stage.head()->named_parameters();
            const auto w = params["linear.weight"].detach().to(torch::kDouble);
            const auto b = params["linear.bias"].detach().to(torch::kDouble);
            const auto expected = (vectors.to(torch::kDouble).matmul(w.t()) + b).squeeze(1) * stage.targetStd() +
                                  stage.targetMean();
            QVERIFY(torch::allclose(stage.predict(rows, 2), expected, 1e-5, 1e-6));
        };
        check(images, v);

        auto spec = testSpecFormer(5);
        SupervisedStage spectra(snap, spec, regressionOptions());
        const auto flux = torch::from_blob(snap->spectrumFlux.data(), {int64_t(snap->size()), kLength}, torch::kFloat);
        check(spectra, embed::encodeSpectra(*spec, flux.index_select(0, torch::tensor(rows)), {}));
    }

    void regressionLearnsTheBlobWidth() {
        auto snap = blobSnapshot(256, 3);
        auto options = regressionOptions();
        options.finetune = FineTuneOptions::parseFreeze("last:1");
        options.finetune.layerDecay = 0.8;
        SupervisedStage stage(snap, testViT(2), options);
        const auto before = stage.evaluateHeldOut();
        QCOMPARE(before.metric, std::string("r2"));
        QVERIFY(before.objects > 40);
        const auto result = train::train(stage, quickParams(100, 2e-3));
        QVERIFY(result.status == train::TrainStatus::Completed);
        QVERIFY(!result.collapsed);
        const auto after = stage.evaluateHeldOut();
        const double first = meanLoss(result.history, 0, 10), last = meanLoss(result.history, 90, 100);
        qInfo("loss %.3f → %.3f, held-out R² %.3f → %.3f", first, last, before.value, after.value);
        QVERIFY2(last < 0.3 * first, "the loss did not fall to under 30 %");
        QVERIFY2(after.value > 0.8 && after.value > before.value + 0.5, "held-out R² did not rise clearly");
    }

    void classificationLearnsTheLine() {
        auto snap = blobSnapshot(256, 4);
        auto options = classificationOptions();
        SupervisedStage stage(snap, testSpecFormer(3), options);
        const auto before = stage.evaluateHeldOut();
        QCOMPARE(before.metric, std::string("accuracy"));
        const auto result = train::train(stage, quickParams(120, 2e-3));
        QVERIFY(result.status == train::TrainStatus::Completed);
        const auto after = stage.evaluateHeldOut();
        const double first = meanLoss(result.history, 0, 10), last = meanLoss(result.history, 110, 120);
        qInfo("loss %.3f → %.3f, held-out accuracy %.3f → %.3f", first, last, before.value, after.value);
        QVERIFY2(last < 0.5 * first, "the loss did not halve");
        QVERIFY2(after.value > 0.9 && after.value > before.value + 0.3, "held-out accuracy did not rise clearly");
    }

    void frozenBackboneStaysBitIdentical_data() {
        QTest::addColumn<bool>("image");
        QTest::newRow("vit") << true;
        QTest::newRow("specformer") << false;
    }

    void frozenBackboneStaysBitIdentical() {
        QFETCH(bool, image);
        auto snap = blobSnapshot(64, 5);
        auto options = image ? regressionOptions() : classificationOptions();
        options.finetune = FineTuneOptions::parseFreeze("all");
        options.augment = image;
        auto vit = testViT(6);
        auto spec = testSpecFormer(6);
        std::unique_ptr<SupervisedStage> stage = image ? std::make_unique<SupervisedStage>(snap, vit, options)
                                                       : std::make_unique<SupervisedStage>(snap, spec, options);
        const auto backboneBefore = copyParameters(*stage->backbone());
        const auto headBefore = copyParameters(*stage->head());
        const auto result = train::train(*stage, quickParams(20, 5e-3));
        QVERIFY(result.status == train::TrainStatus::Completed);
        for (const auto& item : stage->backbone()->named_parameters(true)) {
            QVERIFY2(torch::equal(item.value().detach(), backboneBefore.at(item.key())), item.key().c_str());
            QVERIFY(!item.value().requires_grad());
        }
        QVERIFY(!stage->backbone()->is_training());
        for (const auto& item : stage->head()->named_parameters(true))
            QVERIFY2(!torch::equal(item.value().detach(), headBefore.at(item.key())), item.key().c_str());
        QVERIFY(meanLoss(result.history, 15, 20) < meanLoss(result.history, 0, 5));
    }

    void resumeRepeatsStraightRun() {
        // Augmented images: the augmentation RNG must resume too.
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto snap = blobSnapshot(64, 6);
        auto options = regressionOptions();
        options.batchSize = 8;  // 5 batches per epoch: the stop falls inside the second
        options.augment = true;
        options.head = SupervisedHead::Mlp;
        options.mlpHidden = 16;
        const auto params = quickParams(10, 1e-3);

        SupervisedStage straight(snap, testViT(7), options);
        const auto full = train::train(straight, params);

        SupervisedStage first(snap, testViT(7), options);
        auto p1 = params;
        p1.outDir = dir.path().toStdString();
        train::TrainHooks stopAt7;
        stopAt7.progress = [](const train::TrainProgress& p) { return p.step < 7; };
        const auto part = train::train(first, p1, stopAt7);
        QVERIFY(part.status == train::TrainStatus::Cancelled);
        QCOMPARE(part.step, int64_t(7));

        SupervisedStage second(snap, testViT(99), options);  // weights come from the checkpoint
        auto p2 = params;
        p2.resumeFrom = part.lastCheckpoint;
        const auto resumed = train::train(second, p2);
        QCOMPARE(resumed.step, int64_t(10));
        for (size_t i = 7; i < 10; ++i)
            QCOMPARE(resumed.history.at(i).terms.at("loss"), full.history.at(i).terms.at("loss"));
        const auto a = straight.backbone()->named_parameters(true), b = second.backbone()->named_parameters(true);
        for (const auto& item : a) QVERIFY2(torch::equal(item.value(), b[item.key()]), item.key().c_str());
        QVERIFY(torch::equal(straight.predict({0, 1, 2}), second.predict({0, 1, 2})));
    }

    void refusesBadRequests() {
        auto snap = blobSnapshot(48, 7);
        auto o = regressionOptions();
        o.target = "redshift";
        auto m = thrownMessage([&] { SupervisedStage(snap, testViT(1), o); });
        QVERIFY2(m.contains("'redshift'") && m.contains("line, size"), qPrintable(m));

        auto constant = std::make_shared<DatasetSnapshot>(*snap);
        std::fill(constant->columns["size"].begin(), constant->columns["size"].end(), 0.5);
        m = thrownMessage([&] { SupervisedStage(constant, testViT(1), regressionOptions()); });
        QVERIFY2(m.contains("one value"), qPrintable(m));

        auto continuous = std::make_shared<DatasetSnapshot>(*snap);
        continuous->columns["size"].assign(snap->size(), 0.0);
        for (size_t i = 0; i < snap->size(); ++i) continuous->columns["size"][i] = double(i % 7);
        auto c = classificationOptions();
        c.target = "size";
        SupervisedStage seven(continuous, testSpecFormer(1), c);  // 7 classes are fine
        QCOMPARE(seven.classes().size(), size_t(7));
        auto many = std::make_shared<DatasetSnapshot>(*blobSnapshot(kMaxClasses + 20, 8));
        m = thrownMessage([&] { SupervisedStage(many, testSpecFormer(1), c); });
        QVERIFY2(m.contains("continuous"), qPrintable(m));

        auto spectraOnly = std::make_shared<DatasetSnapshot>(*snap);
        spectraOnly->cropSize = 0;
        spectraOnly->images.clear();
        m = thrownMessage([&] { SupervisedStage(spectraOnly, testViT(1), regressionOptions()); });
        QVERIFY2(m.contains("needs images"), qPrintable(m));

        auto deep = regressionOptions();
        deep.finetune = FineTuneOptions::parseFreeze("last:3");
        m = thrownMessage([&] { SupervisedStage(snap, testViT(1), deep); });
        QVERIFY2(m.contains("last:3"), qPrintable(m));

        QVERIFY(thrownMessage([] { parseSupervisedTask("ranking"); }).contains("'ranking'"));
        QVERIFY(parseSupervisedHead("mlp") == SupervisedHead::Mlp);
    }
};

QTEST_GUILESS_MAIN(TestSupervisedStage)
#include "tst_supervised_stage.moc"
