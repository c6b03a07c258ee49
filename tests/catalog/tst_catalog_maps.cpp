// Maps in the catalog: 2-D and 3-D points round-trip as the same float32 values, per (model,
// modality, space, method, dims); storing a map again replaces it whole; refusals are all or
// nothing and name the catalog and the problem; deleting a model or an object takes its maps
// or points with it; a schema-3 catalog upgrades keeping its data, and one opened at schema 3
// refuses maps with a message saying how to upgrade.
#include "catalog_test_util.h"

#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;
using astroclip::testing::queryInt;
using astroclip::testing::queryText;

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

// Coordinates with full float32 mantissas and a spread of exponents: they come back equal
// only if stored without loss.
std::vector<float> coordsFor(const std::vector<int64_t>& ids, int dims, float salt) {
    std::vector<float> v;
    for (const int64_t id : ids)
        for (int d = 0; d < dims; ++d)
            v.push_back(std::nextafter((float(id) * 0.337f - 3.1f + salt) * std::pow(10.f, float(d - 1)), 1e9f));
    return v;
}

MapRecord mapOf(int64_t model, const std::string& method, int dims, const std::string& params = R"({"seed": 0})") {
    MapRecord m;
    m.key = {model, "image", "aligned"};
    m.method = method;
    m.dims = dims;
    m.params = params;
    m.source = kSource;
    return m;
}

bool sameFloats(const std::vector<float>& a, const std::vector<float>& b) { return testing::sameBytes(a, b); }

} // namespace

