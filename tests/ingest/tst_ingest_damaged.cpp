// Bad input gets a clear message naming the file and its problem, the other files still
// ingest, and nothing already in the catalog changes.
#include "core/catalog/catalog.h"
#include "core/ingest/ingest.h"
#include "plugins/readers/builtin.h"
#include "ingest_test_util.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

using namespace astroclip;
namespace fs = std::filesystem;
using namespace ingesttest;


class TestIngestDamaged : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void badFilesAreReportedAndHarmNothing() {
        const std::string catPath = path("catalog.sqlite");
        auto catalog = Catalog::open(catPath);
        auto readers = defaultReaderRegistry();

        // 1. A good object already in the catalog.
        writeCube(path("existing.fits"), 3, "grz", 10.0, 20.0, 1.0f, 1001);
        auto first = ingestPaths(catalog, {path("existing.fits")}, readers, {});
        QCOMPARE(first.ok, int64_t(1));
        const auto existingId = catalog.findObjectByKey("desi:targetid:1001");
        QVERIFY(existingId);
        const auto imagesBefore = catalog.images(*existingId);
        const auto keysBefore = catalog.objectKeys(*existingId);
        const auto posBefore = catalog.objectPosition(*existingId);

        // 2. A folder of damaged files beside one good file.
        fs::create_directory(path("incoming"));
        auto in = [&](const char* n) { return path("incoming/") + n; };
        std::ofstream(in("README.txt")) << "not data\n";
        {   // truncated: the header of a real cube, then the data cut short
            writeCube(in("tmp.fits"), 3, "grz", 11.0, 21.0, 1.0f, 1002);
            std::ifstream src(in("tmp.fits"), std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(src)), {});
            std::ofstream(in("truncated.fits"), std::ios::binary) << bytes.substr(0, 2880 + 1000);
            fs::remove(in("tmp.fits"));
        }
        writeCube(in("all_nan.fits"), 3, "grz", 12.0, 22.0, std::numeric_limits<float>::quiet_NaN(), 1003);
        writeCube(in("missing_band.fits"), 2, "grz", 13.0, 23.0, 1.0f, 1004);   // declares z, holds 2 planes
        {   // impossible dimensions: a zero-length axis
            auto f = FitsFile::create(in("zero_axis.fits"));
            f.writeImage({3, 0, 16}, static_cast<const float*>(nullptr));
            f.writeKey("BANDS", "grz");
            writeWcs(f, 14.0, 24.0);
            f.close();
        }
        {   // a spectrum whose inverse variance is zero everywhere
            auto f = FitsFile::create(in("zero_ivar.fits"));
            f.writeEmptyPrimary();
            f.createTable("SPECTRUM", {{"WAVELENGTH", "D", "Angstrom"}, {"FLUX", "E", "1e-17 erg/(s cm2 Angstrom)"}, {"IVAR", "E", ""}}, 500);
            std::vector<double> w(500);
            for (int i = 0; i < 500; ++i) w[i] = 5000 + i;
            f.writeColumn(1, 1, w);
            f.writeColumn(2, 1, std::vector<float>(500, 1.0f));
            f.writeColumn(3, 1, std::vector<float>(500, 0.0f));
            f.writeKey("RA", 15.0);
            f.writeKey("DEC", 25.0);
            f.writeKey("Z", 0.1);
            f.close();
        }
        writeCube(in("fewer_bands.fits"), 2, "gr", 16.0, 26.0, 2.0f, 1005);   // valid: z simply absent

        const auto s = ingestPaths(catalog, {path("incoming")}, readers, {});
        std::map<std::string, FileOutcome> by;
        for (const auto& f : s.files) by[fs::path(f.path).filename().string()] = f;
        for (const auto& [n, f] : by) qInfo("%-18s %-8s %s", n.c_str(), statusName(f.status), f.message.c_str());

        QCOMPARE(by["README.txt"].status, FileOutcome::Status::Skipped);
        for (const char* bad : {"truncated.fits", "all_nan.fits", "missing_band.fits", "zero_axis.fits", "zero_ivar.fits"}) {
            QVERIFY2(by[bad].status == FileOutcome::Status::Failed, bad);
            QVERIFY2(!by[bad].message.empty(), bad);
        }
        QVERIFY(QString::fromStdString(by["all_nan.fits"].message).contains("NaN"));
        QVERIFY(QString::fromStdString(by["zero_ivar.fits"].message).contains(QRegularExpression("ivar|inverse variance", QRegularExpression::CaseInsensitiveOption)));
        QVERIFY(QString::fromStdString(by["missing_band.fits"].message).contains("band", Qt::CaseInsensitive));
        QCOMPARE(by["fewer_bands.fits"].status, FileOutcome::Status::Ok);
        QCOMPARE(s.ok, int64_t(1));
        QCOMPARE(s.failed, int64_t(5));
        QCOMPARE(s.skipped, int64_t(1));

        // The good file of the batch is in; its absent band is recorded, not invented.
        auto fewer = catalog.findObjectByKey("desi:targetid:1005");
        QVERIFY(fewer);
        const auto fi = catalog.images(*fewer);
        QCOMPARE(fi.size(), size_t(1));
        QCOMPARE(fi[0].planes, (std::vector<int>{0, 1, -1}));

        // Nothing from the failed files, and the existing object is as it was.
        for (int64_t t : {1002, 1003, 1004})
            QVERIFY(!catalog.findObjectByKey("desi:targetid:" + std::to_string(t)));
        QCOMPARE(catalog.objectCount(), int64_t(2));
        QCOMPARE(catalog.objectKeys(*existingId), keysBefore);
        QCOMPARE(catalog.objectPosition(*existingId), posBefore);
        const auto imagesAfter = catalog.images(*existingId);
        QCOMPARE(imagesAfter.size(), imagesBefore.size());
        QCOMPARE(imagesAfter[0].path, imagesBefore[0].path);
        QCOMPARE(imagesAfter[0].planes, imagesBefore[0].planes);

        // Failures are remembered for `info`.
        QCOMPARE(catalog.info().failedFiles, int64_t(5));
    }
};

QTEST_GUILESS_MAIN(TestIngestDamaged)
#include "tst_ingest_damaged.moc"
