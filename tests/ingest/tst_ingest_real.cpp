// Every row of shared/data/README.md's table of real files, ingested end to end through the
// built-in readers, the linker and the catalog.
#include "core/catalog/catalog.h"
#include "core/ingest/ingest.h"
#include "plugins/readers/builtin.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <filesystem>

using namespace astroclip;
namespace fs = std::filesystem;

namespace {
const std::string kReal = std::string(ASTROCLIP_SHARED_DATA) + "/real";

double num(const Value& v) {
    if (auto d = std::get_if<double>(&v)) return *d;
    if (auto i = std::get_if<int64_t>(&v)) return double(*i);
    return std::nan("");
}
std::string text(const Value& v) {
    if (auto s = std::get_if<std::string>(&v)) return *s;
    return {};
}
int countKind(const std::vector<ImageRecord>& imgs, ImageRecord::Kind k) {
    return int(std::count_if(imgs.begin(), imgs.end(), [&](const ImageRecord& i) { return i.kind == k; }));
}
int validPixels(const SpectrumRecord& s) { return int(std::count(s.mask.begin(), s.mask.end(), 0)); }
} // namespace

class TestIngestReal : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<Catalog> catalog_;
    IngestSummary summary_;

    const FileOutcome* outcome(const std::string& fileName) {
        for (const auto& f : summary_.files)
            if (fs::path(f.path).filename() == fileName) return &f;
        return nullptr;
    }

