// Run configurations (core/runs/run_config.h): every preset of every stage kind is a valid
// configuration; a JSON file overrides exactly the keys it names; unknown keys are all named
// with what their section knows; wrong types are named by their dotted key; what a run
// records reads back to the same configuration.
#include "core/common/error.h"
#include "core/runs/run_config.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;
using namespace astroclip::runs;

Q_DECLARE_METATYPE(astroclip::runs::StageKind)

namespace {

QString writeConfig(const QTemporaryDir& dir, const QString& name, const QByteArray& text) {
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size()) return {};
    return path;
}

template <typename F>
QString errorOf(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestRunConfig : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void presetsAreValid_data() {
        QTest::addColumn<StageKind>("kind");
        QTest::addColumn<QString>("preset");
        for (auto kind : {StageKind::Image, StageKind::Spectrum, StageKind::Clip, StageKind::Supervised})
            for (const auto& preset : presetNames())
                QTest::newRow((std::string(stageKindName(kind)) + " " + preset).c_str())
                    << kind << QString::fromStdString(preset);
    }
    void presetsAreValid() {
        QFETCH(StageKind, kind);
        QFETCH(QString, preset);
        const auto c = presetConfig(kind, preset.toStdString());
        QCOMPARE(c.kind, kind);
        train::validate(c.train);
        QVERIFY(c.train.warmupSteps < c.train.steps);
        c.specformer.validate();
        c.image.vit.validate();
        QCOMPARE(c.specformer.inputLength, int64_t(7781 / c.data.spectrumDownsample));
        // The tiny preset is the CPU demo: a short run.
        if (preset == "tiny") QVERIFY(c.train.steps <= 200);
        // Recorded and read back, the configuration is the same.
        const auto json = configJson(c);
        QCOMPARE(configJson(configFromJson(kind, json, "run.json")), json);
    }

    void unknownPresetIsRefused() {
        const QString e = errorOf([] { presetConfig(StageKind::Spectrum, "huge"); });
        QVERIFY2(e.contains("huge") && e.contains("tiny, small, base, large"), qPrintable(e));
    }

    void fileOverridesOnlyItsKeys() {
        const QString path = writeConfig(dir_, "over.json", R"({"preset": "small", "train": {"lr": 0.002, "steps": 50},
            "model": {"depth": 3}, "stage": {"batch_size": 8, "ivar_weighted": true}, "data": {"spectrum_downsample": 4}})");
        const auto c = resolveConfig(StageKind::Spectrum, path.toStdString());
        const auto small = presetConfig(StageKind::Spectrum, "small");
        QCOMPARE(c.preset, std::string("small"));
        QCOMPARE(c.train.lr, 0.002);
        QCOMPARE(c.train.steps, int64_t(50));
        QCOMPARE(c.specformer.depth, int64_t(3));
        QCOMPARE(c.spectrum.batchSize, int64_t(8));
        QVERIFY(c.spectrum.ivarWeighted);
        QCOMPARE(c.data.spectrumDownsample, 4);
        QCOMPARE(c.specformer.inputLength, int64_t(7781 / 4));  // derived from the downsampling
        // Everything else is the preset's.
        QCOMPARE(c.train.weightDecay, small.train.weightDecay);
        QCOMPARE(c.specformer.embedDim, small.specformer.embedDim);
        QCOMPARE(c.spectrum.maskChunks, small.spectrum.maskChunks);
    }

    void unknownKeysAreAllNamed() {
        const QString path = writeConfig(dir_, "typo.json", R"({"train": {"lrr": 1, "lr": 0.1}, "stage": {"batch": 3},
                                                                "modle": {}})");
        const QString e = errorOf([&] { resolveConfig(StageKind::Spectrum, path.toStdString()); });
        for (const char* key : {"'train.lrr'", "'stage.batch'", "'modle'", "typo.json"})
            QVERIFY2(e.contains(key), qPrintable(e));
        QVERIFY2(e.contains("warmup_steps"), qPrintable(e));  // what the first one's section knows
    }

    void wrongTypesAreNamed_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("key");
        QTest::newRow("string for a number") << QByteArray(R"({"train": {"lr": "fast"}})") << "'train.lr'";
        QTest::newRow("real for an integer") << QByteArray(R"({"stage": {"batch_size": 8.5}})") << "'stage.batch_size'";
        QTest::newRow("negative seed") << QByteArray(R"({"data": {"split_seed": -1}})") << "'data.split_seed'";
        QTest::newRow("number for a flag") << QByteArray(R"({"stage": {"ivar_weighted": 1}})") << "'stage.ivar_weighted'";
        QTest::newRow("section as a value") << QByteArray(R"({"train": 3})") << "'train'";
        QTest::newRow("not JSON") << QByteArray(R"({"train": )") << "JSON";
        QTest::newRow("another kind") << QByteArray(R"({"kind": "image"})") << "image";
    }
    void wrongTypesAreNamed() {
        QFETCH(QByteArray, json);
        QFETCH(QString, key);
        const QString path = writeConfig(dir_, "bad.json", json);
        const QString e = errorOf([&] { resolveConfig(StageKind::Spectrum, path.toStdString()); });
        QVERIFY2(e.contains(key) && e.contains("bad.json"), qPrintable(e));
    }

    void missingFileIsNamed() {
        const QString e = errorOf([] { resolveConfig(StageKind::Clip, "/nonexistent/conf.json"); });
        QVERIFY2(e.contains("/nonexistent/conf.json") && e.contains("preset"), qPrintable(e));
    }

    // The frozen-backbone probe trains at a larger rate than fine-tuning (supervised_stage.h).
    void supervisedRateFollowsFreezing() {
        const auto frozen = presetConfig(StageKind::Supervised, "tiny", stages::FineTuneOptions::parseFreeze("all"));
        const auto tuned = presetConfig(StageKind::Supervised, "tiny", stages::FineTuneOptions::parseFreeze("none"));
        QVERIFY(frozen.train.lr > tuned.train.lr);
    }
};

QTEST_GUILESS_MAIN(TestRunConfig)
#include "tst_run_config.moc"
