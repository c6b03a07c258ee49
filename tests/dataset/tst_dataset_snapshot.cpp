// Snapshots of a simulated survey, ingested as a user would: pixels against astropy's
// reading of the same files, spectra against the catalog, files that vanished or broke after
// ingest, band images and absent bands, the cache and its staleness, the memory budget and a
// split that survives catalog growth.
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/dataset/snapshot.h"
#include "core/dataset/snapshot_cache.h"
#include "core/dataset/split.h"
#include "core/ingest/ingest.h"
#include "core/io/fits.h"
#include "core/sim/simulator.h"
#include "plugins/readers/builtin.h"
#include "tests/ingest/ingest_test_util.h"

#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

using namespace astroclip;
namespace fs = std::filesystem;

namespace {

constexpr int kSide = 64;   // simulated cutout side
constexpr int kCrop = 48;   // crop used here (offset 8)
constexpr int kObjects = 30;

sim::SimParams survey(const std::string& outDir, uint64_t seed, int n, double raCentre) {
    sim::SimParams p;
    p.outDir = outDir;
    p.n = n;
    p.seed = seed;
    p.size = kSide;
    p.threads = 2;
    p.raCentreDeg = raCentre;
    p.halfWidthDeg = 0.5;
    return p;
}

// A nanomaggy cube with the given band names, far from the simulated patch.
void writeBandCube(const std::string& path, const std::string& bands, int planes, double ra, int64_t targetId) {
    std::vector<float> px(size_t(planes) * kSide * kSide);
    for (size_t i = 0; i < px.size(); ++i) px[i] = float(i % 97) * 0.01f;
    auto f = FitsFile::create(path);
    f.writeImage({planes, kSide, kSide}, px.data());
    f.writeKey("BANDS", bands);
    f.writeKey("BUNIT", "nanomaggy");
    f.writeKey("TARGETID", targetId);
    ingesttest::writeWcs(f, ra, -30.0);
    f.close();
}

bool sameBytes(const void* a, const void* b, size_t n) { return std::memcmp(a, b, n) == 0; }

} // namespace

