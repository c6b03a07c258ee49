// SpecFormer masked modelling (core/stages/spectrum_stage.h): the loss counts masked pixels
// only (against a hand computation), masks are chunks where the model can see them, the
// masked input really hides the chunk, the real trainer lowers the loss on galaxy-like spectra
// without collapse, held-out objects never enter, and a resumed run repeats a straight run.
#include "core/common/error.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/dataset/split.h"
#include "core/stages/spectrum_stage.h"
#include "core/train/trainer.h"
#include "stage_test_data.h"

#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

#include <cmath>
#include <set>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

// 486 px → 59 patches of 16 px every 8 px (covering 480 px); a model that trains in seconds.
models::SpecFormer smallSpecFormer(uint64_t seed) {
    models::SpecFormerConfig c;
    c.name = "test";
    c.inputLength = downsampledLength(stagetest::kDownsample);
    c.patchLength = 16;
    c.patchStride = 8;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 2;
    c.maxTokens = 1 + c.numPatches(c.inputLength);
    torch::manual_seed(seed);
    return models::SpecFormer(c);
}

train::TrainParams quickParams(int64_t steps) {
    train::TrainParams p;
    p.steps = steps;
    p.warmupSteps = 5;
    p.lr = 2e-3;
    p.minLr = 1e-4;
    p.weightDecay = 0.01;
    p.beta2 = 0.95;
    p.device = "cpu";
    p.threads = 2;
    p.seed = 17;
    return p;
}

double meanTerm(const std::vector<train::StepMetrics>& h, size_t from, size_t to, const std::string& key) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += h.at(i).terms.count(key) ? h[i].terms.at(key) : h[i].health.at(key);
    return sum / double(to - from);
}

} // namespace

class TestSpectrumStage : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void maskedMseCountsOnlyMaskedPixels() {
        // Unmasked pixels carry huge errors and a NaN: neither may reach the loss or its gradient.
        auto recon = torch::tensor({{1.0f, 2.0f, 100.0f, NAN}, {0.5f, -1.0f, 3.0f, 7.0f}}).requires_grad_(true);
        const auto target = torch::tensor({{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 1.0f, -50.0f, 0.0f}});
        const auto mask = torch::tensor({{true, true, false, false}, {true, true, false, false}});
        // Hand: (1 + 4 + 0.25 + 4) / 4
        const auto loss = maskedMse(recon, target, mask);
        QCOMPARE(loss.item<double>(), (1.0 + 4.0 + 0.25 + 4.0) / 4.0);
        loss.backward();
        const auto grad = recon.grad();
        QVERIFY(torch::isfinite(grad).all().item<bool>());
        QCOMPARE(grad[0][2].item<float>(), 0.0f);
        QCOMPARE(grad[0][3].item<float>(), 0.0f);
        QCOMPARE(grad[1][2].item<float>(), 0.0f);
        QCOMPARE(grad[0][0].item<float>(), float(2 * 1.0 / 4));

        // Weighted: Σ w e² / Σ w over masked pixels only.
        const auto weight = torch::tensor({{1.0f, 3.0f, 1000.0f, 1000.0f}, {2.0f, 0.0f, 1000.0f, 1000.0f}});
        const double expected = (1.0 * 1 + 3.0 * 4 + 2.0 * 0.25 + 0.0 * 4) / (1.0 + 3.0 + 2.0 + 0.0);
        QVERIFY(std::abs(maskedMse(recon.detach(), target, mask, weight).item<double>() - expected) < 1e-6);

