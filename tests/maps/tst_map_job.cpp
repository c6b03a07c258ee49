// The map job (core/maps/map_job.h) on a small catalog: a map is stored with its parameters
// and the set's source; a current map is reused without computing; a stale one (vectors
// recomputed), one of other objects (vectors added) or one of other parameters is remade; a
// selection's map is returned but not stored unless it holds the whole set; cancelling leaves
// the stored map untouched; bad requests are refused with messages naming the problem.
#include "clustered_vectors.h"

#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/maps/map_job.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

using namespace astroclip;

namespace {

constexpr int kObjects = 120, kDim = 12;
const std::string kSource = "/runs/a/checkpoint-10 step 10";

struct Fixture {
    Catalog catalog;
    std::vector<int64_t> ids;
    EmbeddingKey key;
};

Fixture makeCatalog(const std::string& path) {
    Fixture f{Catalog::open(path), {}, {}};
    {
        Catalog::Transaction tx(f.catalog);
        for (int i = 0; i < kObjects + 1; ++i) {
            ObjectRecord rec;
            rec.keys = {"obj:" + std::to_string(i)};
            rec.ra = 150.0 + 0.01 * i;
            rec.dec = 2.0;
            rec.columns["mag"] = Value(double(i % 10));
            f.ids.push_back(f.catalog.addObject(rec));
        }
        tx.commit();
    }
    ModelRecord m;
    m.name = "a";
    m.stage = "image";
    m.path = "/runs/a/checkpoint-10";
    f.key = {f.catalog.registerModel(m), "image", "backbone"};
    // The last object has no vector yet.
    const auto x = testdata::clusteredVectors(kObjects, kDim, 4, 11);
    f.catalog.storeEmbeddings(f.key, std::vector<int64_t>(f.ids.begin(), f.ids.end() - 1), x.data(), kDim, kSource);
    return f;
}

maps::MapJobParams params(const std::string& method, int dims = 2) {
    maps::MapJobParams p;
    p.model = "a";
    p.modality = "image";
    p.method = method;
    p.dims = dims;
    p.threads = 1;
    return p;
}

} // namespace

class TestMapJob : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void storesThenReuses() {
        auto f = makeCatalog(fresh());
        const auto first = maps::makeMap(f.catalog, params("umap"));
        QVERIFY(first.stored);
        QVERIFY(!first.reused);
        QCOMPARE(first.points.ids.size(), size_t(kObjects));
        QCOMPARE(first.map.source, kSource);
        QCOMPARE(first.map.count, int64_t(kObjects));
        const auto stored = nlohmann::json::parse(first.map.params);
        QCOMPARE(stored["metric"].get<std::string>(), std::string("cosine"));
        QCOMPARE(stored["n_neighbors"].get<int>(), 15);
        QCOMPARE(first.map.params, maps::mapParamsJson(params("umap")));

        // Reused: nothing computed (no progress phase of UMAP reported), the same points.
        bool computed = false;
        const auto again = maps::makeMap(f.catalog, params("umap"), [&](const Progress& p) {
            computed = computed || p.stage.rfind("umap", 0) == 0;
            return true;
        });
        QVERIFY(again.reused);
        QVERIFY(!computed);
        QCOMPARE(again.map.id, first.map.id);
        QVERIFY(again.points.coords == first.points.coords);

