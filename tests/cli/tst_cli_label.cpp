// `astroclip label` end to end on a copy of the shared simulated survey's catalog, with
// synthetic embeddings stored for a registered model through the Catalog API (the torch-free
// build cannot train): vectors of the simulator's tidal galaxies lean one way, so a head
// trained on a few labels must rank them first. Covers create/list/set/remove/show/delete,
// the CSV export → import round trip (values to the last bit, sources kept) and an import
// refused whole for one bad row (naming file and line), rank and suggest JSON (every
// unlabelled object ranked once, best first; suggestions distinct and unlabelled), the
// few-shot evaluation against truth_tidal (prevalence recomputed here from the catalog), and
// clear errors: unknown set, unknown object, model without embeddings, no positives.
#include "cli_test_util.h"

#include "core/catalog/catalog.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <random>
#include <set>

using namespace astroclip;

namespace {

QJsonObject jsonObject(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).object(); }
QJsonArray jsonArray(const QString& text) { return QJsonDocument::fromJson(text.toUtf8()).array(); }
QString num(int64_t v) { return QString::number(v); }

bool writeText(const QString& path, const QByteArray& text) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(text) == text.size();
}

constexpr int kDim = 16;
constexpr int kWithoutVector = 5;  // the last objects get no vector

} // namespace

