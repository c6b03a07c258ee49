// `astroclip embed` end to end on a copy of the shared simulated survey's catalog, with short
// tiny runs trained by `astroclip train`: a clip run embeds both modalities in its aligned space
// (and its backbones on request); the vectors land in the catalog (read back by Python's
// sqlite3 + numpy: one finite float32 vector of the head's width per object, not collapsed);
// a rerun skips what is stored and --recompute reproduces it bit for bit; --where embeds a
// subset; training the model further makes the next embed replace the stale vectors rather
// than mix them in; refusals (a run without the modality, an empty selection, a folder that
// is not a run, an unknown catalog) exit 1 with one line naming the problem. `astroclip probe`
// then scores those vectors (k-NN, ridge, few-shot MLP; regression and classification):
// every held-out object predicted once, the score recomputed here from the printed
// predictions, and its refusals.
#include "cli_test_util.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

namespace {

QJsonObject jsonObject(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).object(); }

bool writeText(const QString& path, const QByteArray& text) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(text) == text.size();
}

// One set's numbers as Python reads them from the catalog file: "count dim finite spread
// sha256", spread = mean over dimensions of the std across objects.
QString pythonSummary(const QString& catalog, const QString& model, const QString& modality, const QString& space) {
    const QString script = R"(
import hashlib, sqlite3, sys
import numpy as np
c = sqlite3.connect(sys.argv[1])
rows = c.execute("SELECT e.dim, e.vector FROM embeddings e JOIN models m ON m.id = e.model_id "
                 "WHERE m.name = ? AND e.modality = ? AND e.space = ? ORDER BY e.object_id", sys.argv[2:5]).fetchall()
dims = {d for d, _ in rows}
v = np.stack([np.frombuffer(b, dtype='<f4') for _, b in rows])
print(len(rows), v.shape[1] if len(dims) == 1 else -1, int(np.isfinite(v).all()), float(v.std(0).mean()),
      hashlib.sha256(v.tobytes()).hexdigest())
)";
    return runProgram("/usr/bin/python3", {"-c", script, catalog, model, modality, space}).out.trimmed();
}

QJsonObject setOf(const QJsonObject& result, const QString& modality) {
    for (const auto& s : result["sets"].toArray())
        if (s.toObject()["modality"].toString() == modality) return s.toObject();
    return {};
}

} // namespace