        // No masked pixel: zero, not NaN.
        QCOMPARE(maskedMse(recon.detach(), target, torch::zeros_like(mask)).item<double>(), 0.0);
    }

    void defaultChunkWidthScalesWithPatches() {
        QCOMPARE(defaultMaskChunkWidth(models::SpecFormerConfig::preset("full")), int64_t(50));
        QCOMPARE(defaultMaskChunkWidth(models::SpecFormerConfig::preset("tiny")), int64_t(200));
    }

    void chunkMaskIsChunksInsideCoverage() {
        torch::manual_seed(5);
        const int64_t length = 100, covered = 90, width = 7;
        const auto mask = chunkMask(64, length, covered, 3, width);
        QCOMPARE(mask.size(0), int64_t(64));
        QCOMPARE(mask.size(1), length);
        QVERIFY(!mask.narrow(1, covered, length - covered).any().item<bool>());
        const auto perRow = mask.sum(1);
        QVERIFY(perRow.min().item<int64_t>() >= width);
        QVERIFY(perRow.max().item<int64_t>() <= 3 * width);
        // Every run of masked pixels is at least one chunk wide.
        auto acc = mask.accessor<bool, 2>();
        for (int64_t b = 0; b < 64; ++b) {
            int64_t run = 0;
            for (int64_t x = 0; x <= length; ++x) {
                if (x < length && acc[b][x]) { ++run; continue; }
                QVERIFY(run == 0 || run >= width);
                run = 0;
            }
        }
    }

    void maskedInputHidesTheChunk() {
        // Changing a masked pixel's flux by a value that leaves mean and std alone (swapping two
        // masked pixels) must not change the model's output: the chunk is invisible.
        auto model = smallSpecFormer(3);
        model->eval();
        auto snap = stagetest::galaxySnapshot(2, 0, 9);
        const int64_t L = snap->spectrumLength;
        auto flux = torch::from_blob(snap->spectrumFlux.data(), {2, L}, torch::kFloat).clone();
        auto ivar = torch::from_blob(snap->spectrumIvar.data(), {2, L}, torch::kFloat).clone();
        auto mask = torch::zeros({2, L}, torch::kBool);
        mask.narrow(1, 100, 40).fill_(true);
        torch::NoGradGuard noGrad;
        const auto a = maskedModelling(*model, flux, ivar, mask, false);
        auto swapped = flux.clone();
        swapped[0][105] = flux[0][130];
        swapped[0][130] = flux[0][105];
        QVERIFY(swapped[0][105].item<float>() != flux[0][105].item<float>());
        const auto b = maskedModelling(*model, swapped, ivar, mask, false);
        // (Equal up to rounding: the swap reorders the sums behind mean and std.)
        QVERIFY(torch::allclose(a.reconstruction, b.reconstruction, 1e-5, 1e-6));
        // An unmasked swap is seen.
        auto visible = flux.clone();
        visible[0][205] = flux[0][230];
        visible[0][230] = flux[0][205];
        const auto c = maskedModelling(*model, visible, ivar, mask, false);
        QVERIFY(!torch::allclose(a.reconstruction, c.reconstruction, 1e-3, 1e-4));
    }

    void trainingLowersTheMaskedLoss() {
        auto snap = stagetest::galaxySnapshot(160, 0, 21);
        SpectrumStageOptions opts;
        opts.batchSize = 16;
        opts.heldOutFraction = 0.2;
        opts.splitSeed = 4;
        SpectrumStage stage(snap, smallSpecFormer(1), opts);

        // Held-out objects never enter training.
        const auto& rows = stage.split().trainRows;
        QCOMPARE(int64_t(rows.size()) + stage.split().heldOut, int64_t(160));
        QVERIFY(stage.split().heldOut > 10);
        for (auto r : rows) QVERIFY(!isHeldOut(snap->ids[size_t(r)], 0.2, 4));
        const auto prov = stage.provenance();
        QCOMPARE(prov["train_objects"].get<int64_t>(), int64_t(rows.size()));
        QCOMPARE(prov["held_out_objects"].get<int64_t>(), stage.split().heldOut);
        QCOMPARE(stage.config()["mask_chunk_width"].get<int64_t>(), int64_t(40));

        const auto result = train::train(stage, quickParams(80));
        QVERIFY(result.status == train::TrainStatus::Completed);
        QVERIFY(!result.collapsed);
        const auto& h = result.history;
        QCOMPARE(h.size(), size_t(80));
        const double first = meanTerm(h, 0, 5, "loss"), last = meanTerm(h, 75, 80, "loss");
        qInfo("masked loss %.4f → %.4f", first, last);
        QVERIFY2(last < 0.7 * first, "the masked loss did not fall by 30 %");
        QVERIFY(meanTerm(h, 75, 80, "embedding_std") > 1e-2);
    }

    void resumeRepeatsStraightRun() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto snap = stagetest::galaxySnapshot(64, 0, 33);
        SpectrumStageOptions opts;
        opts.batchSize = 8;  // 7 batches per epoch: the stop falls inside the second epoch
        auto params = quickParams(12);

        SpectrumStage straight(snap, smallSpecFormer(2), opts);
        const auto full = train::train(straight, params);

        SpectrumStage first(snap, smallSpecFormer(2), opts);
        auto p1 = params;
        p1.outDir = dir.path().toStdString();
        train::TrainHooks stopAt9;
        stopAt9.progress = [](const train::TrainProgress& p) { return p.step < 9; };
        const auto part = train::train(first, p1, stopAt9);
        QVERIFY(part.status == train::TrainStatus::Cancelled);
        QCOMPARE(part.step, int64_t(9));

        SpectrumStage second(snap, smallSpecFormer(99), opts);  // weights come from the checkpoint
        auto p2 = params;
        p2.resumeFrom = part.lastCheckpoint;
        const auto resumed = train::train(second, p2);
        QCOMPARE(resumed.step, int64_t(12));
        for (size_t i = 9; i < 12; ++i)
            QCOMPARE(resumed.history.at(i).terms.at("loss"), full.history.at(i).terms.at("loss"));
        for (const auto& item : straight.model()->named_parameters())
            QVERIFY(torch::equal(item.value(), second.model()->named_parameters()[item.key()]));
    }

    void rejectsDataThatDoesNotFit() {
        auto snap = stagetest::galaxySnapshot(20, 0, 1);
        auto tiny = models::SpecFormer(models::SpecFormerConfig::preset("tiny"));
        SpectrumStageOptions small;
        small.batchSize = 8;
        SpectrumStage ok(snap, tiny, small);  // 486 px: 11 patches of 80 px, 200-px chunks
        QCOMPARE(ok.maskChunkWidth(), int64_t(200));
        auto noSpectra = std::make_shared<DatasetSnapshot>(*snap);
        noSpectra->spectrumLength = 0;
        QVERIFY_THROWS_EXCEPTION(UsageError, SpectrumStage(noSpectra, tiny, small));
        auto wide = small;
        wide.maskChunkWidth = 1000;
        QVERIFY_THROWS_EXCEPTION(UsageError, SpectrumStage(snap, tiny, wide));
        auto bigBatch = small;
        bigBatch.batchSize = 64;  // more than the ~18 training spectra
        QVERIFY_THROWS_EXCEPTION(UsageError, SpectrumStage(snap, tiny, bigBatch));
    }
};

QTEST_GUILESS_MAIN(TestSpectrumStage)
#include "tst_spectrum_stage.moc"
