// The training core on a GPU (label gpu): every stage makes optimizer steps on CUDA under bf16
// autocast with page-locked batches (the image stage's made ahead on a worker thread); the encoders give the CPU's outputs for the
// same weights; fp32 training steps follow the CPU's; checkpoints move between the devices in
// both directions. Skips without CUDA (gpu_device.h).
//
// Tolerances: fp32 forward passes 1e-4 absolute (outputs of a final LayerNorm, order 1; the
// devices sum in different orders, and TF32 is switched off); the first fp32 training loss
// 1e-4 relative; losses after a few AdamW steps 2e-2 relative, because Adam's normalised
// update turns rounding in near-zero gradients into visible parameter differences.
#include "core/dataset/spectrum_arrays.h"
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/stages/clip_stage.h"
#include "core/stages/image_stage.h"
#include "core/stages/spectrum_stage.h"
#include "core/stages/supervised_stage.h"
#include "core/train/run_checkpoint.h"
#include "core/train/trainer.h"
#include "tests/gpu/gpu_device.h"
#include "tests/stages/stage_test_data.h"

#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <memory>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

constexpr int kCrop = 32;

models::ViTConfig smallViTConfig() {
    models::ViTConfig c;
    c.name = "gpu-test";
    c.imageSize = kCrop;
    c.patchSize = 4;
    c.embedDim = 64;
    c.depth = 2;
    c.numHeads = 2;
    return c;
}

models::SpecFormerConfig smallSpecFormerConfig() {
    models::SpecFormerConfig c;
    c.name = "gpu-test";
    c.inputLength = downsampledLength(stagetest::kDownsample);
    c.patchLength = 16;
    c.patchStride = 8;
    c.embedDim = 48;
    c.depth = 2;
    c.numHeads = 2;
    c.maxTokens = 1 + c.numPatches(c.inputLength);
    return c;
}

std::shared_ptr<DatasetSnapshot> snapshotWithRedshift(int n, uint64_t seed) {
    auto snap = stagetest::galaxySnapshot(n, kCrop, seed);
    auto& z = snap->columns["z"];
    for (int i = 0; i < n; ++i) z.push_back(0.01 * (i % 50));
    return snap;
}

train::TrainParams params(c10::Device device, int64_t steps, bool bf16) {
    train::TrainParams p;
    p.steps = steps;
    p.warmupSteps = 1;
    p.lr = 1e-3;
    p.weightDecay = 0.05;
    p.device = device.str();
    p.mixedPrecision = bf16;
    p.threads = 2;
    p.seed = 3;
    return p;
}

// A fresh stage of the named kind, the same weights and data each time for the same seed.
std::unique_ptr<train::Stage> makeStage(const QString& kind, uint64_t seed) {
    torch::manual_seed(int64_t(seed));
    if (kind == "image") {
        ImageStageConfig config;
        config.vit = smallViTConfig();
        config.dinoHead = {128, 32, 64};
        config.batchSize = 16;
        config.globalCropSize = 24;
        config.localCrops = 4;
        config.localCropSize = 12;
        config.seed = seed;
        auto snap = stagetest::galaxySnapshot(48, kCrop, seed);
        const auto images = torch::from_blob(snap->images.data(), {48, 3, kCrop, kCrop}, torch::kFloat).clone();
        return std::make_unique<ImageStage>(config, images);
    }
    if (kind == "spectrum") {
        SpectrumStageOptions options;
        options.batchSize = 16;
        options.heldOutFraction = 0.1;
        return std::make_unique<SpectrumStage>(stagetest::galaxySnapshot(64, 0, seed),
                                               models::SpecFormer(smallSpecFormerConfig()), options);
    }
    if (kind == "clip") {
        ClipStageOptions options;
        options.batchSize = 16;
        options.embedDim = 32;
        options.headNumHeads = 2;
        options.initSeed = seed;
        return std::make_unique<ClipStage>(stagetest::galaxySnapshot(64, kCrop, seed),
                                           models::VisionTransformer(smallViTConfig()),
                                           models::SpecFormer(smallSpecFormerConfig()), options);
    }
    SupervisedStageOptions options;
    options.target = "z";
    options.batchSize = 16;
    options.augment = true;
    return std::make_unique<SupervisedStage>(snapshotWithRedshift(64, seed),
                                             models::VisionTransformer(smallViTConfig()), options);
}

