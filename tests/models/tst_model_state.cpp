// State dicts: strict loading with every problem in one message, pos-embed resampling on
// load when asked, round trips through safetensors files (incl. bf16), and the fused and
// manual attention kernels agreeing.
#include "core/models/attention.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/models/vit.h"

#include "model_test_util.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;
using namespace astroclip::models;
using namespace astroclip::models::test;

namespace {

ViTConfig testConfig(int64_t imageSize = 32) {
    ViTConfig c;
    c.name = "ViT-test";
    c.imageSize = imageSize;
    c.patchSize = 8;
    c.embedDim = 48;
    c.depth = 2;
    c.numHeads = 3;
    return c;
}

StateDict cloned(const StateDict& weights) {
    StateDict out;
    for (const auto& [name, t] : weights) out[name] = t.clone();
    return out;
}

} // namespace

Q_DECLARE_METATYPE(StateDict)

class TestModelState : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { useAllCores(); }

    void strictLoadingReportsEveryProblem_data() {
        QTest::addColumn<StateDict>("weights");
        QTest::addColumn<QStringList>("fragments");
        const StateDict good = cloned(exportStateDict(*VisionTransformer(testConfig())));
        const StateDict bigger = cloned(exportStateDict(*VisionTransformer(testConfig(48))));

        auto missing = good;
        missing.erase("blocks.1.ls2.gamma");
        QTest::newRow("missing") << missing << QStringList{"weights do not fit ViT-test: missing blocks.1.ls2.gamma"};

        auto unexpected = good;
        unexpected["head.weight"] = torch::zeros({10, 48});
        QTest::newRow("unexpected") << unexpected << QStringList{"unexpected head.weight"};

        auto shape = good;
        shape["pos_embed"] = bigger.at("pos_embed");
        QTest::newRow("pos_embed of another grid")
            << shape << QStringList{"shape of pos_embed is [1,37,48] in the file but [1,17,48] here"};

        auto several = shape;
        several.erase("norm.bias");
        several.erase("mask_token");
        several["blocks.2.norm1.weight"] = torch::ones({48});
        several["blocks.0.mlp.fc1.weight"] = torch::zeros({96, 48});
        QTest::newRow("several at once")
            << several
            << QStringList{"missing mask_token, norm.bias", "unexpected blocks.2.norm1.weight",
                           "shape of blocks.0.mlp.fc1.weight is [96,48] in the file but [192,48] here",
                           "shape of pos_embed is [1,37,48]"};

        StateDict other;
        for (int i = 0; i < 20; ++i) other["encoder.layer" + std::to_string(i)] = torch::zeros({2});
        QTest::newRow("another model's file")
            << other << QStringList{"missing blocks.0.attn.proj.bias", "and 27 more", "and 12 more"};
    }
    void strictLoadingReportsEveryProblem() {
        QFETCH(StateDict, weights);
        QFETCH(QStringList, fragments);
        VisionTransformer vit(testConfig());
        const auto before = cloned(exportStateDict(*vit));
        try {
            importStateDict(*vit, weights, "ViT-test");
            QFAIL("loading should have failed");
        } catch (const WeightsMismatch& e) {
            const QString message = e.what();
            for (const auto& f : fragments) QVERIFY2(message.contains(f), qPrintable(message));
        }
        // Nothing was copied.
        for (const auto& [name, t] : exportStateDict(*vit)) QVERIFY(torch::equal(t, before.at(name)));
    }

    // Asked to, the loader resamples a pos_embed of another grid (offset-free bicubic).
    void posEmbedResizedOnLoadWhenAllowed() {
        VisionTransformer source(testConfig(48));
        VisionTransformer target(testConfig(32));
        const auto weights = exportStateDict(*source);
        ImportOptions options;
        options.resizePosEmbed = true;
        importStateDict(*target, weights, "ViT-test", options);
        const auto expected = interpolatePosEmbed(weights.at("pos_embed"), 4, 4, 0.0);
        QVERIFY(torch::equal(target->pos_embed, expected));
        QVERIFY(torch::equal(target->norm->weight, source->norm->weight));
        // Other shape errors still fail.
        auto broken = weights;
        broken["cls_token"] = torch::zeros({1, 2, 48});
        QVERIFY_THROWS_EXCEPTION(WeightsMismatch, importStateDict(*target, broken, "ViT-test", options));
    }

    // A file without a name listed as optional (a timm ViT has no iBOT mask_token) loads, and
    // that tensor keeps its value; any other missing name still fails.
    void optionalNamesMayBeMissing() {
        VisionTransformer source(testConfig());
        VisionTransformer target(testConfig());
        const auto maskBefore = target->mask_token.clone();
        auto weights = exportStateDict(*source);
        weights.erase("mask_token");
        QVERIFY_THROWS_EXCEPTION(WeightsMismatch, importStateDict(*target, weights, "ViT-test"));
        ImportOptions options;
        options.mayBeMissing = {"mask_token"};
        importStateDict(*target, weights, "ViT-test", options);
        QVERIFY(torch::equal(target->mask_token, maskBefore));
        QVERIFY(torch::equal(target->blockList()[1]->ls2->gamma, source->blockList()[1]->ls2->gamma));
        weights.erase("norm.bias");
        try {
            importStateDict(*target, weights, "ViT-test", options);
            QFAIL("loading without norm.bias should have failed");
        } catch (const WeightsMismatch& e) {
            QVERIFY2(QString(e.what()).contains("missing norm.bias"), e.what());
            QVERIFY2(!QString(e.what()).contains("mask_token"), e.what());
        }
    }

    void roundTripThroughSafetensors() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath("vit.safetensors").toStdString();
        torch::manual_seed(1);
        VisionTransformer trained(testConfig());
        trained->eval();
        torch::NoGradGuard noGrad;
        trained->mask_token.normal_();
        writeStateDict(path, exportStateDict(*trained), {{"model", "ViT-test"}});

        SafetensorsMetadata metadata;
        const auto loaded = readStateDict(path, &metadata);
        QCOMPARE(QString::fromStdString(metadata.at("model")), QString("ViT-test"));
        torch::manual_seed(2);
        VisionTransformer fresh(testConfig());
        fresh->eval();
        importStateDict(*fresh, loaded, "ViT-test");
        const auto images = torch::randn({2, 3, 32, 32});
        QVERIFY(torch::equal(trained->forward(images).tokens, fresh->forward(images).tokens));

        // A bf16 file loads into the fp32 model, rounded to bf16's 8-bit mantissa.
        StateDict halves;
        for (const auto& [name, t] : exportStateDict(*trained)) halves[name] = t.to(torch::kBFloat16);
        writeStateDict(path, halves);
        const auto loadedHalves = readStateDict(path);
        QCOMPARE(loadedHalves.at("pos_embed").scalar_type(), torch::kBFloat16);
        importStateDict(*fresh, loadedHalves, "ViT-test");
        QCOMPARE(fresh->pos_embed.scalar_type(), torch::kFloat);
        QVERIFY(torch::equal(fresh->pos_embed, trained->pos_embed.to(torch::kBFloat16).to(torch::kFloat)));
        QVERIFY(maxAbsDiff(fresh->pos_embed, trained->pos_embed) > 0);
    }

    void tensorConversionKeepsDtypes_data() {
        QTest::addColumn<int>("type");
        QTest::newRow("f32") << int(torch::kFloat);
        QTest::newRow("f64") << int(torch::kDouble);
        QTest::newRow("f16") << int(torch::kHalf);
        QTest::newRow("bf16") << int(torch::kBFloat16);
        QTest::newRow("i64") << int(torch::kLong);
        QTest::newRow("i32") << int(torch::kInt);
        QTest::newRow("u8") << int(torch::kByte);
        QTest::newRow("bool") << int(torch::kBool);
    }
    void tensorConversionKeepsDtypes() {
        QFETCH(int, type);
        const auto scalar = static_cast<torch::ScalarType>(type);
        const auto original = (torch::randn({3, 4, 5}) * 10).to(scalar);
        // A non-contiguous view exercises the contiguous copy.
        const auto view = original.transpose(0, 2);
        const auto data = fromTorch("x", view);
        QCOMPARE(data.shape, (std::vector<int64_t>{5, 4, 3}));
        const auto back = toTorch(data.view());
        QCOMPARE(back.scalar_type(), scalar);
        QVERIFY(torch::equal(back, view));
    }

    void fusedAndManualAttentionAgree() {
        const auto q = torch::randn({2, 3, 17, 16});
        const auto k = torch::randn({2, 3, 23, 16});
        const auto v = torch::randn({2, 3, 23, 16});
        const auto manual = scaledDotProductAttention(q, k, v, 0.0, AttentionKernel::Manual);
        // Independent check of the manual kernel: the textbook formula in double precision.
        const auto qd = q.to(torch::kDouble), kd = k.to(torch::kDouble), vd = v.to(torch::kDouble);
        const auto reference = torch::matmul(torch::softmax(torch::matmul(qd, kd.transpose(-2, -1)) / 4.0, -1), vd);
        QVERIFY(maxAbsDiff(manual, reference) < 1e-5);
        if (!fusedAttentionAvailable()) {
            QVERIFY_THROWS_EXCEPTION(UsageError, scaledDotProductAttention(q, k, v, 0.0, AttentionKernel::Fused));
            QSKIP("this LibTorch (< 2.0) has no fused attention kernel; the manual one is used");
        }
        const auto fused = scaledDotProductAttention(q, k, v, 0.0, AttentionKernel::Fused);
        const double diff = maxAbsDiff(fused, manual);
        QVERIFY2(diff < 1e-5, qPrintable(QString::number(diff)));
    }
};

QTEST_GUILESS_MAIN(TestModelState)
#include "tst_model_state.moc"
