// "Learning is real" for the image encoder: the tiny ViT, pre-trained by DINOv2-style
// self-distillation (core/stages/image_stage.h, the "tiny" preset, driven by the real
// trainer) on two thirds of a simulated survey, must give held-out galaxies embeddings that
// predict redshift better than the same architecture at its random initialisation (same
// seed), by the zero-shot recipe (k-NN from the training objects' embeddings, R² on the
// held-out third). The encoder evaluated is the TEACHER's backbone, the one DINOv2 keeps.
//
// A random ViT's CLS token already carries a cutout's colours and size (R² ≈ 0.73 here), so
// the test asks for a gain over it. The margin is what the run reaches on this survey
// (deterministic for the seeds and thread count), reduced for safety. The teacher must also
// have escaped both failure modes of DINO: collapse (entropy → 0) and uniformity (log K).
//
// Budgets. Default (integration, ~2.5 minutes on two cores): 60 steps of 32 images (2 global
// crops of 56 px, 4 local of 24 px). ASTROCLIP_LEARN_SLOW (label slow): 300 steps, the
// preset's own length, asserting at least +0.05 R². Either run saves its teacher backbone for
// tests that want a trained image encoder (fixtures learned_image / learned_image_slow).
#include "core/embed/encode.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/stages/image_stage.h"
#include "core/train/trainer.h"
#include "learning_support.h"

#include <QElapsedTimer>
#include <QtTest>

#include <torch/torch.h>

#include <cmath>
#include <filesystem>

using namespace astroclip;
using namespace astroclip::learntest;

namespace {

struct Budget {
    int64_t steps;
    double minGain;   // trained R² − random R² must exceed this
    const char* backboneFile;
};
#ifdef ASTROCLIP_LEARN_SLOW
constexpr Budget kBudget{300, 0.05, "image-backbone-slow.safetensors"};
#else
constexpr Budget kBudget{60, 0.05, "image-backbone.safetensors"};
#endif
constexpr uint64_t kInitSeed = 13;
// The snapshot the spectrum tests cache (spectra downsampled 4×); its images are what counts.
constexpr int kSnapshotDownsample = 4;

torch::Tensor classTokens(models::VisionTransformerImpl& vit, const torch::Tensor& images,
                          const stages::ImageNormalization& normalization) {
    embed::EncodeOptions options;
    options.batchSize = 128;
    return embed::encodeImages(vit, images, normalization, options);
}

double meanOf(const std::vector<train::StepMetrics>& history, const char* key, bool health, size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += health ? history.at(i).health.at(key) : history.at(i).terms.at(key);
    return sum / double(to - from);
}

} // namespace

class TestLearnImage : public QObject {
    Q_OBJECT

    std::shared_ptr<const DatasetSnapshot> snapshot_;

private Q_SLOTS:
    void initTestCase() {
        torch::set_num_threads(trainingThreads());
        QElapsedTimer timer;
        timer.start();
        std::string whyNot;
        snapshot_ = loadSurveySnapshot(kSnapshotDownsample, &whyNot);
        if (!snapshot_) QSKIP(whyNot.c_str());
        QVERIFY(snapshot_->size() >= 2000);
        QCOMPARE(snapshot_->cropSize, kCropSize);
        qInfo("snapshot: %zu objects, %d-px cutouts, in %.1f s", snapshot_->size(), snapshot_->cropSize,
              timer.elapsed() / 1000.0);
    }