class TestCliLabel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString catalog_;
    std::vector<int64_t> ids_, tidal_, plain_;  // all objects; with and without a tidal feature (with vectors)
    std::vector<int64_t> unembedded_;

    RunResult label(const QStringList& args) const { return runAstroclip(QStringList{"label"} + args + QStringList{"--catalog", catalog_}); }
    QJsonObject labelJson(const QStringList& args) const {
        const auto r = label(args + QStringList{"--json"});
        if (r.exitCode != 0) qWarning("%s", qPrintable(r.err));
        return jsonObject(r.out);
    }
    QStringList modelArgs(const QString& model = "synthetic") const {
        return {"--model", model, "--modality", "image"};
    }
    // Exit code 1 and one line on stderr containing `expected`.
    static void expectError(const RunResult& r, const QString& expected) {
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        const QString fixture = fixtureSurvey() + "/catalog.sqlite";
        if (!QFile::exists(fixture)) QSKIP("the sim_survey fixture is missing (run ctest, which makes it first)");
        catalog_ = dir_.filePath("catalog.sqlite");
        QVERIFY(QFile::copy(fixture, catalog_));
        QFile::setPermissions(catalog_, QFile::ReadOwner | QFile::WriteOwner);

        auto cat = Catalog::open(catalog_.toStdString(), false);
        ids_ = cat.select("");
        QVERIFY(ids_.size() > 100);
        const auto truth = cat.numbers(ids_, "truth_tidal");
        // Synthetic 16-d embeddings: noise, plus a push along the first axes for tidal galaxies.
        std::mt19937 rng(17);
        std::normal_distribution<float> noise(0.f, 1.f);
        std::vector<int64_t> embedded;
        std::vector<float> vectors;
        for (size_t i = 0; i < ids_.size(); ++i) {
            if (i + kWithoutVector >= ids_.size()) {
                unembedded_.push_back(ids_[i]);
                continue;
            }
            const bool tidal = truth[i] == 1.0;
            (tidal ? tidal_ : plain_).push_back(ids_[i]);
            embedded.push_back(ids_[i]);
            for (int d = 0; d < kDim; ++d) vectors.push_back(noise(rng) + (tidal && d < 4 ? 4.f : 0.f));
        }
        QVERIFY2(tidal_.size() >= 5, "the fixture survey needs a few tidal galaxies");
        ModelRecord model;
        model.name = "synthetic";
        model.stage = "image";
        model.path = dir_.filePath("synthetic/checkpoint-1.safetensors").toStdString();
        const int64_t modelId = cat.registerModel(model);
        cat.storeEmbeddings({modelId, "image", "backbone"}, embedded, vectors.data(), kDim, "synthetic test vectors");
        model.name = "unembedded";
        cat.registerModel(model);
    }

    void createListShowDelete() {
        auto r = label({"create", "morph", "--description", "by eye"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(label({"create", "mass", "--kind", "value"}).exitCode == 0);
        const auto sets = jsonArray(label({"list", "--json"}).out);
        QCOMPARE(sets.size(), 2);
        QCOMPARE(sets[0].toObject()["name"].toString(), QString("mass"));
        QCOMPARE(sets[0].toObject()["kind"].toString(), QString("value"));
        QCOMPARE(sets[1].toObject()["description"].toString(), QString("by eye"));
        expectError(label({"create", "morph"}), "exists already");
        expectError(label({"show", "nothing"}), "no label set called 'nothing'");

        QVERIFY(label({"set", "morph", "--value", "spiral", "--object", num(ids_[0]), num(ids_[1])}).exitCode == 0);
        const auto shown = labelJson({"show", "morph"});
        QCOMPARE(shown["count"].toInt(), 2);
        QCOMPARE(shown["labels"].toArray()[1].toObject()["value"].toString(), QString("spiral"));
        QCOMPARE(shown["labels"].toArray()[1].toObject()["source"].toString(), QString("user"));
        QCOMPARE(labelJson({"delete", "morph"})["labels"].toInt(), 2);
        QCOMPARE(jsonArray(label({"list", "--json"}).out).size(), 1);
        expectError(label({"delete", "morph"}), "no label set called 'morph'");
    }

    void setRemoveAndRefusals() {
        QVERIFY(label({"create", "kind"}).exitCode == 0);
        // By --where, then relabel one object by id: it is replaced, not added.
        auto j = labelJson({"set", "kind", "--value", "bright", "--where", "id <= " + num(ids_[9])});
        QCOMPARE(j["labelled"].toInt(), 10);
        j = labelJson({"set", "kind", "--value", "faint", "--object", num(ids_[3])});
        QCOMPARE(j["count"].toInt(), 10);
        const auto labels = labelJson({"show", "kind"})["labels"].toArray();
        QCOMPARE(labels[3].toObject()["value"].toString(), QString("faint"));
        QCOMPARE(labelJson({"remove", "kind", "--object", num(ids_[3]), num(ids_[50])})["removed"].toInt(), 1);

        // Refusals store nothing.
        expectError(label({"set", "kind", "--value", "x", "--object", num(ids_[20]), "99999999"}), "no object with id 99999999");
        expectError(label({"set", "kind", "--value", "x", "--object", "no:such:key"}), "no object with id or key 'no:such:key'");
        expectError(label({"set", "kind", "--value", "x", "--where", "id < 0"}), "no object matches");
        expectError(label({"set", "kind", "--value", "x"}), "--object ID... or choose them with --where");
        expectError(label({"set", "kind", "--value", "  ", "--object", num(ids_[20])}), "cannot be empty");
        QVERIFY(label({"create", "size", "--kind", "value"}).exitCode == 0);
        expectError(label({"set", "size", "--value", "big", "--object", num(ids_[20])}), "'big' is not one");
        QCOMPARE(labelJson({"show", "kind"})["count"].toInt(), 9);
        QCOMPARE(labelJson({"show", "size"})["count"].toInt(), 0);
    }

    void exportImportRoundTrip() {
        QVERIFY(label({"create", "redshift", "--kind", "value"}).exitCode == 0);
        QVERIFY(label({"set", "redshift", "--value", "0.33333333333333331", "--object", num(ids_[0])}).exitCode == 0);
        QVERIFY(label({"set", "redshift", "--value", "7", "--object", num(ids_[1])}).exitCode == 0);
        QVERIFY(label({"set", "redshift", "--value", "1e-300", "--object", num(ids_[2])}).exitCode == 0);
        const QString csv = dir_.filePath("redshift.csv");
        QCOMPARE(labelJson({"export", "redshift", "--out", csv})["written"].toInt(), 3);

        QVERIFY(label({"create", "copy", "--kind", "value"}).exitCode == 0);
        QCOMPARE(labelJson({"import", "copy", csv})["imported"].toInt(), 3);
        const auto a = labelJson({"show", "redshift"})["labels"].toArray(), b = labelJson({"show", "copy"})["labels"].toArray();
        QCOMPARE(a, b);  // ids, values (7 stays an integer, 1/3 every bit) and sources
        QCOMPARE(b[0].toObject()["value"].toDouble(), 1.0 / 3.0);
        QVERIFY(b[1].toObject()["value"].isDouble());

        // A file without a source column gets "import:<file>"; keys work as object ids.
        const auto keys = Catalog::open(catalog_.toStdString(), false).objectKeys(ids_[4]);
        QVERIFY(!keys.empty());
        const QString plain = dir_.filePath("plain.csv");
        QVERIFY(writeText(plain, "object_id,value\n# a comment\n\n" + num(ids_[5]).toUtf8() + ",2.5\n" +
                                     QByteArray::fromStdString(keys.front()) + ",3\n"));
        QCOMPARE(labelJson({"import", "copy", plain})["count"].toInt(), 5);
        const auto c = labelJson({"show", "copy"})["labels"].toArray();
        QCOMPARE(c[3].toObject()["object_id"].toInteger(), qint64(std::min(ids_[4], ids_[5])));
        QCOMPARE(c[4].toObject()["source"].toString(), QString("import:plain.csv"));

        // One bad row refuses the whole file, naming file and line.
        const QString bad = dir_.filePath("bad.csv");
        QVERIFY(writeText(bad, "object_id,value,source\n" + num(ids_[6]).toUtf8() + ",1,a\n\n" +
                                   num(ids_[7]).toUtf8() + ",x,b\n"));
        auto r = label({"import", "copy", bad});
        expectError(r, bad + ": line 4: label set 'copy' holds numbers; 'x' is not one");
        QVERIFY(writeText(bad, "object_id,value\n" + num(ids_[6]).toUtf8() + ",1\n99999999,2\n"));
        expectError(label({"import", "copy", bad}), bad + ": line 3: no object with id 99999999");
        QVERIFY(writeText(bad, "object_id,value\n" + num(ids_[6]).toUtf8() + ",1\n" + num(ids_[6]).toUtf8() + ",2\n"));
        expectError(label({"import", "copy", bad}), "line 3: object " + num(ids_[6]) + " is labelled twice");
        QVERIFY(writeText(bad, "id,label\n1,2\n"));
        expectError(label({"import", "copy", bad}), "needs the columns object_id and value");
        QCOMPARE(labelJson({"show", "copy"})["count"].toInt(), 5);
    }

    void rankAndSuggest() {
        QVERIFY(label({"create", "tidal"}).exitCode == 0);
        QStringList positives{"set", "tidal", "--value", "tidal", "--object"}, negatives{"set", "tidal", "--value", "none", "--object"};
        for (int i = 0; i < 3; ++i) positives << num(tidal_[size_t(i)]);
        for (int i = 0; i < 15; ++i) negatives << num(plain_[size_t(i)]);
        negatives << num(unembedded_[0]);  // labelled, but without a vector: left out
        QVERIFY(label(positives).exitCode == 0);
        QVERIFY(label(negatives).exitCode == 0);

        const auto j = labelJson(QStringList{"rank", "tidal", "--positive", "tidal", "--top", "0"} + modelArgs());
        QCOMPARE(j["positives"].toInt(), 3);
        QCOMPARE(j["negatives"].toInt(), 15);
        QCOMPARE(j["labelled_without_vector"].toInt(), 1);
        QCOMPARE(j["space"].toString(), QString("backbone"));
        QCOMPARE(j["dim"].toInt(), kDim);
        QVERIFY(j["head"].toObject()["converged"].toBool());
        const int candidates = int(ids_.size()) - kWithoutVector;
        QCOMPARE(j["candidates"].toInt(), candidates);
        const auto ranked = j["ranked"].toArray();
        QCOMPARE(ranked.size(), candidates - 18);
        std::set<int64_t> labelled(tidal_.begin(), tidal_.begin() + 3), seen;
        labelled.insert(plain_.begin(), plain_.begin() + 15);
        const std::set<int64_t> tidal(tidal_.begin(), tidal_.end());
        double previous = 2, hits = 0, ap = 0;
        for (int i = 0; i < ranked.size(); ++i) {
            const auto o = ranked[i].toObject();
            const int64_t id = o["id"].toInteger();
            QCOMPARE(o["rank"].toInt(), i + 1);
            QVERIFY(seen.insert(id).second);
            QVERIFY(!labelled.count(id));
            QVERIFY(o["probability"].toDouble() <= previous);
            previous = o["probability"].toDouble();
            if (tidal.count(id)) ap += ++hits / double(i + 1);  // precision at each hit
        }
        ap /= double(tidal_.size() - 3);
        const double prevalence = double(tidal_.size() - 3) / double(ranked.size());
        qInfo("rank: AP %.3f of the unlabelled tidal galaxies (prevalence %.3f)", ap, prevalence);
        QVERIFY2(ap > prevalence + 0.3, qPrintable(QString::number(ap)));

        const auto s = labelJson(QStringList{"suggest", "tidal", "--positive", "tidal", "--n", "6"} + modelArgs());
        const auto suggestions = s["suggestions"].toArray();
        QCOMPARE(suggestions.size(), 6);
        std::set<int64_t> suggested;
        for (const auto& v : suggestions) {
            const int64_t id = v.toObject()["id"].toInteger();
            QVERIFY(suggested.insert(id).second);
            QVERIFY(seen.count(id));  // a candidate, unlabelled
        }
        QCOMPARE(label(QStringList{"rank", "tidal", "--positive", "tidal"} + modelArgs()).exitCode, 0);  // text form
    }

    void evaluateAgainstTruth() {
        const auto j = labelJson(QStringList{"evaluate", "--truth-column", "truth_tidal", "--positive", "1", "--k", "2,3",
                                             "--seeds", "3"} + modelArgs());
        const int candidates = int(ids_.size()) - kWithoutVector;
        QCOMPARE(j["candidates"].toInt(), candidates);
        QCOMPARE(j["positives"].toInt(), int(tidal_.size()));
        const auto rows = j["rows"].toArray();
        QCOMPARE(rows.size(), 2);
        for (const auto& v : rows) {
            const auto row = v.toObject();
            const int k = row["k"].toInt();
            QCOMPARE(row["ranked"].toInt(), candidates - 2 * k);
            QCOMPARE(row["prevalence"].toDouble(), double(tidal_.size() - size_t(k)) / double(candidates - 2 * k));
            QCOMPARE(row["ap"].toArray().size(), 3);
            qInfo("evaluate: k = %d, AP %.3f ± %.3f, prevalence %.3f", k, row["mean_ap"].toDouble(),
                  row["std_ap"].toDouble(), row["prevalence"].toDouble());
            QVERIFY(row["mean_ap"].toDouble() > row["prevalence"].toDouble() + 0.3);
        }
        // The same seed gives the same draws.
        const auto again = labelJson(QStringList{"evaluate", "--truth-column", "truth_tidal", "--positive", "1", "--k",
                                                 "2,3", "--seeds", "3"} + modelArgs());
        QCOMPARE(again["rows"], j["rows"]);
    }

    void clearErrors() {
        QCOMPARE(label({"create", "errs"}).exitCode, 0);
        QVERIFY(label({"set", "errs", "--value", "a", "--object", num(plain_[0])}).exitCode == 0);
        expectError(runAstroclip(QStringList{"label", "rank", "nothing", "--positive", "a", "--catalog", catalog_} + modelArgs()),
                    "no label set called 'nothing'");
        expectError(label(QStringList{"rank", "errs", "--positive", "shells"} + modelArgs()), "no object labelled 'shells'");
        expectError(label(QStringList{"rank", "errs", "--positive", "a"} + modelArgs()), "at least one positive ('a') and one negative");
        expectError(label(QStringList{"rank", "errs", "--positive", "a"} + modelArgs("unembedded")),
                    "model 'unembedded' has no image backbone embeddings");
        expectError(label(QStringList{"suggest", "errs", "--positive", "a"} + modelArgs("nonesuch")), "no model called");
        expectError(label(QStringList{"evaluate", "--truth-column", "truth_nothing", "--positive", "1"} + modelArgs()),
                    "truth_nothing");
        expectError(label(QStringList{"evaluate", "--truth-column", "truth_tidal", "--positive", "1", "--k", "100000"} + modelArgs()),
                    "more than k positives and negatives");
        expectError(runAstroclip({"label", "list", "--catalog", dir_.filePath("missing.sqlite")}), "no such catalog");
    }
};

QTEST_GUILESS_MAIN(TestCliLabel)
#include "tst_cli_label.moc"