class TestDatasetSnapshot : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string catalogPath_, damagedCatalogPath_;
    ReaderRegistry readers_ = defaultReaderRegistry();

    std::string path(const std::string& name) { return (dir_.path() + "/").toStdString() + name; }

    SnapshotParams params(Modality m = Modality::Both) {
        SnapshotParams p;
        p.modality = m;
        p.cropSize = kCrop;
        p.columns = {"truth_z"};
        return p;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        sim::simulateSurvey(survey(path("survey"), 11, kObjects, 150.0));
        catalogPath_ = path("catalog.sqlite");
        auto catalog = Catalog::open(catalogPath_);
        const auto summary = ingestPaths(catalog, {path("survey")}, readers_, {});
        QCOMPARE(summary.failed, int64_t(0));
        QCOMPARE(catalog.objectCount(), int64_t(kObjects));

        // A second project on a copy of the survey, to be damaged after ingest, plus a g,r
        // cube (no z) and a V,I cube (band images only).
        fs::copy(path("survey"), path("copy"), fs::copy_options::recursive);
        writeBandCube(path("copy/gr-only.fits"), "gr", 2, 30.0, 900001);
        writeBandCube(path("copy/hst-vi.fits"), "V,I", 2, 31.0, 900002);
        damagedCatalogPath_ = path("damaged.sqlite");
        auto damaged = Catalog::open(damagedCatalogPath_);
        QCOMPARE(ingestPaths(damaged, {path("copy")}, readers_, {}).failed, int64_t(0));
    }

    // Every selected object is loaded; the crop is the file's pixels exactly, as astropy reads
    // them (window [8, 56) on both axes), masked where the IVAR cube is 0 or the pixel not finite.
    void imagesEqualFilePixels() {
        const QString python = "/usr/bin/python3";
        if (!QFileInfo::exists(python)) QSKIP("/usr/bin/python3 is not available");
        auto catalog = Catalog::open(catalogPath_, false);
        const DatasetSnapshot s = buildSnapshot(catalog, params());
        QCOMPARE(s.counts.selected, int64_t(kObjects));
        QCOMPARE(s.counts.loaded, int64_t(kObjects));
        QCOMPARE(s.size(), size_t(kObjects));
        QCOMPARE(s.cropSize, kCrop);
        QCOMPARE(s.images.size(), size_t(kObjects) * 3 * kCrop * kCrop);
        QCOMPARE(s.imageMask.size(), s.images.size());
        QCOMPARE(s.imageUnits.at("nanomaggy"), int64_t(kObjects));

        QStringList args{"-c", R"(
import sys, numpy as np
from astropy.io import fits
out, crop = sys.argv[1], int(sys.argv[2])
with open(out, 'wb') as o:
    for path in sys.argv[3:]:
        with fits.open(path) as h:
            img = h[0].data.astype(np.float32)
            ivar = h['IVAR'].data.astype(np.float32)
        y0 = (img.shape[1] - crop) // 2; x0 = (img.shape[2] - crop) // 2
        img = img[:, y0:y0 + crop, x0:x0 + crop]; ivar = ivar[:, y0:y0 + crop, x0:x0 + crop]
        ok = np.isfinite(img) & np.isfinite(ivar) & (ivar > 0)
        o.write(np.where(ok, img, 0).astype('<f4').tobytes()); o.write(ok.astype(np.uint8).tobytes())
)",
                          QString::fromStdString(path("astropy.bin")), QString::number(kCrop)};
        for (int64_t id : s.ids) args << QString::fromStdString(catalog.images(id).front().path);
        QProcess p;
        p.start(python, args);
        QVERIFY(p.waitForFinished(120000));
        const QString out = QString::fromLocal8Bit(p.readAllStandardOutput() + p.readAllStandardError());
        if (out.contains("ModuleNotFoundError")) QSKIP("astropy is not installed for /usr/bin/python3");
        QVERIFY2(p.exitCode() == 0, qPrintable(out));

        std::ifstream in(path("astropy.bin"), std::ios::binary);
        const size_t n = size_t(3) * kCrop * kCrop;
        std::vector<float> pixels(n);
        std::vector<uint8_t> valid(n);
        for (size_t k = 0; k < s.size(); ++k) {
            in.read(reinterpret_cast<char*>(pixels.data()), std::streamsize(n * sizeof(float)));
            in.read(reinterpret_cast<char*>(valid.data()), std::streamsize(n));
            QVERIFY(in.good());
            QVERIFY2(sameBytes(pixels.data(), s.images.data() + k * n, n * sizeof(float)), qPrintable(QString::number(s.ids[k])));
            QVERIFY(sameBytes(valid.data(), s.imageMask.data() + k * n, n));
            QVERIFY(std::all_of(s.bandPresent.begin() + 3 * k, s.bandPresent.begin() + 3 * k + 3, [](uint8_t b) { return b == 1; }));
        }
    }

    // Spectra are the catalog's arrays; downsampled ones keep the weighted mean and sum ivar.
    void spectraEqualCatalog() {
        auto catalog = Catalog::open(catalogPath_, false);
        SnapshotParams p = params(Modality::Spectrum);
        const DatasetSnapshot full = buildSnapshot(catalog, p);
        p.spectrumDownsample = 4;
        const DatasetSnapshot coarse = buildSnapshot(catalog, p);
        QCOMPARE(full.spectrumLength, 7781);
        QCOMPARE(coarse.spectrumLength, 1945);
        QVERIFY(full.images.empty() && !full.hasImages());
        QCOMPARE(full.ids, coarse.ids);
        for (size_t k = 0; k < full.size(); ++k) {
            const auto spectra = catalog.spectra(full.ids[k]);
            QCOMPARE(spectra.size(), size_t(1));
            const auto& rec = spectra.front();
            for (size_t i = 0; i < 7781; ++i) {
                const bool ok = rec.mask[i] == 0 && rec.ivar[i] > 0;
                QCOMPARE(full.spectrumFlux[k * 7781 + i], ok ? rec.flux[i] : 0.0f);
                QCOMPARE(full.spectrumIvar[k * 7781 + i], ok ? rec.ivar[i] : 0.0f);
            }
            for (size_t j = 0; j < 1945; ++j) {
                double w = 0, wf = 0;
                for (size_t i = 4 * j; i < 4 * j + 4; ++i) {
                    w += full.spectrumIvar[k * 7781 + i];
                    wf += double(full.spectrumIvar[k * 7781 + i]) * full.spectrumFlux[k * 7781 + i];
                }
                const float ivar = coarse.spectrumIvar[k * 1945 + j], flux = coarse.spectrumFlux[k * 1945 + j];
                QVERIFY(std::abs(ivar - w) <= 1e-6 * w);
                QVERIFY(std::abs(flux - (w > 0 ? wf / w : 0.0)) <= 1e-5 * (1 + std::abs(flux)));
            }
        }
        QCOMPARE(full.columns.at("truth_z"), catalog.numbers(full.ids, "truth_z"));
        QVERIFY(std::all_of(full.columns.at("truth_z").begin(), full.columns.at("truth_z").end(),
                            [](double z) { return std::isfinite(z) && z >= 0; }));
    }

    // Files deleted or truncated after ingest: those objects are left out with their reason,
    // the rest load. A g,r cube's z band is zeros, masked; a V,I cube gives no cutout.
    void damagedFilesAbsentBandsAndBandImages() {
        auto catalog = Catalog::open(damagedCatalogPath_, false);
        const auto ids = catalog.select("");
        std::vector<std::pair<int64_t, std::string>> victims;  // (id, cutout path) of two simulated objects
        for (int64_t id : ids) {
            const auto images = catalog.images(id);
            if (images.size() == 1 && images[0].path.find("cutout-") != std::string::npos && victims.size() < 2)
                victims.push_back({id, images[0].path});
        }
        QCOMPARE(victims.size(), size_t(2));
        fs::remove(victims[0].second);
        {
            std::ifstream src(victims[1].second, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(src)), {});
            src.close();
            std::ofstream(victims[1].second, std::ios::binary | std::ios::trunc) << bytes.substr(0, 2 * 2880 + 100);
        }

        const DatasetSnapshot both = buildSnapshot(catalog, params(Modality::Both));
        QCOMPARE(both.counts.selected, int64_t(kObjects + 2));
        QCOMPARE(both.counts.failed, int64_t(2));
        QCOMPARE(both.counts.loaded, int64_t(kObjects - 2));
        QCOMPARE(both.counts.skippedNoImage, int64_t(1));        // the V,I object
        QCOMPARE(both.counts.skippedBandImagesOnly, int64_t(1));
        QCOMPARE(both.counts.skippedNoSpectrum, int64_t(1));     // the g,r object
        QCOMPARE(both.failures.size(), size_t(2));
        for (size_t v = 0; v < 2; ++v) {
            QCOMPARE(both.failures[v].id, victims[v].first);
            QVERIFY2(both.failures[v].reason.find(victims[v].second) != std::string::npos, both.failures[v].reason.c_str());
            QVERIFY(std::find(both.ids.begin(), both.ids.end(), victims[v].first) == both.ids.end());
        }
        QVERIFY(both.failures[0].reason.find("no longer exists") != std::string::npos);

        const DatasetSnapshot images = buildSnapshot(catalog, params(Modality::Image));
        QCOMPARE(images.counts.loaded, int64_t(kObjects - 1));  // + the g,r cube, - 2 damaged
        const int64_t grId = *catalog.findObjectByKey("desi:targetid:900001");
        const size_t k = size_t(std::find(images.ids.begin(), images.ids.end(), grId) - images.ids.begin());
        QVERIFY(k < images.size());
        QCOMPARE(int(images.bandPresent[3 * k]), 1);
        QCOMPARE(int(images.bandPresent[3 * k + 1]), 1);
        QCOMPARE(int(images.bandPresent[3 * k + 2]), 0);
        const size_t plane = size_t(kCrop) * kCrop, base = k * 3 * plane;
        QVERIFY(std::all_of(images.images.begin() + std::ptrdiff_t(base + 2 * plane), images.images.begin() + std::ptrdiff_t(base + 3 * plane),
                            [](float v) { return v == 0; }));
        QVERIFY(std::all_of(images.imageMask.begin() + std::ptrdiff_t(base + 2 * plane), images.imageMask.begin() + std::ptrdiff_t(base + 3 * plane),
                            [](uint8_t v) { return v == 0; }));
        QVERIFY(std::all_of(images.imageMask.begin() + std::ptrdiff_t(base), images.imageMask.begin() + std::ptrdiff_t(base + 2 * plane),
                            [](uint8_t v) { return v == 1; }));

        // Nothing loadable: the message says why, naming the band-image object.
        try {
            SnapshotParams p = params(Modality::Image);
            p.where = "id = " + std::to_string(*catalog.findObjectByKey("desi:targetid:900002"));
            buildSnapshot(catalog, p);
            QFAIL("an empty snapshot was accepted");
        } catch (const UsageError& e) {
            QVERIFY2(std::string(e.what()).find("only band images: V, I") != std::string::npos, e.what());
        }
    }

    void refusals_data() {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("expected");
        QTest::newRow("memory budget") << "budget" << "--where";
        QTest::newRow("unknown column") << "column" << "no_such_column";
        QTest::newRow("crop larger than the cutouts") << "crop" << "smaller than the 96-pixel crop";
        QTest::newRow("zero downsampling") << "downsample" << "downsampling factor";
    }
    void refusals() {
        QFETCH(QString, what);
        QFETCH(QString, expected);
        auto catalog = Catalog::open(catalogPath_, false);
        SnapshotParams p = params();
        if (what == "budget") p.memoryBudgetBytes = 3 * snapshotBytesPerObject(p) + 10;
        if (what == "column") p.columns.push_back("no_such_column");
        if (what == "crop") p.cropSize = 96;
        if (what == "downsample") p.spectrumDownsample = 0;
        try {
            buildSnapshot(catalog, p);
            QFAIL("accepted");
        } catch (const UsageError& e) {
            QVERIFY2(QString(e.what()).contains(expected), e.what());
        }
    }

    void cancellable() {
        auto catalog = Catalog::open(catalogPath_, false);
        int64_t seen = 0, total = 0;
        const ProgressFn stopAtFive = [&](const Progress& p) {
            seen = p.done;
            total = p.total;
            return p.done < 5;
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, buildSnapshot(catalog, params(), stopAtFive));
        QCOMPARE(seen, int64_t(5));
        QCOMPARE(total, int64_t(kObjects));
    }

    // Save, check, load bit-exact; then the catalog grows, a file changes on disk, and the
    // selection changes: each makes the cache stale; the split keeps the old objects' sides.
    void cacheRoundTripStalenessAndStableSplit() {
        auto catalog = Catalog::open(catalogPath_, false);
        const SnapshotParams p = params();
        const std::string cache = path("snapshot.safetensors");
        bool rebuilt = false;
        const DatasetSnapshot built = loadOrBuildSnapshot(catalog, p, cache, {}, &rebuilt);
        QVERIFY(rebuilt);
        std::string why;
        QVERIFY2(snapshotIsCurrent(catalog, p, cache, &why), why.c_str());

        const DatasetSnapshot loaded = loadOrBuildSnapshot(catalog, p, cache, {}, &rebuilt);
        QVERIFY(!rebuilt);
        QCOMPARE(loaded.ids, built.ids);
        QCOMPARE(loaded.cropSize, built.cropSize);
        QCOMPARE(loaded.spectrumLength, built.spectrumLength);
        QVERIFY(loaded.images.size() == built.images.size() &&
                sameBytes(loaded.images.data(), built.images.data(), built.images.size() * sizeof(float)));
        QCOMPARE(loaded.imageMask, built.imageMask);
        QCOMPARE(loaded.bandPresent, built.bandPresent);
        QVERIFY(loaded.spectrumFlux.size() == built.spectrumFlux.size() &&
                sameBytes(loaded.spectrumFlux.data(), built.spectrumFlux.data(), built.spectrumFlux.size() * sizeof(float)));
        QVERIFY(loaded.spectrumIvar.size() == built.spectrumIvar.size() &&
                sameBytes(loaded.spectrumIvar.data(), built.spectrumIvar.data(), built.spectrumIvar.size() * sizeof(float)));
        QVERIFY(sameBytes(loaded.columns.at("truth_z").data(), built.columns.at("truth_z").data(), built.size() * sizeof(double)));
        QCOMPARE(loaded.fingerprint, built.fingerprint);
        QCOMPARE(loaded.catalogPath, built.catalogPath);
        QCOMPARE(loaded.counts.loaded, built.counts.loaded);
        QCOMPARE(loaded.imageUnits, built.imageUnits);

        SnapshotParams other = p;
        other.cropSize = 32;
        QVERIFY(!snapshotIsCurrent(catalog, other, cache, &why));
        QVERIFY2(why.find("selection") != std::string::npos, why.c_str());
        other = p;
        other.memoryBudgetBytes = 1 << 30;  // not part of what a snapshot is
        QVERIFY(snapshotIsCurrent(catalog, other, cache));

        // A cutout rewritten on disk (same size; pixels are read by reference).
        const std::string cutout = catalog.images(built.ids[3]).front().path;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        fs::last_write_time(cutout, fs::file_time_type::clock::now());
        QVERIFY(!snapshotIsCurrent(catalog, p, cache, &why));
        QVERIFY2(why.find("changed") != std::string::npos, why.c_str());
        loadOrBuildSnapshot(catalog, p, cache, {}, &rebuilt);
        QVERIFY(rebuilt);
        QVERIFY(snapshotIsCurrent(catalog, p, cache));

        // The catalog grows.
        sim::simulateSurvey(survey(path("more"), 12, 8, 210.0));
        QCOMPARE(ingestPaths(catalog, {path("more")}, readers_, {}).failed, int64_t(0));
        QVERIFY(!snapshotIsCurrent(catalog, p, cache));
        const DatasetSnapshot grown = loadOrBuildSnapshot(catalog, p, cache, {}, &rebuilt);
        QVERIFY(rebuilt);
        QCOMPARE(grown.size(), size_t(kObjects + 8));

        const auto before = splitHeldOut(built.ids, 0.3, 5), after = splitHeldOut(grown.ids, 0.3, 5);
        std::set<int64_t> heldBefore, heldAfter;
        for (size_t i : before.heldOut) heldBefore.insert(built.ids[i]);
        for (size_t i : after.heldOut) heldAfter.insert(grown.ids[i]);
        for (int64_t id : built.ids) QCOMPARE(heldBefore.count(id), heldAfter.count(id));

        // A damaged cache is not current and loading it says what is wrong.
        std::ofstream(cache, std::ios::binary | std::ios::trunc) << "not a snapshot";
        QVERIFY(!snapshotIsCurrent(catalog, p, cache, &why));
        QVERIFY_THROWS_EXCEPTION(FileError, loadSnapshot(cache));
    }
};

QTEST_GUILESS_MAIN(TestDatasetSnapshot)
#include "tst_dataset_snapshot.moc"
