// `astroclip import-embeddings` and `astroclip map` end to end on a copy of the shared simulated
// survey's catalog, against an independent peer (map_peer.py under /usr/bin/python3): the peer
// writes clustered 16-d vectors of the catalog's objects as CSV (one column per component),
// FITS (astropy, a vector column), ECSV keyed by catalog key (astropy, a multidimensional
// column) and HDF5 (h5py: a float64 dataset in a group with int32 ids; float32 with variable- or
// fixed-length string keys); each import stores the
// same float32 vectors, read back from the file with sqlite3. Maps: PCA equals numpy's SVD of
// the unit vectors up to sign; UMAP 2-D/3-D keeps the clusters (trustworthiness, k-NN purity by
// scikit-learn); a current map is reused, --recompute remakes it bit for bit, other parameters
// or a re-import of changed vectors replace it; a --where map is not stored; --out writes what
// is stored (CSV and ECSV, read by astropy). Refusals exit 1 with one line naming the problem.
#include "cli_test_util.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QJsonObject jsonObject(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).object(); }

QJsonObject peer(const QStringList& args) {
    const auto r = runProgram("/usr/bin/python3", QStringList{MAP_PEER_SCRIPT} + args);
    if (r.exitCode != 0) qWarning("map_peer.py %s failed: %s", qPrintable(args.join(' ')), qPrintable(r.err));
    return jsonObject(r.out);
}

} // namespace

