// `astroclip train` end to end on a copy of the shared simulated survey's catalog: a tiny
// spectrum run and its resumption (metrics continue, one model, a run per call, the catalog's
// numbers equal the checkpoints'), refusals (bad --config key, missing catalog, occupied run
// folder, clip without backbones), a damaged checkpoint on --resume (exit 1, nothing stored
// lost), divergence (exit 1 naming the step and the last good checkpoint), a supervised run
// initialised from the spectrum run with a frozen backbone (its weights stay bit-identical,
// read back by a Python peer), and Ctrl-C (exit 130, checkpoint written, run cancelled).
#include "cli_test_util.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <csignal>

namespace {

QJsonObject jsonObject(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).object(); }
QJsonArray jsonArray(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).array(); }

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

QByteArray readBytes(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeText(const QString& path, const QByteArray& text) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(text) == text.size();
}

// Rows of an SQL query on the catalog, read by Python's sqlite3 (an independent reader).
QStringList sqlRows(const QString& catalog, const QString& query) {
    const QString script = "import sqlite3, sys\n"
                           "c = sqlite3.connect(sys.argv[1])\n"
                           "for row in c.execute(sys.argv[2]): print('|'.join(str(v) for v in row))\n";
    const auto r = runProgram("/usr/bin/python3", {"-c", script, catalog, query});
    return r.out.split('\n', Qt::SkipEmptyParts);
}

} // namespace

