// The DINOv2-style ViT: parameter names as DINOv2 spells them, output shapes, position
// embeddings on other image sizes, iBOT masking, stochastic depth and gradient flow.
#include "core/models/vit.h"

#include "core/common/error.h"

#include "model_test_util.h"

#include <QtTest>

#include <set>

using namespace astroclip;
using namespace astroclip::models;
using namespace astroclip::models::test;

namespace {

ViTConfig smallTestConfig(int64_t registers) {
    ViTConfig c;
    c.name = "ViT-test";
    c.imageSize = 32;
    c.patchSize = 8;
    c.embedDim = 48;
    c.depth = 2;
    c.numHeads = 3;
    c.numRegisterTokens = registers;
    return c;
}

// DINOv2's names for a 2-block ViT, written out from its vision_transformer.py.
std::set<std::string> dinov2Names(bool registers) {
    std::set<std::string> names{"cls_token", "pos_embed", "mask_token", "patch_embed.proj.weight",
                                "patch_embed.proj.bias", "norm.weight", "norm.bias"};
    if (registers) names.insert("register_tokens");
    for (const std::string block : {"blocks.0.", "blocks.1."})
        for (const char* leaf : {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                 "attn.proj.weight", "attn.proj.bias", "ls1.gamma", "norm2.weight",
                                 "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",
                                 "mlp.fc2.bias", "ls2.gamma"})
            names.insert(block + leaf);
    return names;
}

} // namespace

