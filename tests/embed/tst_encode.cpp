// Batched inference (core/embed/encode.h): the vectors are exactly what the models compute in
// eval mode on the stages' preprocessing (CLS token, mean SpecFormer token, alignment head),
// batch size does not change them, the modules get their training mode back (also when the
// run is cancelled), progress counts objects and a cancel request stops the run with
// Cancelled; bad shapes and mismatched heads are refused with a UsageError.
#include "core/common/error.h"
#include "core/embed/encode.h"

#include <QtTest>

#include <torch/torch.h>

#include <vector>

using namespace astroclip;

namespace {

constexpr int64_t kSide = 16;
constexpr int64_t kSpectrumLength = 200;

// Dropout and stochastic depth switched on, so training mode would show in the output.
models::VisionTransformer stochasticViT() {
    models::ViTConfig c;
    c.name = "test";
    c.imageSize = kSide;
    c.patchSize = 4;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 2;
    c.dropPathRate = 0.5;
    c.layerScaleInit = 1.0;  // branches that matter, so dropping them shows
    torch::manual_seed(1);
    return models::VisionTransformer(c);
}

models::SpecFormer stochasticSpecFormer() {
    models::SpecFormerConfig c;
    c.name = "test";
    c.inputLength = kSpectrumLength;
    c.patchLength = 20;
    c.patchStride = 10;
    c.embedDim = 24;
    c.depth = 2;
    c.numHeads = 2;
    c.maxTokens = 1 + c.numPatches(kSpectrumLength);
    c.dropout = 0.3;
    torch::manual_seed(2);
    return models::SpecFormer(c);
}

models::AlignmentHead head(const models::AlignmentHeadConfig& config) {
    torch::manual_seed(3);
    return models::AlignmentHead(config);
}

// Positive galaxy-like nanomaggies with sky noise, and spectra with a slope and noise.
torch::Tensor someImages(int64_t n) {
    torch::manual_seed(4);
    return 0.5 * torch::rand({n, 3, kSide, kSide}) + 0.02 * torch::randn({n, 3, kSide, kSide});
}
torch::Tensor someSpectra(int64_t n) {
    torch::manual_seed(5);
    const auto slope = torch::linspace(0.5, 2.0, kSpectrumLength).unsqueeze(0);
    return 3.0 * torch::rand({n, 1}) * slope + torch::randn({n, kSpectrumLength});
}

embed::EncodeOptions batchesOf(int64_t size) {
    embed::EncodeOptions o;
    o.batchSize = size;
    return o;
}

bool close(const torch::Tensor& a, const torch::Tensor& b) { return torch::allclose(a, b, 1e-5, 1e-5); }

} // namespace