class TestCliTrain : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_, fastConfig_;

    QString path(const QString& name) const { return dir_.filePath(name); }
    QStringList train(const QString& kind, const QString& out, const QStringList& extra = {}) const {
        return QStringList{"train", kind, "--catalog", catalog_, "--out", path(out), "--threads", "1", "--device",
                           "cpu"} + extra;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString fixture = fixtureSurvey() + "/catalog.sqlite";
        if (!QFile::exists(fixture)) QSKIP("the sim_survey fixture is missing (run ctest, which makes it first)");
        // Training writes into the catalog: a copy, never the shared fixture.
        catalog_ = path("catalog.sqlite");
        QVERIFY(QFile::copy(fixture, catalog_));
        // The tiny preset with short spectra (3890 px: 96 tokens) and small batches: seconds.
        fastConfig_ = path("fast.json");
        QVERIFY(writeText(fastConfig_, R"({"preset": "tiny", "train": {"warmup_steps": 1, "checkpoint_every": 0},
                                           "data": {"spectrum_downsample": 2}, "stage": {"batch_size": 16}})"));
    }

    void helpAndPresetDescription() {
        QCOMPARE(runAstroclip({"train", "--help"}).exitCode, 0);
        const auto r = runAstroclip({"train", "spectrum", "--print-config", "tiny"});
        QCOMPARE(r.exitCode, 0);
        const auto j = jsonObject(r.out);
        QCOMPARE(j["kind"].toString(), QString("spectrum"));
        QCOMPARE(j["train"].toObject()["steps"].toInt(), 100);
        QCOMPARE(j["model"].toObject()["embed_dim"].toInt(), 128);
    }

    void spectrumTrainsAndResumes() {
        auto r = runAstroclip(train("spectrum", "spec", {"--config", fastConfig_, "--steps", "4", "--json"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        auto j = jsonObject(r.out);
        QCOMPARE(j["status"].toString(), QString("finished"));
        QCOMPARE(j["step"].toInt(), 4);
        QCOMPARE(j["checkpoint"].toString(), path("spec") + "/checkpoint-4");
        QVERIFY(QFile::exists(path("spec/checkpoint-4.safetensors")));
        QCOMPARE(readJson(path("spec/run.json"))["status"].toString(), QString("finished"));
        const int firstRun = j["run_id"].toInt();

        r = runAstroclip(train("spectrum", "spec", {"--steps", "8", "--resume", "--json"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        j = jsonObject(r.out);
        QCOMPARE(j["start_step"].toInt(), 4);
        QCOMPARE(j["step"].toInt(), 8);
        const int secondRun = j["run_id"].toInt();
        QVERIFY(secondRun != firstRun);

        // One model, at the last checkpoint; two runs, both finished.
        const auto info = jsonObject(runAstroclip({"info", "--catalog", catalog_, "--json"}).out);
        const auto models = info["models"].toArray();
        QCOMPARE(models.size(), 1);
        QCOMPARE(models[0].toObject()["name"].toString(), QString("spec"));
        QCOMPARE(models[0].toObject()["step"].toInt(), 8);
        QCOMPARE(models[0].toObject()["path"].toString(), path("spec") + "/checkpoint-8.safetensors");
        const auto runs = jsonArray(runAstroclip({"runs", "--catalog", catalog_, "--model", "spec", "--json"}).out);
        QCOMPARE(runs.size(), 2);
        for (const auto& run : runs) QCOMPARE(run.toObject()["status"].toString(), QString("finished"));
        QCOMPARE(runs[1].toObject()["step"].toInt(), 8);

        // The resumed run holds the whole curve, steps 1..8; the steps before the resume are the
        // first run's values, and every value is the one the checkpoint recorded.
        const auto history = readJson(path("spec/checkpoint-8.json"))["metrics"].toArray();
        QCOMPARE(history.size(), 8);
        const auto second = sqlRows(catalog_, QString("SELECT step, value FROM training_metrics WHERE run_id = %1 AND "
                                                      "name = 'loss' ORDER BY step").arg(secondRun));
        const auto first = sqlRows(catalog_, QString("SELECT step, value FROM training_metrics WHERE run_id = %1 AND "
                                                     "name = 'loss' ORDER BY step").arg(firstRun));
        QCOMPARE(second.size(), 8);
        QCOMPARE(first.size(), 4);
        for (int i = 0; i < 8; ++i) {
            const auto parts = second[i].split('|');
            QCOMPARE(parts[0].toInt(), i + 1);
            const double recorded = history[i].toObject()["terms"].toObject()["loss"].toDouble();
            QVERIFY2(qAbs(parts[1].toDouble() - recorded) <= 1e-12 * qAbs(recorded),
                     qPrintable(QString("step %1: %2 vs %3").arg(i + 1).arg(parts[1]).arg(recorded)));
            if (i < 4) QCOMPARE(first[i], second[i]);
        }
    }

    void badConfigKeyIsNamed() {
        const QString config = path("typo.json");
        QVERIFY(writeText(config, R"({"train": {"lrr": 0.1}, "stage": {"batch": 8}})"));
        const auto r = runAstroclip(train("spectrum", "typo", {"--config", config, "--quiet"}));
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("'train.lrr'") && r.err.contains("'stage.batch'") && r.err.contains("typo.json"),
                 qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);
        QVERIFY(!QFile::exists(path("typo")));
        QCOMPARE(sqlRows(catalog_, "SELECT count(*) FROM models WHERE name = 'typo'"), QStringList{"0"});
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("missing catalog") << QStringList{"train", "spectrum", "--catalog", "/nonexistent/c.sqlite",
                                                        "--out", "/nonexistent/run"}
                                         << "no such catalog";
        QTest::newRow("occupied run folder") << train("spectrum", "spec", {"--config", fastConfig_})
                                             << "holds a run already";
        QTest::newRow("clip without backbones") << train("clip", "clip") << "--image-init";
        QTest::newRow("freeze for clip") << train("clip", "clip", {"--freeze", "all"}) << "frozen";
        QTest::newRow("unknown preset") << train("spectrum", "p", {"--config", "huge"}) << "huge";
        QTest::newRow("resume without a run") << train("spectrum", "none", {"--resume"}) << "run.json";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const auto r = runAstroclip(args + QStringList{"--quiet"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.startsWith("astroclip: ") && r.err.contains(message), qPrintable(r.err));
    }

    // A damaged checkpoint stops the resume with a clear error; the run folder and the
    // catalog keep what they had, and the failed attempt is recorded.
    void damagedCheckpointOnResume() {
        auto r = runAstroclip(train("spectrum", "damaged", {"--config", fastConfig_, "--steps", "2", "--quiet"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString last = path("damaged/last.safetensors");
        const QByteArray checkpointBefore = readBytes(path("damaged/checkpoint-2.safetensors"));
        QByteArray bytes = readBytes(last);
        QVERIFY(bytes.size() > 4096);
        for (int i = 0; i < 16; ++i) bytes[bytes.size() - 100 + i] = char(bytes[bytes.size() - 100 + i] ^ 0x5a);
        // A new file, so the hard link to checkpoint-2 keeps the good bytes.
        QVERIFY(QFile::remove(last));
        QVERIFY(writeText(last, bytes));

        r = runAstroclip(train("spectrum", "damaged", {"--steps", "4", "--resume", "--quiet"}));
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("last.safetensors"), qPrintable(r.err));
        QCOMPARE(readBytes(path("damaged/checkpoint-2.safetensors")), checkpointBefore);
        QCOMPARE(readBytes(last), bytes);
        QVERIFY(!QFile::exists(path("damaged/checkpoint-4.safetensors")));
        const auto model = sqlRows(catalog_, "SELECT step, path FROM models WHERE name = 'damaged'");
        QCOMPARE(model, QStringList{"2|" + path("damaged") + "/checkpoint-2.safetensors"});
        const auto runs = sqlRows(catalog_, "SELECT r.status FROM training_runs r JOIN models m ON m.id = r.model_id "
                                            "WHERE m.name = 'damaged' ORDER BY r.id");
        QCOMPARE(runs, (QStringList{"finished", "failed"}));
        QCOMPARE(readJson(path("damaged/run.json"))["status"].toString(), QString("failed"));
    }

    void divergenceNamesStepAndCheckpoint() {
        const QString config = path("wild.json");
        QVERIFY(writeText(config, R"({"train": {"lr": 1e30, "min_lr": 0, "warmup_steps": 0, "checkpoint_every": 1,
                                                "grad_clip": 0}, "data": {"spectrum_downsample": 2},
                                      "stage": {"batch_size": 16}})"));
        const auto r = runAstroclip(train("spectrum", "wild", {"--config", config, "--steps", "6", "--quiet"}));
        QCOMPARE(r.exitCode, 1);
        const auto match = QRegularExpression("diverged at step (\\d+)").match(r.err);
        QVERIFY2(match.hasMatch(), qPrintable(r.err));
        const int step = match.captured(1).toInt();
        QVERIFY(step >= 2);  // the first step is taken at a finite loss from finite weights
        QVERIFY2(r.err.contains(QString("checkpoint-%1").arg(step - 1)), qPrintable(r.err));
        const auto run = sqlRows(catalog_, "SELECT r.status, m.step FROM training_runs r JOIN models m ON "
                                           "m.id = r.model_id WHERE m.name = 'wild'");
        QCOMPARE(run, QStringList{QString("failed|%1").arg(step - 1)});
    }

    // --init from the spectrum run with the backbone frozen: the supervised checkpoint's
    // "backbone.*" tensors are the spectrum run's, byte for byte (read by a Python peer).
    void supervisedFromSpectrumRunWithFrozenBackbone() {
        const QString config = path("probe.json");
        QVERIFY(writeText(config, R"({"train": {"warmup_steps": 1}, "stage": {"batch_size": 16}})"));
        const auto r = runAstroclip(train("supervised", "probe",
                                          {"--init", path("spec"), "--freeze", "all", "--target", "truth_z", "--task",
                                           "regression", "--modality", "spectrum", "--config", config, "--steps",
                                           "4", "--json"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(jsonObject(r.out)["status"].toString(), QString("finished"));
        const auto parent = sqlRows(catalog_, "SELECT p.name FROM models m JOIN models p ON p.id = m.parent_id "
                                              "WHERE m.name = 'probe'");
        QCOMPARE(parent, QStringList{"spec"});

        const QString script = R"(
import json, struct, sys
import numpy as np
def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop('__metadata__', None)
    return {k: data[v['data_offsets'][0]:v['data_offsets'][1]] for k, v in header.items()}
spec, probe = load(sys.argv[1]), load(sys.argv[2])
backbone = {k[len('backbone.'):]: v for k, v in probe.items() if k.startswith('backbone.')}
model = {k: v for k, v in spec.items() if not k.startswith(('optim.', 'rng.', 'extra.'))}
assert backbone and set(backbone) == set(model), (sorted(set(backbone) ^ set(model)))[:5]
differ = [k for k in model if backbone[k] != model[k]]
print('same' if not differ else 'differ: ' + ', '.join(differ[:5]))
)";
        const auto peer = runProgram("/usr/bin/python3", {"-c", script, path("spec/checkpoint-8.safetensors"),
                                                          path("probe/checkpoint-4.safetensors")});
        QVERIFY2(peer.out.trimmed() == "same", qPrintable(peer.out + peer.err));
    }

    // Ctrl-C: the trainer stops at the next step with a checkpoint; exit 130; run cancelled.
    void interruptWritesCheckpointAndCancels() {
        QProcess p;
        p.start(QString(ASTROCLIP_BIN_DIR) + "/astroclip",
                train("spectrum", "stopped", {"--config", fastConfig_, "--steps", "400"}));
        QVERIFY(p.waitForStarted(10000));
        QString err;
        // The first progress line comes after step 1 (a line per tenth, and the first).
        for (int i = 0; i < 600 && !err.contains("step 1/400"); ++i) {
            p.waitForReadyRead(100);
            err += QString::fromUtf8(p.readAllStandardError());
        }
        QVERIFY2(err.contains("step 1/400"), qPrintable(err));
        ::kill(pid_t(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(60000));
        err += QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitCode(), 130);
        const auto run = readJson(path("stopped/run.json"));
        QCOMPARE(run["status"].toString(), QString("cancelled"));
        const int step = run["step"].toInt();
        QVERIFY2(step >= 1 && step < 400, qPrintable(err));
        QVERIFY(QFile::exists(path(QString("stopped/checkpoint-%1.safetensors").arg(step))));
        const auto status = sqlRows(catalog_, "SELECT r.status, m.step FROM training_runs r JOIN models m ON "
                                              "m.id = r.model_id WHERE m.name = 'stopped'");
        QCOMPARE(status, QStringList{QString("cancelled|%1").arg(step)});
    }

    void infoListsModelsAndRuns() {
        const auto r = runAstroclip({"info", "--catalog", catalog_});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("spec (spectrum, step 8)"));
        QVERIFY(r.out.contains("probe (supervised, step 4)"));
        QVERIFY(r.out.contains("runs "));
        QVERIFY(r.out.contains("cancelled"));
        const auto j = jsonObject(runAstroclip({"info", "--catalog", catalog_, "--json"}).out);
        QVERIFY(j["runs"].toArray().size() >= 6);
        QCOMPARE(runAstroclip({"runs", "--catalog", catalog_, "--model", "nosuch"}).exitCode, 1);
    }
};

QTEST_GUILESS_MAIN(TestCliTrain)
#include "tst_cli_train.moc"