class TestViT : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { useAllCores(); }

    void parameterNamesAreDinov2s_data() {
        QTest::addColumn<int>("registers");
        QTest::newRow("plain") << 0;
        QTest::newRow("with 4 registers") << 4;
    }
    void parameterNamesAreDinov2s() {
        QFETCH(int, registers);
        VisionTransformer vit(smallTestConfig(registers));
        std::set<std::string> names;
        for (const auto& p : vit->named_parameters()) names.insert(p.key());
        const auto expected = dinov2Names(registers > 0);
        for (const auto& n : expected) QVERIFY2(names.count(n), n.c_str());
        for (const auto& n : names) QVERIFY2(expected.count(n), ("unexpected " + n).c_str());
        const auto params = vit->named_parameters();
        QCOMPARE(shapeOf(params["pos_embed"]), QString("[1,17,48]"));
        QCOMPARE(shapeOf(params["blocks.1.attn.qkv.weight"]), QString("[144,48]"));
        QCOMPARE(shapeOf(params["mask_token"]), QString("[1,48]"));
        QCOMPARE(shapeOf(params["patch_embed.proj.weight"]), QString("[48,3,8,8]"));
        QCOMPARE(shapeOf(params["blocks.0.mlp.fc1.weight"]), QString("[192,48]"));
        if (registers) QCOMPARE(shapeOf(params["register_tokens"]), QString("[1,4,48]"));
    }

    void presetsHaveDinov2Sizes_data() {
        QTest::addColumn<QString>("preset");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("depth");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("grid");
        QTest::newRow("tiny") << "tiny" << 192 << 6 << 3 << 8;
        QTest::newRow("small") << "small" << 384 << 12 << 6 << 12;
        QTest::newRow("base") << "base" << 768 << 12 << 12 << 12;
        QTest::newRow("large (AstroCLIP)") << "large" << 1024 << 24 << 16 << 12;
    }
    void presetsHaveDinov2Sizes() {
        QFETCH(QString, preset);
        QFETCH(int, width);
        QFETCH(int, depth);
        QFETCH(int, heads);
        QFETCH(int, grid);
        const auto c = ViTConfig::preset(preset.toStdString());
        QCOMPARE(c.embedDim, width);
        QCOMPARE(c.depth, depth);
        QCOMPARE(c.numHeads, heads);
        QCOMPARE(c.gridSize(), grid);
        QCOMPARE(c.layerNormEps, 1e-6);
        c.validate();
    }

    void badConfigurationsAreRefused() {
        QVERIFY_THROWS_EXCEPTION(UsageError, ViTConfig::preset("huge"));
        auto c = smallTestConfig(0);
        c.numHeads = 5;
        QVERIFY_THROWS_EXCEPTION(UsageError, c.validate());
        c = smallTestConfig(0);
        c.imageSize = 30;
        QVERIFY_THROWS_EXCEPTION(UsageError, c.validate());
    }

    void outputShapes() {
        VisionTransformer vit(smallTestConfig(2));
        vit->eval();
        torch::NoGradGuard noGrad;
        const auto out = vit->forward(torch::randn({3, 3, 32, 32}));
        QCOMPARE(shapeOf(out.cls), QString("[3,48]"));
        QCOMPARE(shapeOf(out.registers), QString("[3,2,48]"));
        QCOMPARE(shapeOf(out.patches), QString("[3,16,48]"));
        QCOMPARE(shapeOf(out.tokens), QString("[3,19,48]"));
        QCOMPARE(out.gridH, 4);
        QVERIFY(torch::equal(out.tokens.select(1, 0), out.cls));
        // After the final LayerNorm (unit gain at init) each token has mean 0 and variance 1.
        QVERIFY(out.patches.mean(-1).abs().max().item<double>() < 1e-5);
        QVERIFY(std::abs(out.patches.var(-1, false).mean().item<double>() - 1.0) < 1e-3);
        QVERIFY_THROWS_EXCEPTION(UsageError, vit->forward(torch::randn({1, 3, 30, 32})));
        QVERIFY_THROWS_EXCEPTION(UsageError, vit->forward(torch::randn({1, 4, 32, 32})));
    }

    // A 64-px model runs on 48 and 96 px with the position table resampled to the new grid.
    void otherImageSizes_data() {
        QTest::addColumn<int>("size");
        QTest::newRow("48 px") << 48;
        QTest::newRow("96 px") << 96;
        QTest::newRow("64 px") << 64;
    }
    void otherImageSizes() {
        QFETCH(int, size);
        auto c = smallTestConfig(0);
        c.imageSize = 64;
        VisionTransformer vit(c);
        vit->eval();
        torch::NoGradGuard noGrad;
        const auto out = vit->forward(torch::randn({2, 3, size, size}));
        QCOMPARE(out.gridH, size / 8);
        QCOMPARE(out.patches.size(1), (size / 8) * (size / 8));
        QVERIFY(torch::isfinite(out.tokens).all().item<bool>());
    }

    void interpolationKeepsTheOriginalGrid() {
        const auto pos = torch::randn({1, 1 + 64, 16});
        QVERIFY(torch::equal(interpolatePosEmbed(pos, 8, 8), pos));
        QVERIFY(torch::equal(interpolatePosEmbed(pos, 8, 8, 0.0), pos));
        // Bicubic weights sum to one, so a constant table stays constant on any grid, and the
        // class token's entry is never touched.
        auto constant = torch::full({1, 1 + 64, 4}, 0.75f);
        constant.index_put_({0, 0}, -3.0f);
        for (const auto& [h, w] : {std::pair{6, 6}, {12, 12}, {5, 9}}) {
            const auto resized = interpolatePosEmbed(constant, h, w);
            QCOMPARE(resized.size(1), 1 + h * w);
            QVERIFY(torch::allclose(resized.slice(1, 1), torch::full({1, h * w, 4}, 0.75f), 0, 1e-6));
            QCOMPARE(resized[0][0][0].item<float>(), -3.0f);
        }
        QVERIFY_THROWS_EXCEPTION(UsageError, interpolatePosEmbed(torch::randn({1, 1 + 60, 4}), 4, 4));
    }

    // Masked patches see only mask_token: their pixels do not matter, the token does.
    void maskingUsesMaskToken() {
        VisionTransformer vit(smallTestConfig(0));
        vit->eval();
        torch::NoGradGuard noGrad;
        vit->mask_token.normal_(0.0, 1.0);
        const auto images = torch::randn({2, 3, 32, 32});
        auto mask = torch::zeros({2, 16}, torch::kBool);
        mask.index_put_({0, 5}, true);  // patch (row 1, col 1): pixels 8..15 × 8..15
        mask.index_put_({1, torch::indexing::Slice()}, true);
        auto changed = images.clone();
        changed.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(8, 16),
                            torch::indexing::Slice(8, 16)}, 9.0);
        changed.index_put_({1}, torch::randn({3, 32, 32}));
        const auto a = vit->forward(images, mask);
        const auto b = vit->forward(changed, mask);
        QVERIFY(maxAbsDiff(a.tokens, b.tokens) < 1e-6);
        // Unmasked, the same pixel change shows.
        QVERIFY(maxAbsDiff(vit->forward(images).tokens[0], vit->forward(changed).tokens[0]) > 1e-3);
        vit->mask_token.add_(torch::randn({1, 48}));  // not a constant: LayerNorm would remove that
        QVERIFY(maxAbsDiff(vit->forward(images, mask).tokens, a.tokens) > 1e-3);
        QVERIFY_THROWS_EXCEPTION(UsageError, vit->forward(images, torch::zeros({2, 15}, torch::kBool)));
    }

    // Stochastic depth acts in training only, per sample.
    void dropPathOnlyInTraining() {
        auto c = smallTestConfig(0);
        c.dropPathRate = 0.5;
        c.layerScaleInit = 1.0;  // branches large enough for dropping one to show
        VisionTransformer vit(c);
        torch::NoGradGuard noGrad;
        const auto images = torch::randn({4, 3, 32, 32});
        vit->eval();
        QVERIFY(torch::equal(vit->forward(images).tokens, vit->forward(images).tokens));
        vit->train();
        torch::manual_seed(1);
        const auto first = vit->forward(images).tokens;
        torch::manual_seed(2);
        QVERIFY(maxAbsDiff(first, vit->forward(images).tokens) > 1e-4);
    }

    void gradientsReachEveryParameter() {
        VisionTransformer vit(smallTestConfig(2));
        vit->train();
        auto mask = torch::zeros({2, 16}, torch::kBool);
        mask.index_put_({0, torch::indexing::Slice(0, 6)}, true);
        const auto out = vit->forward(torch::randn({2, 3, 32, 32}), mask);
        (out.cls.pow(2).sum() + out.patches.sin().sum() + out.registers.pow(2).sum()).backward();
        for (const auto& p : vit->named_parameters()) {
            QVERIFY2(p.value().grad().defined(), p.key().c_str());
            QVERIFY2(p.value().grad().abs().sum().item<double>() > 0, p.key().c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestViT)
#include "tst_vit.moc"
