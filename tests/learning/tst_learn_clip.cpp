// "Learning is real" for CLIP alignment (core/stages/clip_stage.h): alignment heads trained
// on two thirds of a simulated survey over frozen backbones must pair held-out images with
// their own spectra far better than the same heads at their initialisation (same seed). The
// figure is the median rank of an image's true spectrum among all held-out spectra (~1,000 at
// once, chance ≈ 500), from embed::encodeImages/encodeSpectra through the heads.
//
// Backbones: the SpecFormer that tst_learn_spectrum pre-trained (fixture learned_spectrum)
// and the tiny ViT whose teacher tst_learn_image trained by self-distillation (fixture
// learned_image), as AstroCLIP aligns its two pre-trained encoders.
//
// The margin is what this run reaches (deterministic for the seeds and thread count), reduced
// for safety. The backbones are checked to stay frozen. Built twice: the default budget
// (integration, ~1.5 minutes on two cores: 60 steps of 32 pairs over the spectrum backbone of
// the default tst_learn_spectrum, spectra downsampled 4×) and, with ASTROCLIP_LEARN_SLOW
// (label slow), 300 steps over the full-grid backbone of tst_learn_spectrum_slow.
#include "core/embed/encode.h"
#include "core/models/torch_safetensors.h"
#include "core/stages/clip_stage.h"
#include "core/stages/image_augment.h"
#include "core/train/trainer.h"
#include "learning_support.h"

#include <QElapsedTimer>
#include <QtTest>

#include <torch/torch.h>

#include <filesystem>

using namespace astroclip;
using namespace astroclip::learntest;

namespace {

struct Budget {
    int spectrumDownsample;  // as the spectrum backbone was trained
    int64_t steps;
    int64_t warmupSteps;
    double minRankGain;  // random-head median rank − trained-head median rank must exceed this
    const char* spectrumBackboneFile;
    const char* imageBackboneFile;
};
#ifdef ASTROCLIP_LEARN_SLOW
constexpr Budget kBudget{1, 300, 30, 250.0, "spectrum-backbone-slow.safetensors", "image-backbone-slow.safetensors"};
#else
constexpr Budget kBudget{4, 60, 6, 200.0, "spectrum-backbone.safetensors", "image-backbone.safetensors"};
#endif
constexpr int64_t kBatchSize = 32;

struct HeldOutPairs {
    torch::Tensor images;
    torch::Tensor spectra;
};

double heldOutMedianRank(models::VisionTransformer& vit, models::SpecFormer& specformer,
                         stages::ClipStage& stage, const HeldOutPairs& pairs) {
    embed::EncodeOptions options;
    options.batchSize = 64;
    const auto imageEmb = embed::encodeImages(*vit, pairs.images, {}, options, stage.imageHead().get());
    const auto spectrumEmb = embed::encodeSpectra(*specformer, pairs.spectra, options, stage.spectrumHead().get());
    return stages::medianMatchRank(imageEmb, spectrumEmb);
}

} // namespace

class TestLearnClip : public QObject {
    Q_OBJECT

    std::shared_ptr<const DatasetSnapshot> snapshot_;
    std::string spectrumBackbonePath_;
    std::string imageBackbonePath_;

private Q_SLOTS:
    void initTestCase() {
        torch::set_num_threads(trainingThreads());
        std::string whyNot;
        snapshot_ = loadSurveySnapshot(kBudget.spectrumDownsample, &whyNot);
        if (!snapshot_) QSKIP(whyNot.c_str());
        spectrumBackbonePath_ = workDir() + "/" + kBudget.spectrumBackboneFile;
        imageBackbonePath_ = workDir() + "/" + kBudget.imageBackboneFile;
        for (const auto& path : {spectrumBackbonePath_, imageBackbonePath_})
            if (!std::filesystem::exists(path))
                QSKIP(qPrintable(QString::fromStdString(path) +
                                 " does not exist: the spectrum and image learning tests write them (run them "
                                 "through ctest)"));
    }

    void alignmentPairsHeldOutObjects() {
        QElapsedTimer total;
        total.start();
        models::VisionTransformer vit(models::ViTConfig::preset("tiny"));
        models::importStateDict(*vit, models::readStateDict(imageBackbonePath_), "self-distilled tiny ViT");
        models::SpecFormer specformer(tinySpecFormerConfig(kBudget.spectrumDownsample));
        models::importStateDict(*specformer, models::readStateDict(spectrumBackbonePath_), "pre-trained tiny SpecFormer");

        stages::ClipStageOptions options;
        options.batchSize = kBatchSize;
        options.embedDim = 128;
        options.headNumHeads = 4;
        options.heldOutFraction = kHeldOutFraction;
        options.splitSeed = kSplitSeed;
        options.samplerSeed = 3;
        options.initSeed = 13;
        // What encodeImages applies too, so training and evaluation see the same inputs.
        options.imagePreprocess = [](const torch::Tensor& images) { return stages::normalizeNanomaggies(images); };
        options.imagePreprocessName = "asinh-nanomaggies";
        stages::ClipStage stage(snapshot_, vit, specformer, options);

        const auto rows = splitRows(*snapshot_);
        QCOMPARE(stage.split().trainRows, rows.train);
        const HeldOutPairs heldOut{imagesOf(*snapshot_, rows.heldOut), spectraOf(*snapshot_, rows.heldOut)};
        const double randomRank = heldOutMedianRank(vit, specformer, stage, heldOut);

        auto params = stages::clipTrainParams();
        params.steps = kBudget.steps;
        params.warmupSteps = kBudget.warmupSteps;
        params.lr = 1e-3;
        params.minLr = 5e-5;
        params.device = "cpu";
        params.threads = trainingThreads();
        params.seed = 9;
        const auto spectrumBackboneBefore = specformer->blocks->parameters().front().clone();
        const auto imageBackboneBefore = vit->blocks->parameters().front().clone();
        QElapsedTimer trainTimer;
        trainTimer.start();
        const auto result = train::train(stage, params);
        const double trainSeconds = trainTimer.elapsed() / 1000.0;
        QCOMPARE(result.status, train::TrainStatus::Completed);
        QVERIFY(!result.collapsed);
        // Frozen means frozen: the figures below come from the heads alone.
        QVERIFY(torch::equal(specformer->blocks->parameters().front(), spectrumBackboneBefore));
        QVERIFY(torch::equal(vit->blocks->parameters().front(), imageBackboneBefore));

        const double trainedRank = heldOutMedianRank(vit, specformer, stage, heldOut);
        qInfo("CLIP loss %.4f -> %.4f over %lld steps of %lld pairs in %.0f s (%.2f s/step)",
              result.history.front().terms.at("loss"), result.history.back().terms.at("loss"),
              (long long)result.step, (long long)kBatchSize, trainSeconds, trainSeconds / double(result.step));
        qInfo("held-out median rank of the true spectrum among %zu: random heads %.1f, trained heads %.1f, gain %.1f "
              "(asserted > %.0f); test body %.0f s",
              rows.heldOut.size(), randomRank, trainedRank, randomRank - trainedRank, kBudget.minRankGain,
              total.elapsed() / 1000.0);
        QVERIFY2(randomRank - trainedRank > kBudget.minRankGain,
                 qPrintable(QString("median rank %1 with trained heads is not better than %2 with random heads by %3")
                                .arg(trainedRank).arg(randomRank).arg(kBudget.minRankGain)));
    }
};

QTEST_GUILESS_MAIN(TestLearnClip)
#include "tst_learn_clip.moc"
