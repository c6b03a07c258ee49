// `astroclip search` end to end on a copy of the shared simulated survey's catalog, embedded
// by a short tiny clip run: results equal a brute-force numpy search over the vectors Python
// reads from the catalog file (cross-modal and same-modal, with and without a --where filter,
// through FAISS's exact index and the LibTorch one); the index is kept beside the catalog,
// reused while current and rebuilt when the vectors change or the file is damaged; a query by
// FITS file embeds the file's object like the catalog's (its own stored object comes first,
// similarity 1); bad requests exit 1 with one line naming the problem. `astroclip patches`
// draws patch-feature PCA views with the same runs: one PNG per galaxy (cutout above its patch
// colours) and a montage, refusing unknown objects and runs without an image encoder; and
// `astroclip dense` trains linear segmentation and depth heads on the frozen patch tokens
// against the simulator's truth maps, beating the trivial answers (the majority class, the
// mean redshift), with its central footprints scored beside SEP's by dense_sep.py.
#include "cli_test_util.h"

#include <QDir>
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

// Brute-force cosine search in numpy over the catalog's stored vectors: for each query id,
// "id:score" of the k best, the query itself left out of a same-modal search. `where` is SQL
// on the objects table (truth columns are real columns there), "" for all.
const char* kNumpySearch = R"(
import sqlite3, sys
import numpy as np
cat, model, src, dst, k, where = sys.argv[1:7]
queries = [int(q) for q in sys.argv[7:]]
c = sqlite3.connect(cat)
def load(modality):
    rows = c.execute("SELECT e.object_id, e.vector FROM embeddings e JOIN models m ON m.id = e.model_id "
                     "WHERE m.name = ? AND e.modality = ? AND e.space = 'aligned' ORDER BY e.object_id",
                     (model, modality)).fetchall()
    ids = np.array([r[0] for r in rows])
    v = np.stack([np.frombuffer(r[1], dtype='<f4') for r in rows]).astype(np.float64)
    return ids, v / np.linalg.norm(v, axis=1, keepdims=True)
qids, qv = load(src)
tids, tv = load(dst)
if where:
    allowed = {r[0] for r in c.execute("SELECT id FROM objects WHERE " + where)}
    keep = np.array([i in allowed for i in tids])
    tids, tv = tids[keep], tv[keep]
for q in queries:
    s = tv @ qv[np.searchsorted(qids, q)]
    order = [j for j in np.argsort(-s, kind='stable') if not (src == dst and tids[j] == q)][:int(k)]
    print(" ".join("%d:%.7f" % (tids[j], s[j]) for j in order))
)";

struct Hit {
    qint64 id;
    double score;
};

QList<QList<Hit>> numpySearch(const QString& catalog, const QString& from, const QString& to, int k,
                              const QString& where, const QList<qint64>& queries) {
    QStringList args{"-c", kNumpySearch, catalog, "clip", from, to, QString::number(k), where};
    for (auto q : queries) args << QString::number(q);
    const auto r = runProgram("/usr/bin/python3", args);
    QList<QList<Hit>> out;
    for (const auto& line : r.out.split('\n', Qt::SkipEmptyParts)) {
        QList<Hit> hits;
        for (const auto& pair : line.split(' ', Qt::SkipEmptyParts))
            hits.push_back({pair.section(':', 0, 0).toLongLong(), pair.section(':', 1).toDouble()});
        out.push_back(hits);
    }
    return out;
}

QList<Hit> hitsOf(const QJsonObject& query) {
    QList<Hit> hits;
    for (const auto& h : query["hits"].toArray()) hits.push_back({h.toObject()["id"].toInteger(), h.toObject()["score"].toDouble()});
    return hits;
}

// Same neighbours in the same order, scores to float32 rounding; two neighbours may trade
// places only when their scores tie.
bool sameHits(const QList<Hit>& ours, const QList<Hit>& peer, QString* why) {
    if (ours.size() != peer.size()) {
        *why = QString("%1 hits, numpy %2").arg(ours.size()).arg(peer.size());
        return false;
    }
    for (int i = 0; i < ours.size(); ++i) {
        if (std::abs(ours[i].score - peer[i].score) > 2e-5) {
            *why = QString("rank %1: score %2, numpy %3").arg(i + 1).arg(ours[i].score).arg(peer[i].score);
            return false;
        }
        const bool tie = (i > 0 && std::abs(peer[i].score - peer[i - 1].score) < 2e-6) ||
                         (i + 1 < peer.size() && std::abs(peer[i].score - peer[i + 1].score) < 2e-6);
        if (ours[i].id != peer[i].id && !tie) {
            *why = QString("rank %1: object %2, numpy %3").arg(i + 1).arg(ours[i].id).arg(peer[i].id);
            return false;
        }
    }
    return true;
}

} // namespace

