// SpecFormer (tokens, statistics token, patch geometry, reconstruction folding) and the
// alignment head (shapes, residual, attention weights), with gradient flow through both.
#include "core/models/alignment_head.h"
#include "core/models/specformer.h"

#include "core/common/error.h"

#include "model_test_util.h"

#include <QtTest>

using namespace astroclip;
using namespace astroclip::models;
using namespace astroclip::models::test;
using torch::indexing::Slice;

namespace {

SpecFormerConfig smallSpecConfig() {
    SpecFormerConfig c;
    c.name = "SpecFormer-test";
    c.inputLength = 205;
    c.patchLength = 16;
    c.patchStride = 8;
    c.embedDim = 32;
    c.depth = 2;
    c.numHeads = 4;
    c.maxTokens = 32;
    return c;
}

int64_t parameterCount(const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
}

} // namespace

class TestSpecFormer : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { useAllCores(); }

    // AstroCLIP's geometry: 7781 px in 20-px patches every 10 px → 777 patches + 1 token.
    void presetGeometry() {
        const auto full = SpecFormerConfig::preset("full");
        QCOMPARE(full.numPatches(7781), 777);
        QCOMPARE(full.tokenWidth(), 22);
        QCOMPARE(full.maxTokens, 800);
        full.validate();
        const auto tiny = SpecFormerConfig::preset("tiny");
        QCOMPARE(tiny.numPatches(7781), 193);
        QCOMPARE(tiny.maxTokens, 194);
        tiny.validate();
        QVERIFY_THROWS_EXCEPTION(UsageError, SpecFormerConfig::preset("huge"));
    }

    // The full model has AstroCLIP's published size (43M parameters for the spectrum encoder).
    void fullModelSize() {
        SpecFormer full(SpecFormerConfig::preset("full"));
        const double millions = parameterCount(*full) / 1e6;
        QVERIFY2(std::abs(millions - 43.0) < 0.5, qPrintable(QString::number(millions)));
        QCOMPARE(shapeOf(full->named_parameters()["blocks.5.attention.attention.weight"]),
                 QString("[2304,768]"));
        QCOMPARE(shapeOf(full->named_parameters()["position_embed.weight"]), QString("[800,768]"));
    }

    void tokensCarryStatisticsAndStandardisedPatches() {
        SpecFormer model(smallSpecConfig());
        auto flux = torch::randn({2, 205}) * 3.0 + 7.0;
        flux.index_put_({1}, 0.5 + 0.001 * torch::randn({205}));  // std far below the 0.2 clip
        const auto in = model->tokenize(flux);
        QCOMPARE(shapeOf(in.tokens), QString("[2,25,18]"));
        const double mean0 = flux[0].mean().item<double>(), std0 = flux[0].std().item<double>();
        QVERIFY(std::abs(in.tokens[0][0][0].item<double>() - (mean0 - 2) / 2) < 1e-5);
        QVERIFY(std::abs(in.tokens[0][0][1].item<double>() - (std0 - 2) / 8) < 1e-5);
        QVERIFY(std::abs(in.std[1].item<double>() - 0.2) < 1e-7);
        QVERIFY(in.tokens.index({Slice(), 0, Slice(2)}).abs().max().item<double>() == 0.0);
        QVERIFY(in.tokens.index({Slice(), Slice(1), Slice(0, 2)}).abs().max().item<double>() == 0.0);
        // Patch 3 starts at pixel 24.
        const auto expected = (flux[0].slice(0, 24, 40) - mean0) / std0;
        QVERIFY(maxAbsDiff(in.tokens[0][4].slice(0, 2), expected) < 1e-5);
        QVERIFY_THROWS_EXCEPTION(UsageError, model->tokenize(torch::randn({1, 10})));
        QVERIFY_THROWS_EXCEPTION(UsageError, model->tokenize(torch::randn({1, 400})));  // 49 tokens > 32
    }

    void outputShapes() {
        SpecFormer model(smallSpecConfig());
        model->eval();
        torch::NoGradGuard noGrad;
        const auto out = model->forward(torch::randn({3, 205}));
        QCOMPARE(shapeOf(out.tokens), QString("[3,25,32]"));
        QCOMPARE(shapeOf(out.reconstruction), QString("[3,25,18]"));
        // Shorter spectra use fewer tokens (and the first rows of the position table).
        QCOMPARE(model->forward(torch::randn({1, 100})).tokens.size(1), 1 + 11);
    }

    // Folding averages overlapping patches and leaves uncovered pixels NaN.
    void foldAveragesOverlaps() {
        const auto signal = torch::arange(205, torch::kFloat).unsqueeze(0);
        const auto patches = signal.slice(1, 0, 200).unfold(1, 16, 8);
        auto folded = foldOverlappingPatches(patches, 8, 205);
        QVERIFY(maxAbsDiff(folded.slice(1, 0, 200), signal.slice(1, 0, 200)) == 0.0);
        QVERIFY(torch::isnan(folded.slice(1, 200)).all().item<bool>());
        // Patch values 1 and 3 overlapping on pixels 8..15 average to 2.
        const auto ones = torch::cat({torch::full({1, 1, 16}, 1.0f), torch::full({1, 1, 16}, 3.0f)}, 1);
        folded = foldOverlappingPatches(ones, 8, 24);
        QCOMPARE(folded[0][3].item<float>(), 1.0f);
        QCOMPARE(folded[0][10].item<float>(), 2.0f);
        QCOMPARE(folded[0][20].item<float>(), 3.0f);
        QVERIFY_THROWS_EXCEPTION(UsageError, foldOverlappingPatches(ones, 8, 20));
    }

    // Feeding the tokens themselves as the "reconstruction" gives back the input spectrum.
    void reconstructionUndoesStandardisation() {
        SpecFormer model(smallSpecConfig());
        const auto flux = torch::randn({2, 205}) * 4.0 + 10.0;
        const auto in = model->tokenize(flux);
        SpecFormerOutput perfect{torch::Tensor(), in.tokens};
        const auto back = model->reconstructSpectrum(perfect, in, 205);
        QVERIFY(maxAbsDiff(back.slice(1, 0, 200), flux.slice(1, 0, 200)) < 1e-4);
    }

    void specFormerGradientsReachEveryParameter() {
        SpecFormer model(smallSpecConfig());
        model->train();
        const auto out = model->forward(torch::randn({2, 205}));
        (out.tokens.sin().sum() + out.reconstruction.pow(2).sum()).backward();
        for (const auto& p : model->named_parameters()) {
            QVERIFY2(p.value().grad().defined(), p.key().c_str());
            QVERIFY2(p.value().grad().abs().sum().item<double>() > 0, p.key().c_str());
        }
    }

    void alignmentHeadNamesAndShapes_data() {
        QTest::addColumn<int>("tokenDim");
        QTest::addColumn<bool>("packed");
        QTest::newRow("kdim ≠ E: separate q/k/v") << 32 << false;
        QTest::newRow("kdim = E: packed in_proj") << 24 << true;
    }
    void alignmentHeadNamesAndShapes() {
        QFETCH(int, tokenDim);
        QFETCH(bool, packed);
        AlignmentHead head(AlignmentHeadConfig::forSpectra(tokenDim, 24));
        const auto params = head->named_parameters();
        QCOMPARE(shapeOf(params["cross_attention.query"]), QString("[1,1,24]"));
        QCOMPARE(params.contains("cross_attention.multihead_attn.in_proj_weight"), packed);
        QCOMPARE(params.contains("cross_attention.multihead_attn.k_proj_weight"), !packed);
        QVERIFY(params.contains("cross_attention.multihead_attn.in_proj_bias"));
        QVERIFY(params.contains("cross_attention.multihead_attn.out_proj.weight"));
        QVERIFY(params.contains("cross_attention.layernorm.weight"));
        QCOMPARE(shapeOf(params["mlp.encoder.weight"]), QString("[96,24]"));
        QCOMPARE(shapeOf(params["mlp.decoder.weight"]), QString("[24,96]"));
        head->eval();
        torch::NoGradGuard noGrad;
        const auto out = head->forward(torch::randn({5, 40, tokenDim}));
        QCOMPARE(shapeOf(out.embedding), QString("[5,24]"));
        QCOMPARE(shapeOf(out.attention), QString("[5,4,40]"));
        QVERIFY(maxAbsDiff(out.attention.sum(-1), torch::ones({5, 4})) < 1e-5);
        QVERIFY_THROWS_EXCEPTION(UsageError, head->forward(torch::randn({5, 40, tokenDim + 1})));
    }

    // The spectrum head adds its MLP to the pooled vector; the image head replaces it.
    void residualOnlyForSpectra() {
        QVERIFY(AlignmentHeadConfig::forSpectra(768).residual);
        QVERIFY(!AlignmentHeadConfig::forImages(1024).residual);
        QCOMPARE(AlignmentHeadConfig::forImages(1024).embedDim, 1024);
        torch::manual_seed(7);
        AlignmentHead spectrum(AlignmentHeadConfig::forSpectra(16, 8));
        torch::manual_seed(7);
        AlignmentHead image(AlignmentHeadConfig::forImages(16, 8));
        spectrum->eval();
        image->eval();
        torch::NoGradGuard noGrad;
        const auto tokens = torch::randn({3, 10, 16});
        const auto pooled = spectrum->cross_attention->forward(tokens);
        QVERIFY(maxAbsDiff(spectrum->forward(tokens).embedding - image->forward(tokens).embedding,
                           pooled.squeeze(1)) < 1e-6);
    }

    void alignmentHeadGradientsReachEveryParameter() {
        AlignmentHead head(AlignmentHeadConfig::forImages(32, 24));
        head->train();
        const auto out = head->forward(torch::randn({4, 12, 32}));
        torch::nn::functional::normalize(out.embedding, torch::nn::functional::NormalizeFuncOptions().dim(-1))
            .sin().sum().backward();
        for (const auto& p : head->named_parameters()) {
            QVERIFY2(p.value().grad().defined(), p.key().c_str());
            QVERIFY2(p.value().grad().abs().sum().item<double>() > 0, p.key().c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestSpecFormer)
#include "tst_specformer.moc"
