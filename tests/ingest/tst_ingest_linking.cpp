// How records of one object find each other: a shared key first, else the nearest object
// within the match radius whose own survey ids do not contradict the record's.
#include "core/catalog/catalog.h"
#include "core/ingest/ingest.h"
#include "ingest_test_util.h"
#include "plugins/readers/builtin.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>

using namespace astroclip;
using namespace ingesttest;

class TestIngestLinking : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const std::string& name) { return (dir_.path() + "/").toStdString() + name; }

private Q_SLOTS:
    void closePairWithDistinctIdsStaysTwoObjects() {
        auto catalog = Catalog::open(path("pair.sqlite"));
        auto readers = defaultReaderRegistry();
        const double dec = 4.5, ra = 154.9;
        const double dRa = 0.5 / 3600.0 / std::cos(dec * M_PI / 180.0);   // 0.5″ apart
        writeCube(path("a.fits"), 3, "grz", ra, dec, 1.0f, 321);
        writeCube(path("b.fits"), 3, "grz", ra + dRa, dec, 1.0f, 1216);
        const auto s = ingestPaths(catalog, {path("a.fits"), path("b.fits")}, readers, {});
        QCOMPARE(s.objectsCreated, int64_t(2));
        QVERIFY(*catalog.findObjectByKey("desi:targetid:321") != *catalog.findObjectByKey("desi:targetid:1216"));

        // A catalogue row with a position and no id joins the nearer of the two.
        std::ofstream(path("phot.csv")) << "ra,dec,mag_r\n" << std::setprecision(12) << ra + 0.9 * dRa << "," << dec << ",19.5\n";
        const auto t = ingestPaths(catalog, {path("phot.csv")}, readers, {});
        QCOMPARE(t.objectsLinked, int64_t(1));
        const auto b = *catalog.findObjectByKey("desi:targetid:1216");
        QCOMPARE(catalog.numbers({b}, "mag_r")[0], 19.5);
        QCOMPARE(catalog.objectCount(), int64_t(2));
    }

    void keyWinsOverPosition() {
        auto catalog = Catalog::open(path("key.sqlite"));
        auto readers = defaultReaderRegistry();
        writeCube(path("first.fits"), 3, "grz", 10.0, 20.0, 1.0f, 77);
        writeCube(path("other.fits"), 3, "grz", 10.0, 20.0 + 0.3 / 3600.0, 1.0f, 78);   // a different object 0.3″ away
        writeCube(path("again.fits"), 3, "grz", 10.0, 20.0 + 5.0 / 3600.0, 1.0f, 77);  // same id, 5″ off
        const auto s = ingestPaths(catalog, {path("first.fits"), path("other.fits"), path("again.fits")}, readers, {});
        QCOMPARE(s.objectsCreated, int64_t(2));
        QCOMPARE(s.objectsLinked, int64_t(1));
        QCOMPARE(catalog.images(*catalog.findObjectByKey("desi:targetid:77")).size(), size_t(2));
    }

    void changedFileReplacesItsDataUnchangedIsSkipped() {
        auto catalog = Catalog::open(path("changed.sqlite"));
        auto readers = defaultReaderRegistry();
        writeCube(path("c.fits"), 3, "grz", 50.0, 5.0, 1.0f, 900);
        QCOMPARE(ingestPaths(catalog, {path("c.fits")}, readers, {}).ok, int64_t(1));
        QCOMPARE(ingestPaths(catalog, {path("c.fits")}, readers, {}).skipped, int64_t(1));   // unchanged
        writeCube(path("c.fits"), 2, "gr", 50.0, 5.0, 2.0f, 900);                           // rewritten
        std::filesystem::last_write_time(path("c.fits"), std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
        QCOMPARE(ingestPaths(catalog, {path("c.fits")}, readers, {}).ok, int64_t(1));
        const auto images = catalog.images(*catalog.findObjectByKey("desi:targetid:900"));
        QCOMPARE(images.size(), size_t(1));
        QCOMPARE(images[0].planes, (std::vector<int>{0, 1, -1}));
    }

    void matchRadiusIsHonoured_data() {
        QTest::addColumn<double>("radius");
        QTest::addColumn<int>("objects");
        QTest::newRow("1 arcsec: 2″ apart are two") << 1.0 << 2;
        QTest::newRow("3 arcsec: 2″ apart are one") << 3.0 << 1;
    }
    void matchRadiusIsHonoured() {
        QFETCH(double, radius);
        QFETCH(int, objects);
        const std::string tag = std::to_string(int(radius));
        auto catalog = Catalog::open(path("radius" + tag + ".sqlite"));
        auto readers = defaultReaderRegistry();
        std::ofstream(path("r" + tag + ".csv")) << "ra,dec,flag\n30.0,-10.0,1\n";
        std::ofstream(path("s" + tag + ".csv")) << "ra,dec,mag\n30.0," << std::setprecision(12) << -10.0 + 2.0 / 3600.0 << ",20\n";
        IngestParams p;
        p.matchRadiusArcsec = radius;
        ingestPaths(catalog, {path("r" + tag + ".csv"), path("s" + tag + ".csv")}, readers, p);
        QCOMPARE(catalog.objectCount(), int64_t(objects));
    }
};

QTEST_GUILESS_MAIN(TestIngestLinking)
#include "tst_ingest_linking.moc"