    void selfDistillationImprovesZeroShotRedshift() {
        QElapsedTimer total;
        total.start();
        // A backbone left by an earlier run must not stand in for this one's if it fails.
        const std::string out = workDir() + "/" + kBudget.backboneFile;
        std::filesystem::remove(out);
        const auto rows = splitRows(*snapshot_);
        const auto trainImages = imagesOf(*snapshot_, rows.train);
        const auto heldImages = imagesOf(*snapshot_, rows.heldOut);
        const auto trainZ = columnOf(*snapshot_, "truth_z", rows.train);
        const auto heldZ = columnOf(*snapshot_, "truth_z", rows.heldOut);
        qInfo("%zu training and %zu held-out galaxies", rows.train.size(), rows.heldOut.size());

        auto config = stages::imageStageConfig("tiny", kBudget.steps);
        config.seed = 3;
        torch::manual_seed(kInitSeed);
        const std::vector<size_t> trainIndices(rows.train.begin(), rows.train.end());
        auto stage = stages::ImageStage::fromSnapshot(config, *snapshot_, trainIndices);
        QCOMPARE(stage->provenance().at("images").get<int64_t>(), int64_t(rows.train.size()));

        // Before any step the teacher is the student at its seeded initialisation.
        auto& teacher = *stage->teacher->backbone;
        QElapsedTimer embedTimer;
        embedTimer.start();
        const double randomR2 = knnRedshiftR2(classTokens(teacher, trainImages, config.normalization), trainZ,
                                              classTokens(teacher, heldImages, config.normalization), heldZ);
        qInfo("random init: zero-shot redshift R2 %.4f (embedding and k-NN in %.0f s)", randomR2,
              embedTimer.elapsed() / 1000.0);

        auto params = stages::imageTrainParams(config);
        params.device = "cpu";
        params.threads = trainingThreads();
        params.seed = 7;
        QElapsedTimer trainTimer;
        trainTimer.start();
        const auto result = train::train(*stage, params);
        const double trainSeconds = trainTimer.elapsed() / 1000.0;
        QCOMPARE(result.status, train::TrainStatus::Completed);
        QVERIFY(!result.collapsed);

        const double trainedR2 = knnRedshiftR2(classTokens(teacher, trainImages, config.normalization), trainZ,
                                               classTokens(teacher, heldImages, config.normalization), heldZ);
        const double studentR2 =
            knnRedshiftR2(classTokens(*stage->student->backbone, trainImages, config.normalization), trainZ,
                          classTokens(*stage->student->backbone, heldImages, config.normalization), heldZ);
        const auto& h = result.history;
        const size_t tenth = std::max<size_t>(1, h.size() / 10);
        const double logK = std::log(double(config.dinoHead.prototypes));
        const double entropy = meanOf(h, "teacher_entropy", true, h.size() - tenth, h.size());
        qInfo("dino loss %.4f -> %.4f (log K %.4f), ibot %.4f -> %.4f, koleo %.4f -> %.4f; teacher entropy %.4f, "
              "embedding std %.4f; %lld steps of %lld images in %.0f s (%.2f s/step)",
              meanOf(h, "dino", false, 0, tenth), meanOf(h, "dino", false, h.size() - tenth, h.size()), logK,
              meanOf(h, "ibot", false, 0, tenth), meanOf(h, "ibot", false, h.size() - tenth, h.size()),
              meanOf(h, "koleo", false, 0, tenth), meanOf(h, "koleo", false, h.size() - tenth, h.size()), entropy,
              meanOf(h, "embedding_std", true, h.size() - tenth, h.size()), (long long)result.step,
              (long long)config.batchSize, trainSeconds, trainSeconds / double(result.step));
        qInfo("zero-shot redshift R2 (k-NN, k=%lld, held-out): random init %.4f, trained teacher %.4f "
              "(student %.4f), gain %.4f (asserted > %.3f); test body %.0f s",
              (long long)kNeighbours, randomR2, trainedR2, studentR2, trainedR2 - randomR2, kBudget.minGain,
              total.elapsed() / 1000.0);

        // Neither collapsed onto one prototype nor left uniform.
        QVERIFY2(entropy > 0.05 * logK && entropy < 0.9 * logK, qPrintable(QString("teacher entropy %1").arg(entropy)));
        QVERIFY2(trainedR2 > randomR2 + kBudget.minGain,
                 qPrintable(QString("trained R2 %1 is not above random-init R2 %2 by %3")
                                .arg(trainedR2).arg(randomR2).arg(kBudget.minGain)));

        // Handed on (fixture learned_image): the encoder by its own names, as selectPrefix
        // ("teacher.backbone.") gives it from the training checkpoint.
        models::writeStateDict(out, models::exportStateDict(teacher));
    }
};

QTEST_GUILESS_MAIN(TestLearnImage)
#include "tst_learn_image.moc"