class TestCliMap : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_;
    int objects_ = 0;

    QString path(const QString& name) const { return dir_.filePath(name); }
    RunResult import(const QString& file, const QString& model, const QStringList& extra = {}) const {
        return runAstroclip(QStringList{"import-embeddings", "--catalog", catalog_, "--file", path(file), "--model", model,
                                        "--modality", "image", "--json"} + extra);
    }
    RunResult map(const QString& model, const QStringList& extra) const {
        return runAstroclip(QStringList{"map", "--catalog", catalog_, "--model", model, "--modality", "image",
                                        "--threads", "1", "--json"} + extra);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString fixture = fixtureSurvey() + "/catalog.sqlite";
        if (!QFile::exists(fixture)) QSKIP("the sim_survey fixture is missing (run ctest, which makes it first)");
        if (runProgram("/usr/bin/python3", {"-c", "import numpy, astropy, h5py, sklearn"}).exitCode != 0)
            QSKIP("the peer needs numpy, astropy, h5py and scikit-learn for /usr/bin/python3 (Debian: python3-numpy "
                  "python3-astropy python3-h5py python3-sklearn)");
        catalog_ = path("catalog.sqlite");
        QVERIFY(QFile::copy(fixture, catalog_));
        QFile::setPermissions(catalog_, QFile::ReadOwner | QFile::WriteOwner);
        objects_ = peer({"write", dir_.path(), catalog_})["n"].toInt();
        QVERIFY(objects_ >= 100);
    }

    // Each format stores exactly the peer's float32 vectors, for every object.
    void importEachFormat_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("format");
        QTest::newRow("CSV columns") << "vectors.csv" << "ext-csv" << QStringList{"--columns", "emb_*"} << "csv";
        QTest::newRow("FITS vector column") << "vectors.fits" << "ext-fits" << QStringList{} << "fits";
        QTest::newRow("ECSV by key") << "vectors_keys.ecsv" << "ext-ecsv"
                                     << QStringList{"--key-column", "key", "--vector-column", "vec"} << "ecsv";
        QTest::newRow("HDF5 dataset") << "vectors.h5" << "ext-h5" << QStringList{"--dataset", "/run/embeddings"} << "hdf5";
        QTest::newRow("HDF5 by key") << "vectors_keys.h5" << "ext-h5-keys" << QStringList{"--key-column", "key"} << "hdf5";
        QTest::newRow("HDF5 by fixed-length key")
            << "vectors_fixed_keys.h5" << "ext-h5-fixed" << QStringList{"--key-column", "key"} << "hdf5";
    }
    void importEachFormat() {
        QFETCH(QString, file);
        QFETCH(QString, model);
        QFETCH(QStringList, extra);
        QFETCH(QString, format);
        const auto r = import(file, model, extra);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QCOMPARE(j["format"].toString(), format);
        QCOMPARE(j["model_registered"].toBool(), true);
        QCOMPARE(j["imported"].toInt(), objects_);
        QCOMPARE(j["dim"].toInt(), 16);
        QCOMPARE(j["space"].toString(), QString("backbone"));
        QVERIFY2(j["source"].toString().startsWith("import:" + path(file) + " sha256:"), qPrintable(j["source"].toString()));
        const auto check = peer({"check-vectors", catalog_, model, "image", "backbone", path("vectors.npy")});
        QCOMPARE(check["count"].toInt(), objects_);
        QVERIFY(check["ids_match"].toBool());
        QVERIFY(check["equal"].toBool());
    }

    void pcaMatchesNumpy_data() {
        QTest::addColumn<int>("dims");
        QTest::newRow("2-D") << 2;
        QTest::newRow("3-D") << 3;
    }
    void pcaMatchesNumpy() {
        QFETCH(int, dims);
        const auto r = map("ext-fits", {"--method", "pca", "--dims", QString::number(dims)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QVERIFY(j["stored"].toBool());
        QCOMPARE(j["points"].toInt(), objects_);
        const auto check = peer({"pca", catalog_, "ext-fits", QString::number(dims), path("vectors.npy")});
        QCOMPARE(check["count"].toInt(), objects_);
        QVERIFY2(check["relative_error"].toDouble() < 1e-5, qPrintable(QString::number(check["relative_error"].toDouble())));
        const auto ours = j["explained_variance_ratio"].toArray(), theirs = check["variance_ratio"].toArray();
        QCOMPARE(ours.size(), dims);
        for (int k = 0; k < dims; ++k) QVERIFY(std::abs(ours[k].toDouble() - theirs[k].toDouble()) < 1e-6);
    }

    void umapKeepsClusters_data() {
        QTest::addColumn<int>("dims");
        QTest::newRow("2-D") << 2;
        QTest::newRow("3-D") << 3;
    }
    void umapKeepsClusters() {
        QFETCH(int, dims);
        const auto r = map("ext-csv", {"--method", "umap", "--dims", QString::number(dims)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QVERIFY(j["stored"].toBool());
        QCOMPARE(j["params"].toObject()["metric"].toString(), QString("cosine"));
        const auto q = peer({"quality", catalog_, "ext-csv", "umap", QString::number(dims), path("vectors.npy"),
                             path("labels.npy")});
        QCOMPARE(q["count"].toInt(), objects_);
        QVERIFY2(q["trustworthiness"].toDouble() > 0.9, qPrintable(QString::number(q["trustworthiness"].toDouble())));
        QVERIFY2(q["purity"].toDouble() > 0.95, qPrintable(QString::number(q["purity"].toDouble())));
    }

    void reuseRecomputeAndParams() {
        const QStringList args{"--method", "umap", "--dims", "2"};
        const QString before = peer({"points", catalog_, "ext-csv", "umap", "2"})["sha256"].toString();
        QVERIFY(!before.isEmpty());
        auto j = jsonObject(map("ext-csv", args).out);
        QVERIFY(j["reused"].toBool());
        QVERIFY(!j["stored"].toBool());
        const int id = j["map_id"].toInt();
        QVERIFY(id > 0);
        // --recompute: made again, the same bytes (same seed and threads).
        j = jsonObject(map("ext-csv", args + QStringList{"--recompute"}).out);
        QVERIFY(!j["reused"].toBool());
        QCOMPARE(j["replaced"].toString(), QString("recompute"));
        QCOMPARE(j["map_id"].toInt(), id);
        QCOMPARE(peer({"points", catalog_, "ext-csv", "umap", "2"})["sha256"].toString(), before);
        // Another seed is another map: it replaces the stored one.
        j = jsonObject(map("ext-csv", args + QStringList{"--seed", "3"}).out);
        QCOMPARE(j["replaced"].toString(), QString("params"));
        QVERIFY(peer({"points", catalog_, "ext-csv", "umap", "2"})["sha256"].toString() != before);
        QVERIFY(jsonObject(map("ext-csv", args + QStringList{"--seed", "3"}).out)["reused"].toBool());
    }

    // Re-importing changed vectors replaces the set; the map made from the old ones is stale.
    void staleAfterReimport() {
        auto r = import("vectors.csv", "ext-csv", {"--columns", "emb_*"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(jsonObject(r.out)["unchanged"].toBool());
        QVERIFY(jsonObject(map("ext-csv", {"--method", "pca"}).out)["stored"].toBool());
        QVERIFY(jsonObject(map("ext-csv", {"--method", "pca"}).out)["reused"].toBool());
        QVERIFY(QFile::copy(path("changed.csv"), path("vectors2.csv")));
        r = import("vectors2.csv", "ext-csv", {"--columns", "emb_"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        auto j = jsonObject(r.out);
        QVERIFY(!j["model_registered"].toBool());
        QVERIFY(j["replaced_source"].toString().startsWith("import:" + path("vectors.csv")));
        QVERIFY(peer({"check-vectors", catalog_, "ext-csv", "image", "backbone", path("changed.npy")})["equal"].toBool());
        // `info` says so before the map is remade.
        bool listedStale = false;
        for (const auto& m : jsonObject(runAstroclip({"info", "--catalog", catalog_, "--json"}).out)["maps"].toArray())
            if (m.toObject()["model"].toString() == "ext-csv" && m.toObject()["method"].toString() == "pca")
                listedStale = m.toObject()["stale"].toBool();
        QVERIFY(listedStale);
        j = jsonObject(map("ext-csv", {"--method", "pca"}).out);
        QVERIFY(!j["reused"].toBool());
        QCOMPARE(j["replaced"].toString(), QString("stale"));
        QVERIFY(peer({"pca", catalog_, "ext-csv", "2", path("changed.npy")})["relative_error"].toDouble() < 1e-5);
    }

    void outFiles_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("dims");
        QTest::newRow("CSV 2-D") << "points.csv" << 2;
        QTest::newRow("ECSV 3-D") << "points.ecsv" << 3;
    }
    void outFiles() {
        QFETCH(QString, file);
        QFETCH(int, dims);
        const auto r = map("ext-fits", {"--method", "pca", "--dims", QString::number(dims), "--out", path(file)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(jsonObject(r.out)["reused"].toBool());  // made by pcaMatchesNumpy
        const auto check = peer({"out", path(file), catalog_, "ext-fits", "pca", QString::number(dims)});
        QCOMPARE(check["rows"].toInt(), objects_);
        QVERIFY(check["equal_to_stored"].toBool());
        QVERIFY(check["ra_dec_match"].toBool());
        QCOMPARE(check["columns"].toArray().size(), dims + 3);
        if (file.endsWith(".ecsv")) QCOMPARE(check["ra_unit"].toString(), QString("deg"));
    }

    // A selection's map is returned (--out) but the stored whole-set map stays as it was.
    void selectionIsNotStored() {
        const QString before = peer({"points", catalog_, "ext-fits", "pca", "2"})["sha256"].toString();
        const auto r = map("ext-fits", {"--method", "pca", "--where", "truth_z < 0.4", "--out", path("sel.csv")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QVERIFY(!j["stored"].toBool());
        QCOMPARE(j["map_id"].toInt(), 0);
        QVERIFY(j["selected"].toInt() > 10 && j["selected"].toInt() < objects_);
        QCOMPARE(j["points"].toInt(), j["selected"].toInt());
        const auto check = peer({"selection", path("sel.csv"), catalog_, "0.4"});
        QCOMPARE(check["rows"].toInt(), j["selected"].toInt());
        QVERIFY(check["ids_match"].toBool());
        QCOMPARE(peer({"points", catalog_, "ext-fits", "pca", "2"})["sha256"].toString(), before);
    }

    void unknownIds() {
        auto r = import("unknown.csv", "ext-unknown", {"--columns", "emb_*"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("2 of its 7 rows name ids that are not objects") && r.err.contains("999999") &&
                     r.err.contains("--skip-unknown"),
                 qPrintable(r.err));
        QVERIFY2(r.err.contains(path("unknown.csv")), qPrintable(r.err));
        QCOMPARE(runAstroclip({"info", "--catalog", catalog_}).out.contains("ext-unknown"), false);  // nothing stored
        r = import("unknown.csv", "ext-unknown", {"--columns", "emb_*", "--skip-unknown"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(jsonObject(r.out)["imported"].toInt(), 5);
        QCOMPARE(jsonObject(r.out)["skipped_unknown"].toArray().size(), 2);
        QVERIFY(r.err.contains("2 rows left out"));
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        const QString cat = QStringLiteral("@CAT@");
        QTest::newRow("model without embeddings")
            << QStringList{"map", "--catalog", cat, "--model", "ext-csv", "--modality", "spectrum"}
            << "model 'ext-csv' has no spectrum backbone embeddings";
        QTest::newRow("unknown model") << QStringList{"map", "--catalog", cat, "--model", "nope", "--modality", "image"}
                                       << "no model called or trained in 'nope'";
        QTest::newRow("empty selection")
            << QStringList{"map", "--catalog", cat, "--model", "ext-csv", "--modality", "image", "--where", "truth_z > 100"}
            << "no object matches --where";
        QTest::newRow("too few for UMAP")
            << QStringList{"map", "--catalog", cat, "--model", "ext-unknown", "--modality", "image"}
            << "needs more than 15 points";
        QTest::newRow("unreadable file")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/garbage.fits", "--model", "g",
                           "--modality", "image"}
            << "garbage.fits";
        QTest::newRow("missing file")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/absent.h5", "--model", "g",
                           "--modality", "image"}
            << "absent.h5: no such file";
        QTest::newRow("wrong dimension")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/narrow.csv", "--model", "ext-csv",
                           "--modality", "image", "--columns", "emb_*"}
            << "holds 8-dimensional vectors but model 'ext-csv' already has 16-dimensional";
        QTest::newRow("NaN rows")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/nan.csv", "--model", "g",
                           "--modality", "image", "--columns", "emb_*"}
            << "2 rows have values that are not finite (NaN or infinite, or beyond float32): rows 3, 7";
        QTest::newRow("missing vector column")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/vectors.csv", "--model", "g",
                           "--modality", "image"}
            << "no vector column 'embedding' (columns: object_id, emb_12";
        QTest::newRow("missing HDF5 dataset")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/vectors.h5", "--model", "g",
                           "--modality", "image"}
            << "has no vectors dataset '/embedding'";
        QTest::newRow("trained model name")
            << QStringList{"import-embeddings", "--catalog", cat, "--file", "@DIR@/vectors.fits", "--model", "trained",
                           "--modality", "image"}
            << "model 'trained' was trained here";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        for (auto& a : args) a.replace("@CAT@", catalog_).replace("@DIR@", dir_.path());
        // A model trained here (as `astroclip train` registers it), for the last row.
        runProgram("/usr/bin/python3", {"-c",
                                        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                                        "c.execute(\"INSERT OR IGNORE INTO models(name, stage, path) VALUES "
                                        "('trained', 'clip', '/runs/clip/checkpoint-3')\"); c.commit()",
                                        catalog_});
        const QString beforeModels = runAstroclip({"info", "--catalog", catalog_, "--json"}).out;
        const auto r = runAstroclip(args);
        QCOMPARE(r.exitCode, 1);
        // One line saying why, after any progress lines.
        const QString last = r.err.trimmed().split('\n').last();
        QVERIFY2(last.startsWith("astroclip: ") && last.contains(expected), qPrintable(r.err));
        QCOMPARE(r.err.count("astroclip: "), 1);
        // Nothing stored: the catalog's models and sets are as before.
        QCOMPARE(runAstroclip({"info", "--catalog", catalog_, "--json"}).out, beforeModels);
    }
};

QTEST_GUILESS_MAIN(TestCliMap)
#include "tst_cli_map.moc"
