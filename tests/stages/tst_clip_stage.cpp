// CLIP alignment (core/stages/clip_stage.h): the symmetric InfoNCE against a hand computation,
// the match rank, and the real trainer aligning small heads over frozen random backbones on
// galaxy-like objects whose images and spectra share redshift and colour: the loss falls, the
// backbones keep their weights and get no optimizer state, the embeddings do not collapse.
#include "core/common/error.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/stages/clip_stage.h"
#include "core/train/run_checkpoint.h"
#include "core/train/trainer.h"
#include "stage_test_data.h"

#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

#include <cmath>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

constexpr int kCrop = 16;

models::VisionTransformer smallViT(uint64_t seed) {
    models::ViTConfig c;
    c.name = "test";
    c.imageSize = kCrop;
    c.patchSize = 4;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 2;
    torch::manual_seed(seed);
    return models::VisionTransformer(c);
}

models::SpecFormer smallSpecFormer(uint64_t seed) {
    models::SpecFormerConfig c;
    c.name = "test";
    c.inputLength = downsampledLength(stagetest::kDownsample);
    c.patchLength = 16;
    c.patchStride = 8;
    c.embedDim = 24;
    c.depth = 2;
    c.numHeads = 2;
    c.maxTokens = 1 + c.numPatches(c.inputLength);
    torch::manual_seed(seed);
    return models::SpecFormer(c);
}

ClipStageOptions smallOptions() {
    ClipStageOptions o;
    o.batchSize = 16;
    o.embedDim = 32;
    o.headNumHeads = 2;
    o.heldOutFraction = 0.1;
    o.splitSeed = 2;
    o.samplerSeed = 3;
    o.initSeed = 4;
    return o;
}

train::TrainParams quickParams(int64_t steps) {
    train::TrainParams p;
    p.steps = steps;
    p.warmupSteps = 5;
    p.lr = 2e-3;
    p.minLr = 1e-4;
    p.weightDecay = 0.05;
    p.device = "cpu";
    p.threads = 2;
    p.seed = 8;
    return p;
}

// Symmetric InfoNCE in plain doubles: normalise rows, logits = s·a·bᵀ, mean of the row-wise
// and column-wise cross-entropies against the diagonal.
double handInfoNce(std::vector<std::vector<double>> a, std::vector<std::vector<double>> b, double s) {
    const size_t n = a.size();
    for (auto* m : {&a, &b})
        for (auto& row : *m) {
            double norm = 0;
            for (double v : row) norm += v * v;
            for (double& v : row) v /= std::sqrt(norm);
        }
    std::vector<std::vector<double>> logits(n, std::vector<double>(n));
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double dot = 0;
            for (size_t k = 0; k < a[i].size(); ++k) dot += a[i][k] * b[j][k];
            logits[i][j] = s * dot;
        }
    double rows = 0, cols = 0;
    for (size_t i = 0; i < n; ++i) {
        double sr = 0, sc = 0;
        for (size_t j = 0; j < n; ++j) {
            sr += std::exp(logits[i][j]);
            sc += std::exp(logits[j][i]);
        }
        rows += std::log(sr) - logits[i][i];
        cols += std::log(sc) - logits[i][i];
    }
    return 0.5 * (rows / double(n) + cols / double(n));
}

torch::Tensor toTensor(const std::vector<std::vector<double>>& m) {
    auto t = torch::empty({int64_t(m.size()), int64_t(m[0].size())}, torch::kDouble);
    for (size_t i = 0; i < m.size(); ++i)
        for (size_t j = 0; j < m[i].size(); ++j) t[int64_t(i)][int64_t(j)] = m[i][j];
    return t;
}

std::map<std::string, torch::Tensor> cloneParameters(torch::nn::Module& module) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : module.named_parameters()) out[item.key()] = item.value().detach().clone();
    return out;
}

} // namespace