class TestCliEmbed : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_, spectrumConfig_, config_;
    int objects_ = 0;

    QString path(const QString& name) const { return dir_.filePath(name); }
    RunResult train(const QString& kind, const QString& out, const QStringList& extra) const {
        return runAstroclip(QStringList{"train", kind, "--catalog", catalog_, "--out", path(out), "--threads", "1",
                                        "--device", "cpu", "--config", kind == "spectrum" ? spectrumConfig_ : config_,
                                        "--quiet"} + extra);
    }
    RunResult embed(const QStringList& extra) const {
        return runAstroclip(QStringList{"embed", "--catalog", catalog_, "--threads", "1", "--device", "cpu", "--json",
                                        "--quiet"} + extra);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString fixture = fixtureSurvey() + "/catalog.sqlite";
        if (!QFile::exists(fixture)) QSKIP("the sim_survey fixture is missing (run ctest, which makes it first)");
        if (runProgram("/usr/bin/python3", {"-c", "import numpy"}).exitCode != 0)
            QSKIP("numpy is not installed for /usr/bin/python3 (Debian: python3-numpy)");
        catalog_ = path("catalog.sqlite");
        QVERIFY(QFile::copy(fixture, catalog_));
        objects_ = jsonObject(runAstroclip({"info", "--catalog", catalog_, "--json"}).out)["objects"].toInt();
        QVERIFY(objects_ > 100);
        // Tiny presets, short spectra and small batches: each run takes seconds.
        config_ = path("fast.json");
        QVERIFY(writeText(config_, R"({"preset": "tiny", "train": {"warmup_steps": 1, "checkpoint_every": 0},
                                       "stage": {"batch_size": 16}})"));
        spectrumConfig_ = path("fast-spectrum.json");
        QVERIFY(writeText(spectrumConfig_, R"({"preset": "tiny", "train": {"warmup_steps": 1, "checkpoint_every": 0},
                                               "data": {"spectrum_downsample": 2}, "stage": {"batch_size": 16}})"));
        for (const auto& [kind, extra] :
             std::vector<std::pair<QString, QStringList>>{{"spectrum", {"--steps", "3"}}, {"image", {"--steps", "2"}}}) {
            const auto r = train(kind, kind, extra);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        }
        const auto r = train("clip", "clip",
                             {"--steps", "3", "--image-init", path("image"), "--spectrum-init", path("spectrum")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    }

    void clipRunEmbedsBothModalities() {
        auto r = embed({"--model", path("clip")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QCOMPARE(j["model"].toString(), QString("clip"));
        QCOMPARE(j["sets"].toArray().size(), 2);
        for (const QString modality : {"image", "spectrum"}) {
            const auto set = setOf(j, modality);
            QCOMPARE(set["space"].toString(), QString("aligned"));
            QCOMPARE(set["dim"].toInt(), 128);  // the tiny clip preset's shared width
            QCOMPARE(set["selected"].toInt(), objects_);
            QCOMPARE(set["embedded"].toInt() + set["without_data"].toInt(), objects_);
            QVERIFY(set["embedded"].toInt() > objects_ / 2);
            QCOMPARE(set["failed"].toArray().size(), 0);
            // What Python reads from the file: one finite 128-d vector per embedded object, spread out.
            const auto fields = pythonSummary(catalog_, "clip", modality, "aligned").split(' ');
            QCOMPARE(fields.size(), 5);
            QCOMPARE(fields[0].toInt(), set["embedded"].toInt());
            QCOMPARE(fields[1].toInt(), 128);
            QCOMPARE(fields[2], QString("1"));
            QVERIFY2(fields[3].toDouble() > 1e-3, qPrintable(fields[3]));
        }
        // The backbones' own vectors, on request.
        r = embed({"--model", path("clip"), "--space", "backbone", "--modality", "image"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(setOf(jsonObject(r.out), "image")["dim"].toInt(), 192);  // the tiny ViT's width
    }

    void rerunSkipsAndRecomputeReproduces() {
        const QString before = pythonSummary(catalog_, "clip", "spectrum", "aligned");
        auto r = embed({"--model", path("clip"), "--modality", "spectrum"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        auto set = setOf(jsonObject(r.out), "spectrum");
        QCOMPARE(set["embedded"].toInt(), 0);
        QVERIFY(set["already_embedded"].toInt() > 0);
        r = embed({"--model", path("clip"), "--modality", "spectrum", "--recompute"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(setOf(jsonObject(r.out), "spectrum")["already_embedded"].toInt(), 0);
        // The same vectors, bit for bit (same batches, same thread count).
        QCOMPARE(pythonSummary(catalog_, "clip", "spectrum", "aligned"), before);
    }

    void whereSelectsASubset() {
        auto r = embed({"--model", path("spectrum"), "--where", "truth_z < 0.3"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QCOMPARE(j["sets"].toArray().size(), 1);  // a spectrum run holds spectra only
        const auto set = setOf(j, "spectrum");
        QCOMPARE(set["space"].toString(), QString("backbone"));
        QVERIFY(set["selected"].toInt() > 0 && set["selected"].toInt() < objects_);
        const int subset = set["embedded"].toInt();
        QCOMPARE(pythonSummary(catalog_, "spectrum", "spectrum", "backbone").split(' ').value(0).toInt(), subset);
    }

    void furtherTrainingReplacesStaleVectors() {
        const QString before = pythonSummary(catalog_, "spectrum", "spectrum", "backbone");
        auto t = runAstroclip({"train", "spectrum", "--catalog", catalog_, "--out", path("spectrum"), "--steps", "5",
                               "--resume", "--threads", "1", "--device", "cpu", "--quiet"});
        QVERIFY2(t.exitCode == 0, qPrintable(t.err));
        auto r = embed({"--model", path("spectrum"), "--where", "truth_z < 0.3"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto set = setOf(jsonObject(r.out), "spectrum");
        QVERIFY(set["replaced_stale"].toBool());
        QCOMPARE(set["already_embedded"].toInt(), 0);
        const QString after = pythonSummary(catalog_, "spectrum", "spectrum", "backbone");
        QCOMPARE(after.split(' ').value(0), before.split(' ').value(0));
        QVERIFY(after.split(' ').value(4) != before.split(' ').value(4));
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("modality the run lacks") << QStringList{"--model", "image", "--modality", "spectrum"}
                                                << "has no spectrum backbone encoder";
        QTest::newRow("aligned space of a backbone run") << QStringList{"--model", "image", "--space", "aligned"}
                                                         << "has no aligned encoder";
        QTest::newRow("empty selection") << QStringList{"--model", "clip", "--where", "truth_z > 99"}
                                         << "no object matches --where 'truth_z > 99'";
        QTest::newRow("not a run") << QStringList{"--model", "."} << "holds no checkpoint";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        if (args.size() > 1 && !args[1].startsWith('/')) args[1] = path(args[1]);
        const auto r = embed(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.startsWith("astroclip: ") && r.err.contains(message), qPrintable(r.err));
        QCOMPARE(r.err.count('\n'), 1);
    }

    void probeScoresStoredVectors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("metric");
        QTest::newRow("knn redshift") << QStringList{"--target", "truth_z", "--method", "knn"} << "r2";
        QTest::newRow("ridge redshift") << QStringList{"--target", "truth_z", "--method", "ridge"} << "r2";
        QTest::newRow("mlp few-shot redshift") << QStringList{"--target", "truth_z", "--method", "mlp", "--labels", "30"}
                                               << "r2";
        QTest::newRow("knn sample class") << QStringList{"--target", "truth_sample", "--task", "classification"}
                                          << "accuracy";
        QTest::newRow("ridge quenched class")
            << QStringList{"--target", "truth_quenched", "--task", "classification", "--method", "ridge"} << "accuracy";
    }
    void probeScoresStoredVectors() {
        QFETCH(QStringList, args);
        QFETCH(QString, metric);
        const auto r = runAstroclip(QStringList{"probe", "--catalog", catalog_, "--model", path("clip"), "--modality",
                                                "image", "--threads", "1", "--json"} + args);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QCOMPARE(j["metric"].toString(), metric);
        QCOMPARE(j["space"].toString(), QString("aligned"));
        const auto truth = j["truth"].toArray(), predicted = j["predicted"].toArray();
        QCOMPARE(truth.size(), j["evaluated"].toInt());
        QCOMPARE(predicted.size(), truth.size());
        QVERIFY(j["evaluated"].toInt() > 20);
        if (args.contains("--labels")) QCOMPARE(j["labelled"].toInt(), 30);
        // The score, recomputed from what was printed.
        double score = 0;
        if (metric == "r2") {
            double mean = 0, residual = 0, total = 0;
            for (const auto& t : truth) mean += t.toDouble();
            mean /= truth.size();
            for (int i = 0; i < truth.size(); ++i) {
                residual += std::pow(truth[i].toDouble() - predicted[i].toDouble(), 2);
                total += std::pow(truth[i].toDouble() - mean, 2);
            }
            score = 1.0 - residual / total;
        } else {
            for (int i = 0; i < truth.size(); ++i) score += truth[i].toDouble() == predicted[i].toDouble();
            score /= truth.size();
            QVERIFY(j["classes"].toArray().size() >= 2);
        }
        QVERIFY2(std::abs(score - j["score"].toDouble()) < 1e-9, qPrintable(r.out.left(300)));
        qInfo("%s: %s %.3f (baseline %.3f)", QTest::currentDataTag(), qPrintable(metric), score,
              j["baseline"].toDouble());
    }

    void probeRefusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no embeddings") << QStringList{"--model", "image", "--modality", "image", "--target", "truth_z"}
                                       << "has no image backbone embeddings; compute them with astroclip embed first";
        QTest::newRow("unknown column") << QStringList{"--model", "clip", "--modality", "image", "--target", "zz"}
                                        << "unknown column 'zz'";
        QTest::newRow("text regression")
            << QStringList{"--model", "clip", "--modality", "image", "--target", "truth_sample"} << "--task classification";
        QTest::newRow("unknown model") << QStringList{"--model", "nothing", "--modality", "image", "--target", "truth_z"}
                                       << "no model called or trained in 'nothing'";
        QTest::newRow("too many labels")
            << QStringList{"--model", "clip", "--modality", "image", "--target", "truth_z", "--labels", "100000"}
            << "is more than the";
    }
    void probeRefusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        if (args[1] != "nothing") args[1] = path(args[1]);
        const auto r = runAstroclip(QStringList{"probe", "--catalog", catalog_} + args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.startsWith("astroclip: ") && r.err.contains(message), qPrintable(r.err));
    }

    void unknownCatalogIsRefused() {
        const auto r = runAstroclip({"embed", "--catalog", path("nothing.sqlite"), "--model", path("clip"), "--quiet"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("nothing.sqlite: no such catalog file"), qPrintable(r.err));
        QVERIFY(!QFile::exists(path("nothing.sqlite")));
    }
};

QTEST_GUILESS_MAIN(TestCliEmbed)
#include "tst_cli_embed.moc"
