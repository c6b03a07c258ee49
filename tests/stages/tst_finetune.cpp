// Fine-tuning options (core/stages/finetune.h): every backbone parameter lands in exactly one
// group, the frozen ones are the ones asked for, layer decay gives d^(L − i) per block (checked
// against names parsed here, independently of the grouping code), bad options are refused with
// a message naming the problem, and a real training run leaves frozen tensors bit-identical
// while the trainable ones move.
#include "core/common/error.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/stages/finetune.h"
#include "core/stages/spectrum_stage.h"
#include "core/train/optimizer.h"
#include "core/train/trainer.h"
#include "stage_test_data.h"

#include <QtTest>

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

// Where the architecture puts a parameter, from its name alone: -1 = before the blocks,
// depth = after them, i = block i.
int64_t depthPosition(const std::string& name, int64_t depth) {
    if (name.rfind("blocks.", 0) == 0) return std::stoll(name.substr(7, name.find('.', 7) - 7));
    if (name.rfind("norm.", 0) == 0 || name.rfind("final_layernorm.", 0) == 0 || name.rfind("head.", 0) == 0)
        return depth;
    return -1;
}

bool expectFrozen(const std::string& freeze, int64_t position, int64_t depth) {
    if (freeze == "none") return false;
    if (freeze == "all") return true;
    const int64_t n = std::stoll(freeze.substr(5));
    return position < depth - n;
}

double expectMultiplier(double decay, int64_t position, int64_t depth) {
    // Embeddings d^(L+1), block i d^(L−i), the top d^0.
    const int64_t exponent = position < 0 ? depth + 1 : depth - position;
    return std::pow(decay, double(exponent));
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

// 486 px → 59 patches of 16 px; a two-block model that trains in a second.
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

} // namespace