class TestCatalogMaps : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTrip_data() {
        QTest::addColumn<int>("dims");
        QTest::newRow("2-D") << 2;
        QTest::newRow("3-D") << 3;
    }
    void roundTrip() {
        QFETCH(int, dims);
        const std::string path = fresh();
        std::vector<int64_t> ids;
        int64_t model = 0, mapId = 0;
        {
            auto cat = Catalog::open(path);
            ids = addObjects(cat, 6);
            model = cat.registerModel(clipModel("clip-a"));
            // Given out of order: read back by ascending id.
            const std::vector<int64_t> given = {ids[3], ids[0], ids[5], ids[1]};
            mapId = cat.storeMap(mapOf(model, "umap", dims), given, coordsFor(given, dims, 0.f).data());
            QVERIFY(mapId > 0);
        }
        auto cat = Catalog::open(path, false);
        const auto rec = cat.map({model, "image", "aligned"}, "umap", dims);
        QVERIFY(rec);
        QCOMPARE(rec->id, mapId);
        QCOMPARE(rec->model, std::string("clip-a"));
        QCOMPARE(rec->dims, dims);
        QCOMPARE(rec->method, std::string("umap"));
        QCOMPARE(rec->source, kSource);
        QCOMPARE(rec->params, std::string(R"({"seed": 0})"));
        QCOMPARE(rec->count, int64_t(4));
        QVERIFY(rec->created > 1600000000);
        const auto points = cat.mapPoints(mapId);
        const std::vector<int64_t> sorted = {ids[0], ids[1], ids[3], ids[5]};
        QCOMPARE(points.ids, sorted);
        QCOMPARE(points.dims, dims);
        QVERIFY(sameFloats(points.coords, coordsFor(sorted, dims, 0.f)));
        // 2-D maps leave z NULL in the file (what SQL readers see).
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM map_points WHERE z IS NULL"), int64_t(dims == 2 ? 4 : 0));
        // Other method, dims or space: no map.
        QVERIFY(!cat.map({model, "image", "aligned"}, "pca", dims));
        QVERIFY(!cat.map({model, "image", "aligned"}, "umap", 5 - dims));
        QVERIFY(!cat.map({model, "image", "backbone"}, "umap", dims));
    }

    void listsAndReplaces() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 5);
        const int64_t a = cat.registerModel(clipModel("a")), b = cat.registerModel(clipModel("b"));
        const int64_t bPca = cat.storeMap(mapOf(b, "pca", 2), ids, coordsFor(ids, 2, 0.f).data());
        const int64_t aUmap3 = cat.storeMap(mapOf(a, "umap", 3), ids, coordsFor(ids, 3, 0.f).data());
        const int64_t aUmap2 = cat.storeMap(mapOf(a, "umap", 2), ids, coordsFor(ids, 2, 0.f).data());
        auto all = cat.maps();
        QCOMPARE(all.size(), size_t(3));
        QCOMPARE(all[0].id, aUmap2);  // by model, modality, space, method, dims
        QCOMPARE(all[1].id, aUmap3);
        QCOMPARE(all[2].id, bPca);
        QCOMPARE(all[2].model, std::string("b"));

        // Storing again replaces the map whole (fewer points, new params and source), same id.
        MapRecord again = mapOf(a, "umap", 2, R"({"seed": 1})");
        again.source = "import:/data/v.csv sha256:0123456789abcdef";
        const std::vector<int64_t> two = {ids[4], ids[2]};
        QCOMPARE(cat.storeMap(again, two, coordsFor(two, 2, 5.f).data()), aUmap2);
        const auto rec = cat.map({a, "image", "aligned"}, "umap", 2);
        QCOMPARE(rec->count, int64_t(2));
        QCOMPARE(rec->params, again.params);
        QCOMPARE(rec->source, again.source);
        const auto points = cat.mapPoints(aUmap2);
        QCOMPARE(points.ids, (std::vector<int64_t>{ids[2], ids[4]}));
        QVERIFY(sameFloats(points.coords, coordsFor(points.ids, 2, 5.f)));
        // The other maps are untouched.
        QVERIFY(sameFloats(cat.mapPoints(aUmap3).coords, coordsFor(ids, 3, 0.f)));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM map_points"), int64_t(5 + 5 + 2));

        QVERIFY(cat.deleteMap(aUmap3));
        QVERIFY(!cat.deleteMap(aUmap3));
        QVERIFY(!cat.map({a, "image", "aligned"}, "umap", 3));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM map_points"), int64_t(5 + 2));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.mapPoints(aUmap3));

        // info() lists them; without the vectors they were made from, they are stale.
        const auto info = cat.info();
        QCOMPARE(info.maps.size(), size_t(2));
        QCOMPARE(info.maps[0].model, std::string("a"));
        QCOMPARE(info.maps[0].count, int64_t(2));
        QVERIFY(info.maps[0].stale);
        cat.storeEmbeddings({a, "image", "aligned"}, two, coordsFor(two, 2, 0.f).data(), 2, again.source);
        QVERIFY(!cat.info().maps[0].stale);
    }

    void refusalsLeaveStoredMap_data() {
        QTest::addColumn<QString>("problem");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown model") << "model" << "no model with id 77";
        QTest::newRow("unknown object") << "object" << "no object with id 999";
        QTest::newRow("bad method") << "method" << "method is umap or pca (got 'tsne')";
        QTest::newRow("dims 4") << "dims" << "2 or 3 dimensions (got 4)";
        QTest::newRow("NaN") << "nan" << "not finite";
        QTest::newRow("infinity") << "inf" << "not finite";
        QTest::newRow("repeated object") << "repeat" << "appears twice";
        QTest::newRow("no points") << "empty" << "has no points";
        QTest::newRow("params not JSON") << "params" << "not valid JSON";
        QTest::newRow("no space") << "space" << "needs the modality and space";
    }
    void refusalsLeaveStoredMap() {
        QFETCH(QString, problem);
        QFETCH(QString, expected);
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 3);
        const int64_t model = cat.registerModel(clipModel("m"));
        const std::vector<int64_t> first = {ids[0], ids[1]};
        const int64_t stored = cat.storeMap(mapOf(model, "umap", 2), first, coordsFor(first, 2, 0.f).data());

        // A map that would replace the stored one; its problem comes after good rows.
        MapRecord m = mapOf(model, "umap", 2, R"({"seed": 9})");
        std::vector<int64_t> points = {ids[0], ids[1], ids[2]};
        auto coords = coordsFor(points, 2, 9.f);
        if (problem == "model") m.key.modelId = 77;
        else if (problem == "object") points[2] = 999;
        else if (problem == "method") m.method = "tsne";
        else if (problem == "dims") { m.dims = 4; coords = coordsFor(points, 4, 9.f); }
        else if (problem == "nan") coords[5] = std::numeric_limits<float>::quiet_NaN();
        else if (problem == "inf") coords[4] = -std::numeric_limits<float>::infinity();
        else if (problem == "repeat") points[2] = ids[0];
        else if (problem == "empty") points.clear();
        else if (problem == "params") m.params = "{seed: 9";
        else if (problem == "space") m.key.space.clear();
        try {
            cat.storeMap(m, points, coords.data());
            QFAIL("the map was accepted");
        } catch (const UsageError& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(expected), qPrintable(message));
            QVERIFY2(message.startsWith(QString::fromStdString(path)), qPrintable(message));
        }
        // All or nothing: the stored map and its record are as they were.
        const auto rec = cat.map({model, "image", "aligned"}, "umap", 2);
        QVERIFY(rec);
        QCOMPARE(rec->id, stored);
        QCOMPARE(rec->params, std::string(R"({"seed": 0})"));
        QCOMPARE(cat.maps().size(), size_t(1));
        const auto kept = cat.mapPoints(stored);
        QCOMPARE(kept.ids, first);
        QVERIFY(sameFloats(kept.coords, coordsFor(first, 2, 0.f)));
    }

    // Maps belong to their model and points to their objects: deleting either (there is no
    // API for it yet; SQL stands in for the app's future removal) takes them along.
    void deletionsCascade() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 4);
        const int64_t a = cat.registerModel(clipModel("a")), b = cat.registerModel(clipModel("b"));
        const int64_t aMap = cat.storeMap(mapOf(a, "pca", 3), ids, coordsFor(ids, 3, 0.f).data());
        const int64_t bMap = cat.storeMap(mapOf(b, "umap", 2), ids, coordsFor(ids, 2, 0.f).data());
        sqlite3_exec(cat.handle(), ("DELETE FROM objects WHERE id = " + std::to_string(ids[1])).c_str(), nullptr,
                     nullptr, nullptr);
        QCOMPARE(cat.map({a, "image", "aligned"}, "pca", 3)->count, int64_t(3));
        const std::vector<int64_t> left = {ids[0], ids[2], ids[3]};
        QCOMPARE(cat.mapPoints(bMap).ids, left);
        QVERIFY(sameFloats(cat.mapPoints(aMap).coords, coordsFor(left, 3, 0.f)));

        QCOMPARE(sqlite3_exec(cat.handle(), ("DELETE FROM models WHERE id = " + std::to_string(a)).c_str(), nullptr,
                              nullptr, nullptr),
                 SQLITE_OK);
        QCOMPARE(cat.maps().size(), size_t(1));
        QCOMPARE(cat.maps()[0].id, bMap);
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM map_points WHERE map_id = " + std::to_string(aMap)),
                 int64_t(0));
    }

    void upgradeFromSchema3KeepsData() {
        const std::string path = fresh();
        std::vector<int64_t> ids;
        int64_t model = 0;
        {
            auto v3 = Catalog::openAtVersion(path, 3);
            QCOMPARE(v3.schemaVersion(), 3);
            ids = addObjects(v3, 3);
            model = v3.registerModel(clipModel("old"));
            std::vector<float> vectors(3 * 4, 0.5f);
            v3.storeEmbeddings({model, "image", "aligned"}, ids, vectors.data(), 4, kSource);
            // Maps do not exist yet at schema 3: a clear refusal, not an SQL error.
            try {
                v3.maps();
                QFAIL("a schema-3 catalog listed maps");
            } catch (const CatalogError& e) {
                const QString message = QString::fromUtf8(e.what());
                QVERIFY2(message.contains("schema 3 has no maps; open it with this build to upgrade it"),
                         qPrintable(message));
            }
            QVERIFY_THROWS_EXCEPTION(CatalogError,
                                     v3.storeMap(mapOf(model, "umap", 2), ids, coordsFor(ids, 2, 0.f).data()));
            QVERIFY_THROWS_EXCEPTION(CatalogError, v3.map({model, "image", "aligned"}, "umap", 2));
            QVERIFY_THROWS_EXCEPTION(CatalogError, v3.mapPoints(1));
            QVERIFY_THROWS_EXCEPTION(CatalogError, v3.deleteMap(1));
        }
        auto cat = Catalog::open(path, false);
        QCOMPARE(cat.schemaVersion(), Catalog::kSchemaVersion);
        QCOMPARE(cat.objectCount(), int64_t(3));
        QCOMPARE(cat.model("old")->id, model);
        const auto set = cat.embeddingSet({model, "image", "aligned"});
        QVERIFY(set);
        QCOMPARE(set->count, int64_t(3));
        QCOMPARE(set->source, kSource);
        QVERIFY(cat.maps().empty());
        const int64_t id = cat.storeMap(mapOf(model, "umap", 2), ids, coordsFor(ids, 2, 0.f).data());
        QCOMPARE(cat.mapPoints(id).ids, ids);
        QCOMPARE(queryText(cat.handle(), "SELECT method FROM maps"), std::string("umap"));
    }
};

QTEST_GUILESS_MAIN(TestCatalogMaps)
#include "tst_catalog_maps.moc"
