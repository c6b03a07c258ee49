// Embeddings in the catalog: vectors round-trip bit for bit, per (model, modality, space);
// a batch replaces what its objects held and is all or nothing; a set's dimension and source
// (what made it) are fixed until it is deleted; refusals name the catalog and the problem;
// a schema-2 catalog's vectors become sets on upgrade.
#include "catalog_test_util.h"

#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;

namespace {

const std::string kSource = "/runs/clip-a/checkpoint-100 step 100";

ModelRecord clipModel(const std::string& name) {
    ModelRecord m;
    m.name = name;
    m.stage = "clip";
    m.path = "/runs/" + name + "/checkpoint-100";
    return m;
}

std::vector<int64_t> addObjects(Catalog& cat, int n) {
    std::vector<int64_t> ids;
    Catalog::Transaction tx(cat);
    for (int i = 0; i < n; ++i) {
        ObjectRecord rec;
        rec.keys = {"obj:" + std::to_string(i)};
        rec.ra = 150.0 + 0.01 * i;
        rec.dec = 2.0;
        ids.push_back(cat.addObject(rec));
    }
    tx.commit();
    return ids;
}

// Values that round-trip only if stored as raw float32 (no text or double conversion).
std::vector<float> vectorsFor(const std::vector<int64_t>& ids, int dim, float salt) {
    std::vector<float> v;
    for (const int64_t id : ids)
        for (int d = 0; d < dim; ++d) v.push_back(std::nextafter(float(id) * 0.1f + float(d) + salt, 1e9f));
    return v;
}

} // namespace

class TestCatalogEmbeddings : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTripPerKey() {
        const std::string path = fresh();
        std::vector<int64_t> ids;
        int64_t model = 0;
        {
            auto cat = Catalog::open(path);
            ids = addObjects(cat, 5);
            model = cat.registerModel(clipModel("clip-a"));
            const EmbeddingKey image{model, "image", "aligned"}, spectrum{model, "spectrum", "aligned"};
            const std::vector<int64_t> firstThree(ids.begin(), ids.begin() + 3);
            cat.storeEmbeddings(image, firstThree, vectorsFor(firstThree, 4, 0.f).data(), 4, kSource);
            cat.storeEmbeddings(spectrum, ids, vectorsFor(ids, 4, 0.5f).data(), 4, kSource);
            cat.storeEmbeddings({model, "image", "backbone"}, ids, vectorsFor(ids, 6, 0.f).data(), 6, kSource);
        }
        // Another connection reads exactly what was written.
        auto cat = Catalog::open(path, false);
        const EmbeddingKey image{model, "image", "aligned"};
        QCOMPARE(cat.embeddedObjects(image), std::vector<int64_t>(ids.begin(), ids.begin() + 3));
        const auto all = cat.embeddings(image);
        QCOMPARE(all.dim, 4);
        QCOMPARE(all.ids, std::vector<int64_t>(ids.begin(), ids.begin() + 3));
        QVERIFY(all.values == vectorsFor(all.ids, 4, 0.f));
        QCOMPARE(cat.embeddings({model, "spectrum", "aligned"}).ids, ids);
        QCOMPARE(cat.embeddings({model, "image", "backbone"}).dim, 6);

        // A subset, given unsorted with a repeat and an object without a vector.
        const std::vector<int64_t> ask = {ids[2], ids[4], ids[0], ids[2]};
        const auto some = cat.embeddings(image, &ask);
        QCOMPARE(some.ids, (std::vector<int64_t>{ids[0], ids[2]}));
        QVERIFY(some.values == vectorsFor(some.ids, 4, 0.f));

        // Nothing stored: empty, dim 0.
        const auto none = cat.embeddings({model, "image", "elsewhere"});
        QVERIFY(none.ids.empty());
        QCOMPARE(none.dim, 0);