class TestFineTune : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void groupsCoverTheBackbone_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("freeze");
        QTest::addColumn<double>("decay");
        for (const char* model : {"vit", "specformer"}) {
            const int depth = std::string(model) == "vit" ? 6 : 4;
            const std::string lastAll = "last:" + std::to_string(depth);
            for (const std::string freeze : {"none", "all", "last:1", "last:3", lastAll.c_str()})
                for (double decay : {1.0, 0.75})
                    QTest::addRow("%s %s d=%g", model, freeze.c_str(), decay)
                        << QString(model) << QString::fromStdString(freeze) << decay;
        }
    }

    void groupsCoverTheBackbone() {
        QFETCH(QString, model);
        QFETCH(QString, freeze);
        QFETCH(double, decay);
        auto options = FineTuneOptions::parseFreeze(freeze.toStdString());
        options.layerDecay = decay;
        const std::string prefix = "student.backbone.";
        const double base = 0.5;

        torch::manual_seed(0);
        std::shared_ptr<torch::nn::Module> module;
        std::vector<train::ParamGroup> groups;
        int64_t depth = 0;
        if (model == "vit") {
            models::VisionTransformer vit(models::ViTConfig::preset("tiny"));
            depth = vit->config().depth;
            groups = backboneParamGroups(prefix, *vit, options, base);
            module = vit.ptr();
        } else {
            models::SpecFormer spec(models::SpecFormerConfig::preset("tiny"));
            depth = spec->config().depth;
            groups = backboneParamGroups(prefix, *spec, options, base);
            module = spec.ptr();
        }

        std::map<std::string, const train::ParamGroup*> groupOf;
        for (const auto& g : groups) {
            QVERIFY2(!g.parameters.empty(), g.name.c_str());
            QVERIFY(g.name.rfind(prefix, 0) == 0);
            for (const auto& p : g.parameters)
                QVERIFY2(groupOf.emplace(p.name, &g).second, ("in two groups: " + p.name).c_str());
        }
        const auto params = module->named_parameters(true);
        QCOMPARE(groupOf.size(), params.size());
        std::set<int64_t> positions;
        for (const auto& item : params) {
            const auto it = groupOf.find(prefix + item.key());
            QVERIFY2(it != groupOf.end(), ("in no group: " + item.key()).c_str());
            const auto& g = *it->second;
            const auto tensor = std::find_if(g.parameters.begin(), g.parameters.end(),
                                             [&](const train::NamedTensor& t) { return t.name == it->first; });
            QVERIFY(tensor->tensor.is_same(item.value()));
            const int64_t position = depthPosition(item.key(), depth);
            positions.insert(position);
            QVERIFY2(g.frozen == expectFrozen(freeze.toStdString(), position, depth), item.key().c_str());
            QVERIFY2(std::abs(g.lrMultiplier - base * expectMultiplier(decay, position, depth)) < 1e-12,
                     item.key().c_str());
        }
        // Embeddings, every block and the top were all seen: one group per depth position.
        QCOMPARE(int64_t(positions.size()), depth + 2);
        QCOMPARE(int64_t(groups.size()), depth + 2);

        // The trainer's optimizer takes the groups as they are: frozen ones left out, the
        // others at schedule × multiplier.
        if (freeze == "all") {
            QVERIFY(!thrownMessage([&] { train::RunOptimizer(groups, train::TrainParams{}); }).isEmpty());
            return;
        }
        train::RunOptimizer optimizer(groups, train::TrainParams{});
        optimizer.setLearningRate(1e-3);
        std::set<std::string> optimised;
        for (size_t i = 0; i < optimizer.groups().size(); ++i)
            for (const auto& p : optimizer.groups()[i].parameters) {
                optimised.insert(p.name);
                QVERIFY(std::abs(optimizer.groupLearningRate(i) - 1e-3 * groupOf.at(p.name)->lrMultiplier) < 1e-15);
            }
        for (const auto& [name, group] : groupOf) QCOMPARE(optimised.count(name) == 1, !group->frozen);
    }

    void parseRefusesWithTheText_data() {
        QTest::addColumn<QString>("text");
        for (const char* bad : {"", "None", "last", "last:", "last:0", "last:-1", "last:2x", "last: 2", "first:2", "some",
                                "last:99999999"})
            QTest::addRow("'%s'", bad) << QString(bad);
    }

    void parseRefusesWithTheText() {
        QFETCH(QString, text);
        const auto message = thrownMessage([&] { FineTuneOptions::parseFreeze(text.toStdString()); });
        QVERIFY2(!message.isEmpty(), "accepted");
        QVERIFY2(message.contains("'" + text + "'"), qPrintable(message));
        QVERIFY2(message.contains("last:N"), qPrintable(message));
    }

    void parseAndJsonRoundTrip() {
        auto o = FineTuneOptions::parseFreeze("last:2");
        QVERIFY(o.freeze == FreezeMode::LastBlocks);
        QCOMPARE(o.trainableBlocks, 2);
        QCOMPARE(o.layerDecay, 1.0);
        o.layerDecay = 0.75;
        const auto json = o.toJson();
        QCOMPARE(json, nlohmann::json({{"freeze", "last:2"}, {"layer_decay", 0.75}}));
        const auto back = FineTuneOptions::fromJson(json);
        QVERIFY(back.freeze == FreezeMode::LastBlocks);
        QCOMPARE(back.trainableBlocks, 2);
        QCOMPARE(back.layerDecay, 0.75);
        QCOMPARE(FineTuneOptions::parseFreeze("all").toJson()["freeze"].get<std::string>(), std::string("all"));
        QVERIFY(FineTuneOptions::parseFreeze("none").freeze == FreezeMode::None);
        QVERIFY(!thrownMessage([] { FineTuneOptions::fromJson({{"freeze", "last:2"}}); }).isEmpty());
        QVERIFY(!thrownMessage([] { FineTuneOptions::fromJson({{"freeze", "top"}, {"layer_decay", 1}}); }).isEmpty());
    }

    void validateRefusesWithReasons() {
        auto tooMany = FineTuneOptions::parseFreeze("last:7");
        const auto m1 = thrownMessage([&] { tooMany.validate(6); });
        QVERIFY2(m1.contains("last:7") && m1.contains("6"), qPrintable(m1));
        tooMany.validate(7);  // exactly the depth is fine

        FineTuneOptions zero;
        zero.freeze = FreezeMode::LastBlocks;
        zero.trainableBlocks = 0;
        QVERIFY(thrownMessage([&] { zero.validate(6); }).contains("last:0"));

        for (double decay : {0.0, -0.5, 1.5, double(NAN)}) {
            FineTuneOptions o;
            o.layerDecay = decay;
            const auto m = thrownMessage([&] { o.validate(6); });
            QVERIFY2(m.contains("(0, 1]"), qPrintable(m));
        }
        // The grouping validates too.
        models::VisionTransformer vit(models::ViTConfig::preset("tiny"));
        QVERIFY(!thrownMessage([&] { backboneParamGroups("", *vit, FineTuneOptions::parseFreeze("last:9"), 1.0); })
                     .isEmpty());
        // The spectrum stage refuses a setting that leaves it nothing to train.
        SpectrumStageOptions so;
        so.batchSize = 8;
        so.finetune = FineTuneOptions::parseFreeze("all");
        const auto m2 = thrownMessage([&] { SpectrumStage(stagetest::galaxySnapshot(16, 0, 1), smallSpecFormer(1), so); });
        QVERIFY2(m2.contains("all"), qPrintable(m2));
    }

    void trainingMovesOnlyTrainableTensors() {
        // SpecFormer masked modelling with the last block, final norm and head trainable at
        // decayed rates: the embeddings and block 0 must come out bit-identical.
        auto snap = stagetest::galaxySnapshot(48, 0, 7);
        SpectrumStageOptions opts;
        opts.batchSize = 8;
        opts.finetune = FineTuneOptions::parseFreeze("last:1");
        opts.finetune.layerDecay = 0.75;
        auto model = smallSpecFormer(5);
        SpectrumStage stage(snap, model, opts);
        QCOMPARE(stage.config()["finetune"], opts.finetune.toJson());
        std::map<std::string, torch::Tensor> before;
        for (const auto& item : model->named_parameters(true)) before[item.key()] = item.value().detach().clone();

        train::TrainParams p;
        p.steps = 4;
        p.warmupSteps = 1;
        p.lr = 1e-3;
        p.device = "cpu";
        p.threads = 1;
        p.seed = 3;
        const auto result = train::train(stage, p);
        QVERIFY(result.status == train::TrainStatus::Completed);

        int moved = 0, kept = 0;
        for (const auto& item : model->named_parameters(true)) {
            const auto& name = item.key();
            const bool frozen = depthPosition(name, 2) < 1;
            QCOMPARE(item.value().requires_grad(), !frozen);
            const bool same = torch::equal(item.value().detach(), before.at(name));
            QVERIFY2(same == frozen, (name + (frozen ? " moved though frozen" : " did not move")).c_str());
            (frozen ? kept : moved) += 1;
        }
        QVERIFY(kept >= 4 && moved >= 4);
        // Frozen parts run in eval mode (no dropout), the trainable ones in training mode.
        QVERIFY(!model->is_training());
        QVERIFY(!model->blocks[0]->is_training());
        QVERIFY(model->blocks[1]->is_training());
        QVERIFY(model->final_layernorm->is_training());
        QVERIFY(model->head->is_training());
    }
};

QTEST_GUILESS_MAIN(TestFineTune)
#include "tst_finetune.moc"
