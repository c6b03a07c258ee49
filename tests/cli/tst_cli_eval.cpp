// `astroclip eval` end to end on a copy of the shared simulated survey's catalog, with synthetic
// aligned vectors imported for a model (eval_peer.py builds them from the truth: redshift, mass,
// the quenched flag and a per-object part shared by both modalities): the folder gets eval.md,
// eval.json and PNG figures; the table holds every probe for the model and the raw-data
// baselines in the same rows; retrieval ranks equal numpy's and k-NN redshift predictions equal
// scikit-learn's KNeighborsRegressor on the same vectors; the few-shot rows beat the
// prevalence; bad requests exit 1 with one line naming the problem.
#include "cli_test_util.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QJsonObject jsonObject(const QByteArray& text) { return QJsonDocument::fromJson(text).object(); }

QByteArray readFile(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestCliEval : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_, out_;
    QJsonObject report_;

    QString path(const QString& name) const { return dir_.filePath(name); }
    RunResult eval(const QStringList& extra) const {
        return runAstroclip(QStringList{"eval", "--catalog", catalog_, "--threads", "1", "--quiet"} + extra);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString fixture = fixtureSurvey() + "/catalog.sqlite";
        if (!QFile::exists(fixture)) QSKIP("the sim_survey fixture is missing (run ctest, which makes it first)");
        if (runProgram("/usr/bin/python3", {"-c", "import numpy, sklearn"}).exitCode != 0)
            QSKIP("numpy and scikit-learn are needed under /usr/bin/python3 (Debian: python3-sklearn)");
        catalog_ = path("catalog.sqlite");
        QVERIFY(QFile::copy(fixture, catalog_));
        auto r = runProgram("/usr/bin/python3", {EVAL_PEER_SCRIPT, "make", catalog_, dir_.path()});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        for (const QString modality : {"image", "spectrum"}) {
            r = runAstroclip({"import-embeddings", "--catalog", catalog_, "--file", path(modality + ".csv"), "--model",
                              "synthetic", "--modality", modality, "--space", "aligned", "--columns", "e*", "--quiet"});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        }
        out_ = path("eval");
        // The quenched flag stands in for the tidal column: the fixture has too few tidal galaxies.
        r = eval({"--model", "synthetic", "--space", "aligned", "--out", out_, "--tidal-column", "truth_quenched",
                  "--tidal-seeds", "4"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        report_ = jsonObject(readFile(out_ + "/eval.json"));
        QVERIFY(!report_.isEmpty());
    }

    void writesTheFolder() {
        const QByteArray md = readFile(out_ + "/eval.md");
        QVERIFY(md.startsWith("# Evaluation of model synthetic (aligned space)"));
        QVERIFY(md.contains("| target | method | metric | synthetic | pca"));
        QVERIFY(md.contains("## Cross-modal retrieval"));
        const auto plots = report_["plots"].toArray();
        QCOMPARE(plots.size(), 3);  // redshift per modality, retrieval ranks
        for (const auto& p : plots) {
            const QByteArray png = readFile(p.toString());
            QVERIFY2(png.startsWith("\x89PNG\r\n\x1a\n") && png.size() > 2000, qPrintable(p.toString()));
        }
    }

    // Every probe for every feature set, in both modalities.
    void tableIsComplete() {
        QMap<QString, int> perFeatures;
        QSet<QString> targets;
        for (const auto& v : report_["rows"].toArray()) {
            const auto row = v.toObject();
            perFeatures[row["modality"].toString() + " " + row["features"].toString()] += 1;
            targets.insert(row["target"].toString());
        }
        // sSFR spans decades: it is probed in log.
        QCOMPARE(targets, (QSet<QString>{"truth_z", "truth_logmstar", "log10(truth_ssfr)", "truth_sample", "truth_quenched"}));
        // 3 regression targets × 3 methods + 1 classification × 3 + few-shot k = 5, 10, 20.
        for (const QString key : {"image model", "image pixels", "image pca32(pixels)", "spectrum model",
                                  "spectrum flux", "spectrum pca32(flux)"})
            QVERIFY2(perFeatures.value(key) == 15, qPrintable(key + ": " + QString::number(perFeatures.value(key))));
    }

    void equalsPeers() {
        const auto r = runProgram("/usr/bin/python3", {EVAL_PEER_SCRIPT, "check", catalog_, out_ + "/eval.json"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto peer = jsonObject(r.out.toUtf8());
        QCOMPARE(peer["image_ranks_differ"].toInt(-1), 0);
        QCOMPARE(peer["spectrum_ranks_differ"].toInt(-1), 0);
        QVERIFY2(peer["image_knn_max_diff"].toDouble(1) < 1e-4, qPrintable(r.out));
        QVERIFY2(peer["spectrum_knn_max_diff"].toDouble(1) < 1e-4, qPrintable(r.out));
        for (const auto& v : report_["retrieval"].toArray()) {
            const auto x = v.toObject();
            QCOMPARE(x["median_rank"].toDouble(), peer[x["from"].toString() + "_median_rank"].toDouble());
            // The shared identity part makes partners findable: far better than a random rank.
            QVERIFY(x["median_rank"].toDouble() < x["objects"].toDouble() / 8);
        }
    }

    // The vectors encode redshift and the quenched flag: the model's rows beat the guesses.
    void scoresAreSensible() {
        for (const auto& v : report_["rows"].toArray()) {
            const auto row = v.toObject();
            if (row["features"].toString() != "model") continue;
            const QString what = row["modality"].toString() + " " + row["target"].toString() + " " + row["method"].toString();
            // k-NN weighs the six identity dimensions like the two that carry the truth; ridge finds them.
            if (row["target"].toString() == "truth_z" && row["method"].toString() == "knn")
                QVERIFY2(row["score"].toDouble() > 0.5, qPrintable(what));
            if (row["target"].toString() == "truth_z" && row["method"].toString() == "ridge")
                QVERIFY2(row["score"].toDouble() > 0.8, qPrintable(what));
            if (row["metric"].toString() == "ap")
                QVERIFY2(row["score"].toDouble() > row["reference"].toDouble() + 0.3, qPrintable(what));
        }
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown model") << QStringList{"--model", "nope", "--out", path("x")} << "no model called";
        QTest::newRow("no vectors in space") << QStringList{"--model", "synthetic", "--out", path("x")}
                                             << "has no backbone embeddings";
        QTest::newRow("empty selection") << QStringList{"--model", "synthetic", "--space", "aligned", "--where",
                                                        "truth_z > 99", "--out", path("x")}
                                         << "no object matches";
        QTest::newRow("out is a file") << QStringList{"--model", "synthetic", "--space", "aligned", "--out",
                                                      catalog_} << "cannot create the output folder";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const auto r = eval(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);
    }
};

QTEST_GUILESS_MAIN(TestCliEval)
#include "tst_cli_eval.moc"