        // info() counts each key; each set says what made it.
        const auto info = cat.info();
        QCOMPARE(info.embeddings.size(), size_t(3));
        const auto sets = cat.embeddingSets();
        QCOMPARE(sets.size(), size_t(3));
        QCOMPARE(sets[0].key.modality, std::string("image"));
        QCOMPARE(sets[0].key.space, std::string("aligned"));
        QCOMPARE(sets[0].model, std::string("clip-a"));
        QCOMPARE(sets[0].count, int64_t(3));
        QCOMPARE(sets[0].dim, 4);
        QCOMPARE(sets[0].source, kSource);
        QCOMPARE(cat.embeddingSet({model, "image", "backbone"})->dim, 6);
        QVERIFY(!cat.embeddingSet({model, "image", "elsewhere"}));
    }

    void batchReplacesItsObjects() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 3);
        const EmbeddingKey key{cat.registerModel(clipModel("m")), "spectrum", "backbone"};
        cat.storeEmbeddings(key, ids, vectorsFor(ids, 3, 0.f).data(), 3, kSource);
        const std::vector<int64_t> second = {ids[1]};
        cat.storeEmbeddings(key, second, vectorsFor(second, 3, 7.f).data(), 3, kSource);
        const auto m = cat.embeddings(key);
        QCOMPARE(m.ids, ids);
        QCOMPARE(m.values[3], vectorsFor(second, 3, 7.f)[0]);
        QCOMPARE(m.values[0], vectorsFor({ids[0]}, 3, 0.f)[0]);
    }

    void refusalsLeaveStoredVectors_data() {
        QTest::addColumn<QString>("problem");
        QTest::addColumn<QString>("expected");
        QTest::newRow("other dimension") << "dim" << "3-dimensional; refusing to add 5-dimensional";
        QTest::newRow("not finite") << "nan" << "not finite";
        QTest::newRow("unknown object") << "object" << "no object with id 999";
        QTest::newRow("repeated object") << "repeat" << "appears twice";
        QTest::newRow("unknown model") << "model" << "no model with id 77";
        QTest::newRow("no space") << "space" << "needs a modality and a space";
        QTest::newRow("other source") << "source" << "refusing to mix in vectors made by /runs/clip-a/checkpoint-200";
    }
    void refusalsLeaveStoredVectors() {
        QFETCH(QString, problem);
        QFETCH(QString, expected);
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 3);
        EmbeddingKey key{cat.registerModel(clipModel("m")), "image", "aligned"};
        const std::vector<int64_t> first = {ids[0]};
        cat.storeEmbeddings(key, first, vectorsFor(first, 3, 0.f).data(), 3, kSource);

        // A batch that would overwrite ids[0] and add ids[1] before its bad row.
        std::vector<int64_t> batch = {ids[0], ids[1], ids[2]};
        int dim = 3;
        auto values = vectorsFor(batch, 3, 9.f);
        if (problem == "dim") {
            dim = 5;
            values = vectorsFor(batch, 5, 9.f);
        } else if (problem == "nan") {
            values[7] = std::numeric_limits<float>::quiet_NaN();
        } else if (problem == "object") {
            batch[2] = 999;
        } else if (problem == "repeat") {
            batch[2] = ids[1];
        } else if (problem == "model") {
            key.modelId = 77;
        } else if (problem == "space") {
            key.space.clear();
        }
        const std::string source = problem == "source" ? "/runs/clip-a/checkpoint-200 step 200" : kSource;
        try {
            cat.storeEmbeddings(key, batch, values.data(), dim, source);
            QFAIL("the batch was accepted");
        } catch (const UsageError& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(expected), qPrintable(message));
            QVERIFY2(message.startsWith(QString::fromStdString(path)), qPrintable(message));
        }
        // All or nothing: the stored vector is intact, nothing of the batch landed.
        const auto m = cat.embeddings({cat.model("m")->id, "image", "aligned"});
        QCOMPARE(m.ids, first);
        QVERIFY(m.values == vectorsFor(first, 3, 0.f));
    }

    void deletions() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 4);
        const int64_t a = cat.registerModel(clipModel("a")), b = cat.registerModel(clipModel("b"));
        for (const int64_t model : {a, b})
            cat.storeEmbeddings({model, "image", "aligned"}, ids, vectorsFor(ids, 2, 0.f).data(), 2, kSource);
        QCOMPARE(cat.deleteEmbeddings({a, "image", "aligned"}), int64_t(4));
        QVERIFY(cat.embeddedObjects({a, "image", "aligned"}).empty());
        QVERIFY(!cat.embeddingSet({a, "image", "aligned"}));
        QCOMPARE(cat.embeddingSets().size(), size_t(1));
        QCOMPARE(cat.embeddedObjects({b, "image", "aligned"}), ids);
        // After deletion a key may take another dimension.
        cat.storeEmbeddings({a, "image", "aligned"}, ids, vectorsFor(ids, 8, 0.f).data(), 8, kSource);
        QCOMPARE(cat.embeddings({a, "image", "aligned"}).dim, 8);
        QCOMPARE(cat.deleteEmbeddings({a, "spectrum", "aligned"}), int64_t(0));
    }

    // Vectors stored by a schema-2 build become a set with an empty source: they stay
    // readable, and a new store (whose source differs) is refused until they are deleted.
    void upgradeFromSchema2() {
        const std::string path = fresh();
        int64_t model = 0;
        std::vector<int64_t> ids;
        {
            auto v2 = Catalog::openAtVersion(path, 2);
            ids = addObjects(v2, 2);
            model = v2.registerModel(clipModel("old"));
            const auto values = vectorsFor(ids, 3, 0.f);
            for (size_t i = 0; i < ids.size(); ++i) {
                sqlite3_stmt* st = nullptr;
                QCOMPARE(sqlite3_prepare_v2(v2.handle(),
                                            "INSERT INTO embeddings(object_id, model_id, modality, space, dim, vector) "
                                            "VALUES (?1, ?2, 'image', 'backbone', 3, ?3)",
                                            -1, &st, nullptr),
                         SQLITE_OK);
                sqlite3_bind_int64(st, 1, ids[i]);
                sqlite3_bind_int64(st, 2, model);
                sqlite3_bind_blob(st, 3, values.data() + 3 * i, 3 * sizeof(float), SQLITE_TRANSIENT);
                QCOMPARE(sqlite3_step(st), SQLITE_DONE);
                sqlite3_finalize(st);
            }
        }
        auto cat = Catalog::open(path, false);
        const EmbeddingKey key{model, "image", "backbone"};
        const auto set = cat.embeddingSet(key);
        QVERIFY(set);
        QCOMPARE(set->dim, 3);
        QCOMPARE(set->count, int64_t(2));
        QCOMPARE(set->source, std::string());
        QVERIFY(cat.embeddings(key).values == vectorsFor(ids, 3, 0.f));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.storeEmbeddings(key, ids, vectorsFor(ids, 3, 1.f).data(), 3, kSource));
    }
};

QTEST_GUILESS_MAIN(TestCatalogEmbeddings)
#include "tst_catalog_embeddings.moc"