class TestClipStage : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void infoNceMatchesHandComputation_data() {
        QTest::addColumn<double>("scale");
        QTest::newRow("scale 1") << 1.0;
        QTest::newRow("AstroCLIP 15.5") << 15.5;
    }
    void infoNceMatchesHandComputation() {
        QFETCH(double, scale);
        const std::vector<std::vector<double>> a{{1, 0, 0}, {0.6, 0.8, 0}, {0, 1, 1}};
        const std::vector<std::vector<double>> b{{1, 1, 0}, {0, 1, 0}, {0.2, 0, 2}};
        const double expected = handInfoNce(a, b, scale);
        const double got = clipLoss(toTensor(a), toTensor(b), torch::full({}, scale, torch::kDouble)).item<double>();
        QVERIFY2(std::abs(got - expected) < 1e-12, qPrintable(QString("%1 vs %2").arg(got).arg(expected)));
        // Not symmetric in its arguments' roles unless the logits are: swapping a and b
        // transposes the logits, which leaves the symmetric loss unchanged.
        const double swapped = clipLoss(toTensor(b), toTensor(a), torch::full({}, scale, torch::kDouble)).item<double>();
        QVERIFY(std::abs(swapped - expected) < 1e-12);
    }

    void medianRankCountsBetterMatches() {
        const auto a = toTensor({{1, 0}, {0, 1}, {1, 1}});
        QCOMPARE(medianMatchRank(a, a), 1.0);
        // The first two spectra swapped: images 0 and 1 find their own spectrum last (3rd),
        // image 2 first.
        const auto b = toTensor({{1, -0.1}, {-0.1, 1}, {1, 1}});
        const auto reversed = toTensor({{-0.1, 1}, {1, -0.1}, {1, 1}});
        QCOMPARE(medianMatchRank(b, reversed), 3.0);
    }

    void alignmentLearnsWithFrozenBackbones() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto snap = stagetest::galaxySnapshot(128, kCrop, 12);
        auto vit = smallViT(1);
        auto spec = smallSpecFormer(2);
        const auto vitBefore = cloneParameters(*vit);
        const auto specBefore = cloneParameters(*spec);
        ClipStage stage(snap, vit, spec, smallOptions());
        QCOMPARE(stage.provenance()["held_out_objects"].get<int64_t>(), stage.split().heldOut);

        auto params = quickParams(60);
        params.outDir = dir.path().toStdString();
        const auto result = train::train(stage, params);
        QVERIFY(result.status == train::TrainStatus::Completed);
        QVERIFY(!result.collapsed);
        const auto& h = result.history;
        double first = 0, last = 0, firstRank = 0, lastRank = 0;
        for (size_t i = 0; i < 5; ++i) {
            first += h[i].terms.at("loss") / 5;
            last += h[h.size() - 1 - i].terms.at("loss") / 5;
            firstRank += h[i].health.at("median_rank") / 5;
            lastRank += h[h.size() - 1 - i].health.at("median_rank") / 5;
        }
        qInfo("InfoNCE %.4f → %.4f, median rank %.2f → %.2f", first, last, firstRank, lastRank);
        QVERIFY2(last < 0.8 * first, "the CLIP loss did not fall by 20 %");
        QVERIFY(lastRank < firstRank);
        QVERIFY(h.back().health.at("embedding_std_image") > 1e-3);
        QVERIFY(h.back().health.at("embedding_std_spectrum") > 1e-3);
        QVERIFY(std::abs(h.back().health.at("logit_scale") - 15.5) < 1e-4);  // fixed

        // Frozen: weights unchanged, still in eval mode, no gradients.
        for (const auto& item : vit->named_parameters()) {
            QVERIFY(torch::equal(item.value(), vitBefore.at(item.key())));
            QVERIFY(!item.value().requires_grad());
        }
        for (const auto& item : spec->named_parameters()) QVERIFY(torch::equal(item.value(), specBefore.at(item.key())));
        QVERIFY(!vit->is_training());
        QVERIFY(!spec->is_training());

        // And no optimizer state in the checkpoint for them (nor for the fixed scale); the
        // heads have theirs.
        const auto saved = train::readRunCheckpoint(result.lastCheckpoint);
        int headState = 0;
        for (const auto& [name, tensor] : saved.tensors) {
            if (name.rfind("optim.", 0) != 0) continue;
            QVERIFY2(name.find(".backbone.") == std::string::npos, name.c_str());
            QVERIFY2(name.find("clip.log_scale") == std::string::npos, name.c_str());
            if (name.find(".head.") != std::string::npos) ++headState;
        }
        QVERIFY(headState > 0);
        QVERIFY(saved.tensors.count("image.backbone.cls_token"));
    }

    void learnedScaleMoves() {
        auto snap = stagetest::galaxySnapshot(40, kCrop, 5);
        auto options = smallOptions();
        options.learnLogitScale = true;
        options.logitScale = 1.0;
        ClipStage stage(snap, smallViT(1), smallSpecFormer(2), options);
        auto params = quickParams(6);
        params.warmupSteps = 1;
        params.lr = 5e-2;
        train::train(stage, params);
        QVERIFY(std::abs(stage.logitScale()->log_scale.item<double>()) > 1e-3);
    }

    void rejectsUnsuitableSnapshots() {
        auto spectraOnly = stagetest::galaxySnapshot(20, 0, 1);
        QVERIFY_THROWS_EXCEPTION(UsageError, ClipStage(spectraOnly, smallViT(1), smallSpecFormer(2), smallOptions()));
        auto oddCrop = stagetest::galaxySnapshot(20, 10, 1);  // 10 px is no multiple of 4-px patches
        auto options = smallOptions();
        options.batchSize = 4;
        QVERIFY_THROWS_EXCEPTION(UsageError, ClipStage(oddCrop, smallViT(1), smallSpecFormer(2), options));
        options.logitScale = -1;
        QVERIFY_THROWS_EXCEPTION(UsageError, ClipStage(stagetest::galaxySnapshot(20, kCrop, 1), smallViT(1),
                                                       smallSpecFormer(2), options));
    }
};

QTEST_GUILESS_MAIN(TestClipStage)
#include "tst_clip_stage.moc"