class TestCliSearch : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_, spectrumConfig_, config_;

    QString path(const QString& name) const { return dir_.filePath(name); }
    RunResult train(const QString& kind, const QString& out, const QStringList& extra) const {
        return runAstroclip(QStringList{"train", kind, "--catalog", catalog_, "--out", path(out), "--threads", "1",
                                        "--device", "cpu", "--config", kind == "spectrum" ? spectrumConfig_ : config_,
                                        "--quiet"} + extra);
    }
    RunResult search(const QStringList& extra) const {
        return runAstroclip(QStringList{"search", "--catalog", catalog_, "--threads", "1", "--json", "--quiet"} + extra);
    }
    QJsonObject searchJson(const QStringList& extra) const {
        const auto r = search(extra);
        if (r.exitCode != 0) qWarning("search failed: %s", qPrintable(r.err));
        return r.exitCode == 0 ? jsonObject(r.out) : QJsonObject{};
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
        config_ = path("fast.json");
        QVERIFY(writeText(config_, R"({"preset": "tiny", "train": {"warmup_steps": 1, "checkpoint_every": 0},
                                       "stage": {"batch_size": 16}})"));
        spectrumConfig_ = path("fast-spectrum.json");
        QVERIFY(writeText(spectrumConfig_, R"({"preset": "tiny", "train": {"warmup_steps": 1, "checkpoint_every": 0},
                                               "data": {"spectrum_downsample": 2}, "stage": {"batch_size": 16}})"));
        for (const QString kind : {"spectrum", "image"}) {
            const auto r = train(kind, kind, {"--steps", "2"});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        }
        auto r = train("clip", "clip", {"--steps", "3", "--image-init", path("image"), "--spectrum-init", path("spectrum")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runAstroclip({"embed", "--catalog", catalog_, "--model", path("clip"), "--threads", "1", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    }

    void equalsNumpy_data() {
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("to");
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("index");
        QTest::newRow("image→spectrum") << "image" << "spectrum" << "" << "Flat";
        QTest::newRow("spectrum→image") << "spectrum" << "image" << "" << "Flat";
        QTest::newRow("image→image") << "image" << "image" << "" << "Flat";
        QTest::newRow("spectrum→spectrum filtered") << "spectrum" << "spectrum" << "truth_z < 0.4" << "Flat";
        QTest::newRow("image→spectrum filtered") << "image" << "spectrum" << "truth_z >= 0.3" << "Flat";
        QTest::newRow("image→spectrum torch") << "image" << "spectrum" << "" << "torch:cpu";
        QTest::newRow("image→image filtered torch") << "image" << "image" << "truth_z < 0.4" << "torch:cpu";
    }
    void equalsNumpy() {
        QFETCH(QString, from);
        QFETCH(QString, to);
        QFETCH(QString, where);
        QFETCH(QString, index);
        const QList<qint64> queries{3, 17, 42};
        QStringList args{"--from", from, "--to", to, "--k", "10", "--index", index};
        for (auto q : queries) args << "--object" << QString::number(q);
        if (!where.isEmpty()) args << "--where" << where;
        const auto j = searchJson(args);
        QCOMPARE(j["model"].toString(), QString("clip"));  // the one model with these vectors, found unasked
        QCOMPARE(j["space"].toString(), QString("aligned"));
        const auto got = j["queries"].toArray();
        const auto peer = numpySearch(catalog_, from, to, 10, where, queries);
        QCOMPARE(got.size(), queries.size());
        QCOMPARE(peer.size(), queries.size());
        for (int q = 0; q < queries.size(); ++q) {
            const auto query = got[q].toObject();
            QCOMPARE(query["object_id"].toInteger(), queries[q]);
            QString why;
            QVERIFY2(sameHits(hitsOf(query), peer[q], &why), qPrintable(QString("query %1: %2").arg(queries[q]).arg(why)));
        }
    }

    void indexKeptAndRebuiltWhenStale() {
        const QStringList args{"--object", "5", "--from", "image", "--to", "spectrum", "--index", "HNSW32"};
        auto j = searchJson(args);
        auto index = j["index"].toObject();
        QVERIFY(QFile::exists(index["path"].toString()));
        QVERIFY(index["path"].toString().startsWith(catalog_ + ".indices/"));
        QCOMPARE(index["built"].toBool(), true);
        QCOMPARE(index["reason"].toString(), QString("none stored"));
        j = searchJson(args);
        QCOMPARE(j["index"].toObject()["built"].toBool(), false);  // current: loaded, not rebuilt
        // HNSW32 over a few hundred vectors finds the exact neighbours (here with a wider search).
        j = searchJson(args + QStringList{"--search-param", "efSearch=64"});
        QCOMPARE(j["index"].toObject()["built"].toBool(), false);
        const auto peer = numpySearch(catalog_, "image", "spectrum", 16, "", {5});
        QString why;
        QVERIFY2(sameHits(hitsOf(j["queries"].toArray()[0].toObject()), peer[0], &why), qPrintable(why));

        // The model trained further and re-embedded: the stored index is stale and rebuilt.
        auto r = runAstroclip({"train", "clip", "--catalog", catalog_, "--out", path("clip"), "--steps", "4", "--resume",
                               "--threads", "1", "--device", "cpu", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runAstroclip({"embed", "--catalog", catalog_, "--model", path("clip"), "--threads", "1", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        j = searchJson(args);
        index = j["index"].toObject();
        QCOMPARE(index["built"].toBool(), true);
        QVERIFY2(index["reason"].toString().startsWith("stale"), qPrintable(index["reason"].toString()));
        QVERIFY2(sameHits(hitsOf(j["queries"].toArray()[0].toObject()),
                          numpySearch(catalog_, "image", "spectrum", 16, "", {5})[0], &why),
                 qPrintable(why));

        // A damaged index file is only a cache: rebuilt, with the reason said.
        QFile f(index["path"].toString());
        QVERIFY(f.open(QIODevice::ReadWrite));
        f.seek(f.size() / 2);
        f.write("garbage");
        f.close();
        j = searchJson(args);
        QCOMPARE(j["index"].toObject()["built"].toBool(), true);
        QVERIFY2(j["index"].toObject()["reason"].toString().startsWith("damaged"),
                 qPrintable(j["index"].toObject()["reason"].toString()));
    }

    // A cutout file of the survey, embedded on the fly: its own catalog object comes first.
    void queryByFile() {
        const QDir cutouts(fixtureSurvey() + "/cutouts");
        const auto files = cutouts.entryList({"cutout-*.fits"}, QDir::Files, QDir::Name);
        QVERIFY(files.size() > 10);
        const QString file = cutouts.filePath(files[7]);
        // Which catalog object holds that cutout: its target id is in the file name.
        const QString targetId = files[7].section('-', 1).section('.', 0, 0);
        const auto sel = runAstroclip({"select", "--catalog", catalog_, "--where", "truth_targetid = " + targetId, "--json"});
        const auto rows = jsonObject(sel.out)["rows"].toArray();
        QCOMPARE(rows.size(), 1);
        const qint64 id = rows[0].toObject()["id"].toInteger();

        const auto j = searchJson({"--file", file, "--from", "image", "--to", "image", "--k", "5"});
        const auto queries = j["queries"].toArray();
        QCOMPARE(queries.size(), 1);
        const auto hits = hitsOf(queries[0].toObject());
        QCOMPARE(hits.size(), 5);
        QCOMPARE(hits[0].id, id);
        QVERIFY2(hits[0].score > 0.99999, qPrintable(QString::number(hits[0].score)));
        QVERIFY(queries[0].toObject()["query"].toString().contains(files[7]));

        // Cross-modal from the same file: the answers are spectra of the catalog.
        const auto x = searchJson({"--file", file, "--from", "image", "--to", "spectrum", "--k", "3"});
        QCOMPARE(hitsOf(x["queries"].toArray()[0].toObject()).size(), 3);
    }

    void patchViews() {
        const QString out = path("patches");
        const auto r = runAstroclip({"patches", "--catalog", catalog_, "--model", path("image"), "--where",
                                     "truth_z < 0.5", "--limit", "5", "--out", out, "--threads", "1", "--json", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QCOMPARE(j["objects"].toArray().size(), 5);
        QCOMPARE(j["grid"].toInt(), 8);  // the tiny ViT: 64-px crop, 8-px patches
        const double share = j["foreground_share"].toDouble();
        QVERIFY2(share > 0 && share < 1, qPrintable(QString::number(share)));
        for (const auto& f : j["files"].toArray()) {
            QFile png(f.toString());
            QVERIFY(png.open(QIODevice::ReadOnly));
            const QByteArray head = png.read(24);
            QVERIFY(head.startsWith("\x89PNG\r\n\x1a\n"));
            // IHDR: width and height, big-endian, right after the signature and chunk header.
            const auto be32 = [&](int at) { return (uchar(head[at]) << 24) | (uchar(head[at + 1]) << 16) | (uchar(head[at + 2]) << 8) | uchar(head[at + 3]); };
            QCOMPARE(be32(16), 64);
            QCOMPARE(be32(20), 128);  // the galaxy above its patch colours
        }
        QVERIFY(QFile::exists(j["montage"].toString()));

        auto bad = runAstroclip({"patches", "--catalog", catalog_, "--model", path("image"), "--object", "999999",
                                 "--out", out, "--quiet"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.err.contains("no object with id 999999"), qPrintable(bad.err));
        bad = runAstroclip({"patches", "--catalog", catalog_, "--model", path("spectrum"), "--object", "3", "--out", out,
                            "--quiet"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.err.contains("image"), qPrintable(bad.err));
    }

    void denseHeads() {
        const QString out = path("dense");
        auto r = runAstroclip({"dense", "--catalog", catalog_, "--model", path("image"), "--out", out, "--epochs", "15",
                               "--threads", "1", "--json", "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = jsonObject(r.out);
        QVERIFY(j["train_images"].toInt() > 150 && j["test_images"].toInt() > 30);
        const auto seg = j["segmentation"].toObject();
        QVERIFY2(seg["pixel_accuracy"].toDouble() > seg["majority_accuracy"].toDouble() + 0.1, qPrintable(r.out.left(600)));
        QVERIFY2(seg["mean_iou"].toDouble() > 0.4, qPrintable(r.out.left(600)));
        const auto depth = j["depth"].toObject();
        QVERIFY2(depth["rmse"].toDouble() < 0.9 * depth["rmse_predicting_mean"].toDouble(), qPrintable(r.out.left(600)));
        const auto central = j["central"].toObject();
        QCOMPARE(central["ids"].toArray().size(), j["test_images"].toInt());
        QVERIFY(central["mean_iou"].toDouble() > 0.4);

        // SEP's footprints on the same held-out cutouts, as the benchmark reports them.
        if (runProgram("/usr/bin/python3", {"-c", "import sep, astropy"}).exitCode != 0)
            QSKIP("python3-sep and python3-astropy are needed for the SEP comparison (packaging/setup.sh --with-test-peers)");
        r = runProgram("/usr/bin/python3", {DENSE_SEP_SCRIPT, catalog_, out + "/dense.json", "--rows"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto fields = r.out.trimmed().split('|');
        QCOMPARE(fields.size(), 4);
        const double sepIou = fields[2].section(' ', 1).toDouble();
        QVERIFY2(sepIou > 0 && sepIou < 1, qPrintable(r.out));

        r = runAstroclip({"dense", "--catalog", catalog_, "--model", path("spectrum"), "--out", out, "--quiet"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("image"), qPrintable(r.err));
    }

    void refusals_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown object") << QStringList{"--object", "999999", "--from", "image"} << "no object with id 999999";
        QTest::newRow("empty selection") << QStringList{"--object", "3", "--from", "image", "--where", "truth_z > 99"}
                                         << "no object matches";
        QTest::newRow("model without embeddings") << QStringList{"--object", "3", "--from", "image", "--model", "image"}
                                                  << "has no image backbone embeddings";
        QTest::newRow("cross-modal backbone") << QStringList{"--object", "3", "--from", "image", "--to", "spectrum",
                                                             "--space", "backbone"}
                                              << "needs the shared space of a clip model";
        QTest::newRow("unreadable file") << QStringList{"--file", "/nonexistent/x.fits", "--from", "image"}
                                         << "/nonexistent/x.fits: no such file";
        QTest::newRow("not a survey file") << QStringList{"--file", fixtureSurvey() + "/simulation.json", "--from", "image"}
                                           << "simulation.json: not a FITS file";
        QTest::newRow("bad index") << QStringList{"--object", "3", "--from", "image", "--index", "NoSuchIndex"}
                                   << "NoSuchIndex";
        QTest::newRow("unknown column") << QStringList{"--object", "3", "--from", "image", "--columns", "nope"}
                                        << "no column 'nope'";
        QTest::newRow("no query") << QStringList{"--from", "image"} << "--object ID or --file FILE";
        QTest::newRow("search setting not of the index")
            << QStringList{"--object", "3", "--from", "image", "--search-param", "nprobe=8"} << "nprobe";
        QTest::newRow("search setting not a number")
            << QStringList{"--object", "3", "--from", "image", "--search-param", "efSearch"} << "expected NAME=NUMBER";
    }
    void refusals() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const auto r = search(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);  // one line
    }
};

QTEST_GUILESS_MAIN(TestCliSearch)
#include "tst_cli_search.moc"