class TestEncode : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void imagesAreEvalModeClsOfNormalisedInput() {
        auto vit = stochasticViT();
        vit->train();
        const auto images = someImages(10);
        const auto a = embed::encodeImages(*vit, images, {}, batchesOf(4));
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{10, 32}));
        QCOMPARE(a.scalar_type(), torch::kFloat);
        QVERIFY(a.device().is_cpu());
        QVERIFY(vit->is_training());  // given back as it was

        // Deterministic although dropout/stochastic depth is on in training mode...
        QVERIFY(torch::equal(a, embed::encodeImages(*vit, images, {}, batchesOf(4))));
        // ... and training mode really would change the output.
        torch::NoGradGuard noGrad;
        const auto normalised = stages::normalizeNanomaggies(images);
        torch::manual_seed(9);
        QVERIFY(!close(vit->forward(normalised).cls, a));
        vit->eval();
        QVERIFY(close(vit->forward(normalised).cls, a));
    }

    void imageNormalizationIsTheOneGiven() {
        auto vit = stochasticViT();
        const auto images = someImages(6);
        stages::ImageNormalization other;
        other.bandScale = {1.0, 1.0, 1.0};
        other.softening = 5.0;
        const auto a = embed::encodeImages(*vit, images, other, batchesOf(6));
        vit->eval();
        torch::NoGradGuard noGrad;
        QVERIFY(close(vit->forward(stages::normalizeNanomaggies(images, other)).cls, a));
        QVERIFY(!close(vit->forward(stages::normalizeNanomaggies(images)).cls, a));
    }

    void spectraAreEvalModeMeanTokens() {
        auto model = stochasticSpecFormer();
        model->train();
        const auto flux = someSpectra(9);
        const auto a = embed::encodeSpectra(*model, flux, batchesOf(4));
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{9, 24}));
        QVERIFY(model->is_training());
        model->eval();
        torch::NoGradGuard noGrad;
        QVERIFY(close(model->forward(flux).tokens.mean(1), a));
    }

    void batchingGivesOneBatchResult_data() {
        QTest::addColumn<int64_t>("batchSize");
        QTest::newRow("1") << int64_t(1);
        QTest::newRow("7 (uneven last batch)") << int64_t(7);
        QTest::newRow("larger than N") << int64_t(500);
    }
    void batchingGivesOneBatchResult() {
        QFETCH(int64_t, batchSize);
        auto vit = stochasticViT();
        auto model = stochasticSpecFormer();
        const auto images = someImages(23);
        const auto flux = someSpectra(23);
        QVERIFY(close(embed::encodeImages(*vit, images, {}, batchesOf(batchSize)),
                      embed::encodeImages(*vit, images, {}, batchesOf(23))));
        QVERIFY(close(embed::encodeSpectra(*model, flux, batchesOf(batchSize)),
                      embed::encodeSpectra(*model, flux, batchesOf(23))));
    }

    void headPathGivesAlignedVectors() {
        auto vit = stochasticViT();
        auto model = stochasticSpecFormer();
        auto imageHead = head(models::AlignmentHeadConfig::forImages(32, 40));
        auto spectrumHead = head(models::AlignmentHeadConfig::forSpectra(24, 40));
        const auto images = someImages(11);
        const auto flux = someSpectra(11);
        const auto a = embed::encodeImages(*vit, images, {}, batchesOf(5), imageHead.get());
        const auto b = embed::encodeSpectra(*model, flux, batchesOf(5), spectrumHead.get());
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{11, 40}));
        QCOMPARE(b.sizes().vec(), (std::vector<int64_t>{11, 40}));
        vit->eval();
        model->eval();
        imageHead->eval();
        spectrumHead->eval();
        torch::NoGradGuard noGrad;
        QVERIFY(close(imageHead->forward(vit->forward(stages::normalizeNanomaggies(images)).tokens).embedding, a));
        QVERIFY(close(spectrumHead->forward(model->forward(flux).tokens).embedding, b));
    }

    void progressCountsObjects() {
        auto model = stochasticSpecFormer();
        std::vector<int64_t> done;
        embed::EncodeOptions o = batchesOf(4);
        o.progress = [&](const Progress& p) {
            if (p.stage != "embed" || p.total != 10) return false;
            done.push_back(p.done);
            return true;
        };
        embed::encodeSpectra(*model, someSpectra(10), o);
        QCOMPARE(done, (std::vector<int64_t>{0, 4, 8, 10}));
    }

    void cancelThrowsAndRestoresMode() {
        auto vit = stochasticViT();
        vit->train();
        int calls = 0;
        embed::EncodeOptions o = batchesOf(2);
        o.progress = [&](const Progress&) { return ++calls < 3; };  // stop after the second batch
        QVERIFY_THROWS_EXCEPTION(Cancelled, embed::encodeImages(*vit, someImages(10), {}, o));
        QCOMPARE(calls, 3);
        QVERIFY(vit->is_training());

        auto model = stochasticSpecFormer();
        o.progress = [](const Progress&) { return false; };
        QVERIFY_THROWS_EXCEPTION(Cancelled, embed::encodeSpectra(*model, someSpectra(4), o));
    }

    void badInputIsRefused() {
        auto vit = stochasticViT();
        auto model = stochasticSpecFormer();
        const auto o = batchesOf(4);
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeImages(*vit, torch::zeros({2, 4, kSide, kSide}), {}, o));
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeImages(*vit, torch::zeros({2, 3, 18, 18}), {}, o));
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeImages(*vit, torch::zeros({3, kSide, kSide}), {}, o));
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeSpectra(*model, torch::zeros({kSpectrumLength}), o));
        // More tokens than the position table holds.
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeSpectra(*model, torch::zeros({2, 4 * kSpectrumLength}), o));
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeSpectra(*model, someSpectra(2), batchesOf(0)));
        // A head trained for another backbone width.
        auto wrongHead = head(models::AlignmentHeadConfig::forSpectra(32, 40));
        QVERIFY_THROWS_EXCEPTION(UsageError, embed::encodeSpectra(*model, someSpectra(2), o, wrongHead.get()));
    }

    void emptyInputGivesNoRows() {
        auto model = stochasticSpecFormer();
        const auto out = embed::encodeSpectra(*model, torch::zeros({0, kSpectrumLength}), batchesOf(4));
        QCOMPARE(out.sizes().vec(), (std::vector<int64_t>{0, 24}));
    }
};

QTEST_GUILESS_MAIN(TestEncode)
#include "tst_encode.moc"