double relativeDifference(double a, double b) { return std::abs(a - b) / std::max(1e-12, std::abs(b)); }

} // namespace

class TestGpuTraining : public QObject {
    Q_OBJECT

    c10::Device device_{c10::kCPU};

private Q_SLOTS:
    void initTestCase() {
        const auto device = gputest::deviceUnderTest();
        if (!device) QSKIP(gputest::kNoGpuMessage);
        device_ = *device;
    }

    void everyStageTrainsOnTheDevice_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("image DINO + iBOT") << "image";
        QTest::newRow("spectrum masked modelling") << "spectrum";
        QTest::newRow("CLIP alignment") << "clip";
        QTest::newRow("supervised ViT") << "supervised";
    }
    void everyStageTrainsOnTheDevice() {
        QFETCH(QString, kind);
        auto stage = makeStage(kind, 11);
        // The first parameter that trains (CLIP's backbones are frozen).
        const auto firstTrained = [&] {
            for (const auto& group : stage->parameterGroups())
                if (!group.frozen && !group.parameters.empty()) return group.parameters.front().tensor;
            return torch::Tensor();
        };
        const auto before = firstTrained().detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
        train::TrainProgress last;
        train::TrainHooks hooks;
        hooks.progress = [&](const train::TrainProgress& p) {
            last = p;
            return true;
        };
        const auto result = train::train(*stage, params(device_, 4, /*bf16=*/true), hooks);
        QVERIFY(result.status == train::TrainStatus::Completed);
        QCOMPARE(QString::fromStdString(result.device), QString::fromStdString(device_.str()));
        QCOMPARE(result.history.size(), size_t(4));
        for (const auto& step : result.history) QVERIFY(std::isfinite(step.terms.at("loss")));
        for (const auto& named : stage->modules())
            for (const auto& p : named.module->parameters()) QCOMPARE(p.device().type(), device_.type());
        const auto after = firstTrained().detach().to(torch::kCPU);
        QVERIFY2(!torch::equal(before, after), "the first trained parameter did not change");
        QCOMPARE(QString::fromStdString(last.memoryKind), QString(device_.is_cuda() ? "CUDA" : "RSS"));
        QVERIFY(last.peakMemoryBytes > 0);
    }

    void encodersGiveTheCpuOutputs_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("ViT") << "vit";
        QTest::newRow("SpecFormer") << "specformer";
    }
    void encodersGiveTheCpuOutputs() {
        QFETCH(QString, model);
        torch::NoGradGuard noGrad;
        std::vector<std::pair<std::string, torch::Tensor>> cpu, device;
        // The same seed before each construction gives both copies the same weights.
        if (model == "vit") {
            torch::manual_seed(5);
            models::VisionTransformer onCpu(smallViTConfig());
            torch::manual_seed(5);
            models::VisionTransformer onDevice(smallViTConfig());
            onCpu->eval();
            onDevice->to(device_);
            onDevice->eval();
            const auto images = torch::randn({6, 3, kCrop, kCrop});
            const auto a = onCpu->forward(images), b = onDevice->forward(images.to(device_));
            cpu = {{"cls", a.cls}, {"patches", a.patches}};
            device = {{"cls", b.cls}, {"patches", b.patches}};
        } else {
            torch::manual_seed(5);
            models::SpecFormer onCpu(smallSpecFormerConfig());
            torch::manual_seed(5);
            models::SpecFormer onDevice(smallSpecFormerConfig());
            onCpu->eval();
            onDevice->to(device_);
            onDevice->eval();
            const auto flux = 1.0 + torch::rand({6, smallSpecFormerConfig().inputLength});
            const auto a = onCpu->forward(flux), b = onDevice->forward(flux.to(device_));
            cpu = {{"tokens", a.tokens}, {"reconstruction", a.reconstruction}};
            device = {{"tokens", b.tokens}, {"reconstruction", b.reconstruction}};
        }
        for (size_t i = 0; i < cpu.size(); ++i) {
            const double diff = (cpu[i].second - device[i].second.to(torch::kCPU)).abs().max().item<double>();
            qInfo("%s: max |cpu − %s| = %.3g", cpu[i].first.c_str(), device_.str().c_str(), diff);
            QVERIFY2(diff <= 1e-4, cpu[i].first.c_str());
        }
    }

    void fp32TrainingFollowsTheCpu() {
        auto onCpu = makeStage("spectrum", 21);
        auto onDevice = makeStage("spectrum", 21);
        const auto a = train::train(*onCpu, params(c10::Device(c10::kCPU), 3, false));
        const auto b = train::train(*onDevice, params(device_, 3, false));
        QCOMPARE(b.history.size(), size_t(3));
        for (size_t i = 0; i < 3; ++i) {
            const double diff = relativeDifference(b.history[i].terms.at("loss"), a.history[i].terms.at("loss"));
            qInfo("step %zu: loss cpu %.8g, %s %.8g (relative difference %.2g)", i + 1, a.history[i].terms.at("loss"),
                  device_.str().c_str(), b.history[i].terms.at("loss"), diff);
            QVERIFY(diff <= (i == 0 ? 1e-4 : 2e-2));
        }
    }

    void checkpointsMoveBetweenDevices_data() {
        QTest::addColumn<bool>("fromDevice");
        QTest::newRow("device → CPU") << true;
        QTest::newRow("CPU → device") << false;
    }
    void checkpointsMoveBetweenDevices() {
        QFETCH(bool, fromDevice);
        const c10::Device cpu(c10::kCPU);
        const c10::Device first = fromDevice ? device_ : cpu, second = fromDevice ? cpu : device_;
        QTemporaryDir dir;
        QVERIFY(dir.isValid());

        // A 5-step run stopped after step 3 (the schedule is the 5-step one), moved, finished.
        auto stage = makeStage("image", 31);
        auto p = params(first, 5, /*bf16=*/false);
        p.outDir = dir.path().toStdString();
        train::TrainHooks stopAfter3;
        stopAfter3.progress = [](const train::TrainProgress& progress) { return progress.step < 3; };
        const auto firstPart = train::train(*stage, p, stopAfter3);
        QVERIFY(firstPart.status == train::TrainStatus::Cancelled);
        QCOMPARE(firstPart.lastCheckpoint, train::checkpointPath(p.outDir, 3));

        // The file holds the weights the run ended with, whatever device they were on.
        const auto saved = train::readRunCheckpoint(firstPart.lastCheckpoint);
        for (const auto& named : stage->modules())
            for (const auto& item : named.module->named_parameters(true)) {
                const auto it = saved.tensors.find(named.prefix + item.key());
                QVERIFY2(it != saved.tensors.end(), (named.prefix + item.key()).c_str());
                QVERIFY(torch::equal(it->second, item.value().detach().to(torch::kCPU)));
            }

        auto resumed = makeStage("image", 31);
        auto q = params(second, 5, /*bf16=*/false);
        q.outDir = p.outDir;
        q.resumeFrom = firstPart.lastCheckpoint;
        const auto rest = train::train(*resumed, q);
        QVERIFY(rest.status == train::TrainStatus::Completed);
        QCOMPARE(QString::fromStdString(rest.device), QString::fromStdString(second.str()));
        QCOMPARE(rest.history.size(), size_t(5));
        for (size_t i = 0; i < 3; ++i)
            QCOMPARE(rest.history[i].terms.at("loss"), firstPart.history[i].terms.at("loss"));

        // The resumed steps see the batches and schedule a straight run sees: the same losses,
        // up to the devices' rounding when they differ.
        auto straight = makeStage("image", 31);
        const auto whole = train::train(*straight, params(first, 5, false));
        const double tolerance = first == second ? 0.0 : 2e-2;
        for (size_t i = 3; i < 5; ++i) {
            const double diff = relativeDifference(rest.history[i].terms.at("loss"), whole.history[i].terms.at("loss"));
            qInfo("step %zu after the move: relative loss difference %.2g", i + 1, diff);
            QVERIFY(diff <= tolerance);
        }
    }
};

QTEST_GUILESS_MAIN(TestGpuTraining)
#include "tst_gpu_training.moc"