        // Another method or dims is another map beside it.
        const auto pca3 = maps::makeMap(f.catalog, params("pca", 3));
        QVERIFY(pca3.stored);
        QCOMPARE(pca3.explainedVarianceRatio.size(), size_t(3));
        QCOMPARE(f.catalog.maps().size(), size_t(2));
    }

    void remadeWhenStaleOrChanged() {
        auto f = makeCatalog(fresh());
        const int64_t id = maps::makeMap(f.catalog, params("pca")).map.id;
        // Another parameter: remade.
        auto p = params("umap");
        QVERIFY(maps::makeMap(f.catalog, p).stored);
        p.minDist = 0.3;
        auto r = maps::makeMap(f.catalog, p);
        QCOMPARE(r.replaced, std::string("params"));
        QVERIFY(r.stored);
        // A vector for one more object with the same source: the map lacks it.
        const std::vector<int64_t> last = {f.ids.back()};
        const std::vector<float> v(kDim, 0.25f);
        f.catalog.storeEmbeddings(f.key, last, v.data(), kDim, kSource);
        r = maps::makeMap(f.catalog, params("pca"));
        QCOMPARE(r.replaced, std::string("objects"));
        QCOMPARE(r.map.id, id);
        QCOMPARE(r.map.count, int64_t(kObjects + 1));
        // Vectors recomputed by another model state: the map is stale.
        const auto all = f.catalog.embeddings(f.key);
        f.catalog.deleteEmbeddings(f.key);
        f.catalog.storeEmbeddings(f.key, all.ids, all.values.data(), kDim, "/runs/a/checkpoint-20 step 20");
        r = maps::makeMap(f.catalog, params("pca"));
        QCOMPARE(r.replaced, std::string("stale"));
        QCOMPARE(r.map.source, std::string("/runs/a/checkpoint-20 step 20"));
        QVERIFY(maps::makeMap(f.catalog, params("pca")).reused);
    }

    void selectionIsNotStored() {
        auto f = makeCatalog(fresh());
        const auto whole = maps::makeMap(f.catalog, params("pca"));
        auto p = params("pca");
        p.where = "mag < 5";
        const auto part = maps::makeMap(f.catalog, p);
        QVERIFY(!part.stored);
        QCOMPARE(part.map.id, int64_t(0));
        QCOMPARE(part.selected, int64_t(kObjects / 2 + 1));  // mag 0..4 of 121 objects
        QCOMPARE(part.withoutVector, int64_t(1));           // the last object (mag 0) has none
        QCOMPARE(part.points.ids.size(), size_t(kObjects / 2));
        const auto kept = f.catalog.mapPoints(whole.map.id);
        QVERIFY(kept.coords == whole.points.coords);
        // A selection holding every vector is the whole set's map: reused.
        p.where = "mag >= 0";
        QVERIFY(maps::makeMap(f.catalog, p).reused);
    }

    void cancelLeavesStoredMap() {
        auto f = makeCatalog(fresh());
        const auto first = maps::makeMap(f.catalog, params("umap"));
        auto p = params("umap");
        p.recompute = true;
        p.seed = 5;
        QVERIFY_THROWS_EXCEPTION(Cancelled, maps::makeMap(f.catalog, p, [](const Progress& pr) {
            return !(pr.stage == "umap: optimise" && pr.done > 10);
        }));
        const auto rec = f.catalog.map(f.key, "umap", 2);
        QCOMPARE(rec->id, first.map.id);
        QCOMPARE(rec->params, first.map.params);
        QVERIFY(f.catalog.mapPoints(rec->id).coords == first.points.coords);
    }

    void refusals_data() {
        QTest::addColumn<QString>("problem");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown model") << "model" << "no model called or trained in 'b'";
        QTest::newRow("no vectors") << "modality" << "has no spectrum backbone embeddings";
        QTest::newRow("empty selection") << "where" << "no object matches --where \"mag > 50\"";
        QTest::newRow("selection without vectors") << "novector" << "none of the 1 objects matching";
        QTest::newRow("bad method") << "method" << "umap or pca (got 'tsne')";
        QTest::newRow("4-D") << "dims" << "2 or 3 dimensions (got 4)";
        QTest::newRow("too few for UMAP") << "neighbors" << "needs more than 200 points";
        QTest::newRow("zero vector") << "zero" << "is zero";
    }
    void refusals() {
        QFETCH(QString, problem);
        QFETCH(QString, expected);
        auto f = makeCatalog(fresh());
        auto p = params("umap");
        if (problem == "model") p.model = "b";
        else if (problem == "modality") p.modality = "spectrum";
        else if (problem == "where") p.where = "mag > 50";
        else if (problem == "novector") p.where = "id = " + std::to_string(f.ids.back());
        else if (problem == "method") p.method = "tsne";
        else if (problem == "dims") p.dims = 4;
        else if (problem == "neighbors") p.nNeighbors = 200;
        else if (problem == "zero") {
            const std::vector<int64_t> last = {f.ids.back()};
            const std::vector<float> zero(kDim, 0.f);
            f.catalog.storeEmbeddings(f.key, last, zero.data(), kDim, kSource);
        }
        try {
            maps::makeMap(f.catalog, p);
            QFAIL("the map was made");
        } catch (const UsageError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(expected), e.what());
        }
        QVERIFY(f.catalog.maps().empty());
    }
};

QTEST_GUILESS_MAIN(TestMapJob)
#include "tst_map_job.moc"
