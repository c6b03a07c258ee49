// Embeddings in the catalog: vectors round-trip bit for bit, per (model, modality, space);
// a batch replaces what its objects held and is all or nothing; the dimension of a key is
// fixed once stored (until deleted); refusals name the catalog and the problem.
#include "catalog_test_util.h"

#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;

namespace {

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
            cat.storeEmbeddings(image, firstThree, vectorsFor(firstThree, 4, 0.f).data(), 4);
            cat.storeEmbeddings(spectrum, ids, vectorsFor(ids, 4, 0.5f).data(), 4);
            cat.storeEmbeddings({model, "image", "backbone"}, ids, vectorsFor(ids, 6, 0.f).data(), 6);
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

        // info() counts each key.
        const auto info = cat.info();
        QCOMPARE(info.embeddings.size(), size_t(3));
    }

    void batchReplacesItsObjects() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 3);
        const EmbeddingKey key{cat.registerModel(clipModel("m")), "spectrum", "backbone"};
        cat.storeEmbeddings(key, ids, vectorsFor(ids, 3, 0.f).data(), 3);
        const std::vector<int64_t> second = {ids[1]};
        cat.storeEmbeddings(key, second, vectorsFor(second, 3, 7.f).data(), 3);
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
    }
    void refusalsLeaveStoredVectors() {
        QFETCH(QString, problem);
        QFETCH(QString, expected);
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 3);
        EmbeddingKey key{cat.registerModel(clipModel("m")), "image", "aligned"};
        const std::vector<int64_t> first = {ids[0]};
        cat.storeEmbeddings(key, first, vectorsFor(first, 3, 0.f).data(), 3);

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
        try {
            cat.storeEmbeddings(key, batch, values.data(), dim);
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
            cat.storeEmbeddings({model, "image", "aligned"}, ids, vectorsFor(ids, 2, 0.f).data(), 2);
        QCOMPARE(cat.deleteEmbeddings({a, "image", "aligned"}), int64_t(4));
        QVERIFY(cat.embeddedObjects({a, "image", "aligned"}).empty());
        QCOMPARE(cat.embeddedObjects({b, "image", "aligned"}), ids);
        // After deletion a key may take another dimension.
        cat.storeEmbeddings({a, "image", "aligned"}, ids, vectorsFor(ids, 8, 0.f).data(), 8);
        QCOMPARE(cat.embeddings({a, "image", "aligned"}).dim, 8);
        QCOMPARE(cat.deleteEmbeddings({a, "spectrum", "aligned"}), int64_t(0));
    }
};

QTEST_GUILESS_MAIN(TestCatalogEmbeddings)
#include "tst_catalog_embeddings.moc"