private Q_SLOTS:
    void initTestCase() {
        if (!fs::exists(kReal)) QSKIP(qPrintable(QString("shared data not found at %1; real-file tests skipped").arg(kReal.c_str())));
        catalog_ = std::make_unique<Catalog>(Catalog::open((dir_.path() + "/real.sqlite").toStdString()));
        auto readers = defaultReaderRegistry();
        IngestParams p;
        p.reader.cubeBands = {"g", "r", "i", "z", "y"};  // HSC cutouts name no bands
        summary_ = ingestPaths(*catalog_, {kReal}, readers, p);
        for (const auto& f : summary_.files)
            qInfo("%-8s %-40s %-14s %s", statusName(f.status), fs::path(f.path).filename().c_str(), f.reader.c_str(), f.message.c_str());
    }

    void nothingFails() {
        QCOMPARE(summary_.failed, int64_t(0));
        // 4 licence files + the HSC PSF cube are skipped, everything else is read.
        QCOMPARE(summary_.skipped, int64_t(5));
    }

    void objectCountIsSeven() {
        // DESI 1 + SDSS 1 + HSC 1 + DECam 1 + DEEP2 3
        QCOMPARE(catalog_->objectCount(), int64_t(7));
    }

    void desiCoaddRedrockAndTractorAreOneObject() {
        auto id = catalog_->findObjectByKey("desi:targetid:39633345008634465");
        QVERIFY(id);
        QVERIFY(std::abs(num(catalog_->value(*id, "z")) - 0.368744) < 1e-5);
        QCOMPARE(text(catalog_->value(*id, "spectype")).substr(0, 6), std::string("GALAXY"));
        const auto spectra = catalog_->spectra(*id);
        QCOMPARE(spectra.size(), size_t(1));
        QCOMPARE(spectra[0].flux.size(), size_t(7781));
        QVERIFY(validPixels(spectra[0]) > 7000);   // B, R and Z arms cover the whole grid
        QVERIFY(countKind(catalog_->images(*id), ImageRecord::Kind::Cutout) == 0);  // Tractor fluxes are columns, not an image
        // The Tractor row joined by position: its keys are on the same object.
        const auto keys = catalog_->objectKeys(*id);
        QVERIFY2(std::any_of(keys.begin(), keys.end(), [](const std::string& k) { return k.rfind("ls:", 0) == 0; }),
                 "the Tractor row did not link to the DESI target");
    }

    void sdssSpectrumResampledWhereItOverlaps() {
        const auto* o = outcome("NGC4636_SDSS_DR12.fits");
        QVERIFY(o && o->status == FileOutcome::Status::Ok);
        std::optional<int64_t> id;
        for (auto oid : catalog_->select(""))
            for (const auto& k : catalog_->objectKeys(oid))
                if (k.rfind("sdss:", 0) == 0) id = oid;
        QVERIFY(id);
        QVERIFY(std::abs(num(catalog_->value(*id, "z")) - 0.00302509) < 1e-7);
        const auto s = catalog_->spectra(*id);
        QCOMPARE(s.size(), size_t(1));
        QCOMPARE(int(s[0].mask[0]), 1);             // 3600 Å lies blueward of SDSS coverage
        QVERIFY(validPixels(s[0]) > 5000);
    }

    void hscCubeGivesGrzFromPlanes013AndPsfIsSkipped() {
        const auto* psf = outcome("PSF_HSC.fits");
        QVERIFY(psf && psf->status == FileOutcome::Status::Skipped);
        QVERIFY2(!psf->message.empty(), "a skipped file must say why");
        const auto* cut = outcome("Cut_HSC.fits");
        QVERIFY(cut && cut->status == FileOutcome::Status::Ok && cut->objectsCreated == 1);
        int found = 0;
        for (auto oid : catalog_->select(""))
            for (const auto& img : catalog_->images(oid))
                if (fs::path(img.path).filename() == "Cut_HSC.fits") {
                    ++found;
                    QCOMPARE(img.kind, ImageRecord::Kind::Cutout);
                    QCOMPARE(img.bands.size(), size_t(5));
                    QCOMPARE(img.planes, (std::vector<int>{0, 1, 3}));
                }
        QCOMPARE(found, 1);
    }

    void decamPiecesAreOneObjectWithThreeBands() {
        int objects = 0;
        for (auto oid : catalog_->select("")) {
            std::vector<std::string> bands;
            for (const auto& img : catalog_->images(oid))
                if (fs::path(img.path).filename().string().rfind("c4d_", 0) == 0) {
                    QCOMPARE(img.kind, ImageRecord::Kind::BandImage);
                    bands.push_back(img.bands.at(0));
                }
            if (bands.empty()) continue;
            ++objects;
            std::sort(bands.begin(), bands.end());
            QCOMPARE(bands, (std::vector<std::string>{"g", "r", "z"}));
        }
        QCOMPARE(objects, 1);
    }

    void deep2ThreeObjectsWithVIAndDeimosSpectra_data() {
        QTest::addColumn<QString>("objno");
        QTest::newRow("12004808") << "12004808";
        QTest::newRow("12008179") << "12008179";
        QTest::newRow("12012573") << "12012573";
    }
    void deep2ThreeObjectsWithVIAndDeimosSpectra() {
        QFETCH(QString, objno);
        auto id = catalog_->findObjectByKey("deep2:" + objno.toStdString());
        QVERIFY(id);
        const auto imgs = catalog_->images(*id);
        QCOMPARE(countKind(imgs, ImageRecord::Kind::BandImage), 2);   // HST V and I, no g,r,z
        QCOMPARE(countKind(imgs, ImageRecord::Kind::Cutout), 0);
        const auto spectra = catalog_->spectra(*id);
        QCOMPARE(spectra.size(), size_t(1));
        QVERIFY(validPixels(spectra[0]) > 1000);
        QVERIFY(validPixels(spectra[0]) < 7781);    // zero-ivar pixels and the uncovered range are masked
        QVERIFY(catalog_->objectPosition(*id));      // position from the ECSV
    }

    void licencesAreSkippedAsNotFits() {
        int licences = 0;
        for (const auto& f : summary_.files)
            if (fs::path(f.path).filename().string().rfind("LICENSE", 0) == 0) {
                ++licences;
                QCOMPARE(f.status, FileOutcome::Status::Skipped);
            }
        QCOMPARE(licences, 4);
    }

    void secondIngestChangesNothing() {
        const auto before = catalog_->info();
        auto readers = defaultReaderRegistry();
        IngestParams p;
        p.reader.cubeBands = {"g", "r", "i", "z", "y"};
        const auto again = ingestPaths(*catalog_, {kReal}, readers, p);
        QCOMPARE(again.ok, int64_t(0));
        QCOMPARE(again.failed, int64_t(0));
        const auto after = catalog_->info();
        QCOMPARE(after.objects, before.objects);
        QCOMPARE(after.spectra, before.spectra);
        QCOMPARE(after.images, before.images);
    }
};

QTEST_GUILESS_MAIN(TestIngestReal)
#include "tst_ingest_real.moc"
