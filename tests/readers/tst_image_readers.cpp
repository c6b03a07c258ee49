// Image readers (image-cube, band-image) on the real survey files and on damaged files made
// here; sky positions are checked against astropy.wcs.
#include "reader_test_support.h"

#include "core/io/fits.h"

#include <QTemporaryDir>

#include <cmath>
#include <fstream>
#include <limits>

using namespace astroclip;
using namespace readertest;

namespace {

// A TAN WCS of 0.262″ pixels centred on (ra, dec) at the image centre.
void writeTanWcs(FitsFile& f, int w, int h, double ra, double dec) {
    f.writeKey("CTYPE1", "RA---TAN");
    f.writeKey("CTYPE2", "DEC--TAN");
    f.writeKey("CRVAL1", ra);
    f.writeKey("CRVAL2", dec);
    f.writeKey("CRPIX1", (w + 1) / 2.0);
    f.writeKey("CRPIX2", (h + 1) / 2.0);
    f.writeKey("CD1_1", -0.262 / 3600);
    f.writeKey("CD1_2", 0.0);
    f.writeKey("CD2_1", 0.0);
    f.writeKey("CD2_2", 0.262 / 3600);
}

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float(i % 97) * 0.01f;
    return v;
}

} // namespace

class TestImageReaders : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string tmp(const char* name) { return (tmp_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void hscCubeWithCubeBands() {
        if (!haveSharedData()) QSKIP("shared data (" ASTROCLIP_SHARED_DATA ") absent: real-file test skipped");
        const std::string path = real("hsc/Cut_HSC.fits");
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("image-cube"));
        ReaderOptions opt;
        opt.cubeBands = {"g", "r", "i", "z", "y"};
        const ReadResult r = readFile(path, opt);
        QVERIFY(!r.skipped);
        QCOMPARE(r.objects.size(), size_t(1));
        const ObjectRecord& o = r.objects[0];
        QCOMPARE(o.images.size(), size_t(1));
        const ImageRecord& img = o.images[0];
        QCOMPARE(img.kind, ImageRecord::Kind::Cutout);
        QCOMPARE(img.bands, (std::vector<std::string>{"g", "r", "i", "z", "y"}));
        QCOMPARE(img.planes, (std::vector<int>{0, 1, 3}));
        QCOMPARE(img.width, 50);
        QCOMPARE(img.height, 50);
        QCOMPARE(img.hdu, 1);
        // PC = 4.6667e-5 deg, CDELT = 1 → 0.168″ per pixel
        QVERIFY(std::fabs(img.pixscaleArcsec - 4.6666666666639e-5 * 3600) < 1e-4);
        QVERIFY(o.ra && o.dec);
        const auto peer = astropyCentres({path});
        QVERIFY2(peer.count(path), "astropy did not answer");
        QVERIFY2(sepArcsec(*o.ra, *o.dec, peer.at(path).ra, peer.at(path).dec) < 0.01,
                 qPrintable(QString("reader %1 %2 vs astropy %3 %4").arg(*o.ra, 0, 'f', 8).arg(*o.dec, 0, 'f', 8)
                                .arg(peer.at(path).ra, 0, 'f', 8).arg(peer.at(path).dec, 0, 'f', 8)));
    }

    void hscCubeWithoutBandsAsksForCubeBands() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        try {
            readFile(real("hsc/Cut_HSC.fits"));
            QFAIL("expected FileError");
        } catch (const FileError& e) {
            QVERIFY2(std::string(e.what()).find("--cube-bands") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("5 planes") != std::string::npos, e.what());
            QVERIFY(e.path().find("Cut_HSC.fits") != std::string::npos);
        }
    }

    void psfCubeSkipped_data() {
        QTest::addColumn<bool>("withCubeBands");
        QTest::newRow("with --cube-bands") << true;
        QTest::newRow("without --cube-bands") << false;
    }
    void psfCubeSkipped() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        QFETCH(bool, withCubeBands);
        ReaderOptions opt;
        if (withCubeBands) opt.cubeBands = {"g", "r", "i", "z", "y"};
        const ReadResult r = readFile(real("hsc/PSF_HSC.fits"), opt);
        QVERIFY(r.skipped);
        QVERIFY(r.objects.empty());
        QVERIFY2(r.skipReason.find("no WCS or object id") != std::string::npos, r.skipReason.c_str());
        QVERIFY2(r.skipReason.find("PSF") != std::string::npos, r.skipReason.c_str());
    }

    void decamPieces() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        const std::map<std::string, std::string> files = {
            {real("decam/c4d_150329_083505_ooi_g_ls9.N11.fits"), "g"},
            {real("decam/c4d_150329_083320_ooi_r_ls9.N11.fits"), "r"},
            {real("decam/c4d_140818_232043_ooi_z_ls9.N12.fits"), "z"}};
        std::vector<std::string> paths;
        for (const auto& [p, b] : files) paths.push_back(p);
        const auto peer = astropyCentres(paths);
        std::vector<SkyPos> centres;
        for (const auto& [path, band] : files) {
            QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("band-image"));
            const ReadResult r = readFile(path);
            QCOMPARE(r.objects.size(), size_t(1));
            const ObjectRecord& o = r.objects[0];
            QVERIFY(o.keys.empty());  // no id: linked by position alone
            QCOMPARE(o.images.size(), size_t(1));
            const ImageRecord& img = o.images[0];
            QCOMPARE(img.kind, ImageRecord::Kind::BandImage);
            QCOMPARE(img.bands, std::vector<std::string>{band});
            QCOMPARE(img.hdu, 2);
            QCOMPARE(img.width, 41);
            QCOMPARE(img.height, 51);
            QCOMPARE(QString::fromStdString(img.unit), QString("count"));
            QVERIFY2(std::fabs(img.pixscaleArcsec - 0.263) < 0.01, qPrintable(QString::number(img.pixscaleArcsec)));
            QVERIFY(o.ra && o.dec);
            QVERIFY2(peer.count(path), "astropy did not answer");
            const double d = sepArcsec(*o.ra, *o.dec, peer.at(path).ra, peer.at(path).dec);
            QVERIFY2(d < 0.01, qPrintable(QString("%1: %2″ from astropy's TPV centre").arg(band.c_str()).arg(d)));
            centres.push_back({*o.ra, *o.dec});
        }
        for (size_t i = 0; i < centres.size(); ++i)
            for (size_t j = i + 1; j < centres.size(); ++j)
                QVERIFY(sepArcsec(centres[i].ra, centres[i].dec, centres[j].ra, centres[j].dec) < 0.2);
    }

    void hstCutouts_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("objno");
        QTest::addColumn<QString>("band");
        for (const char* objno : {"12004808", "12008179", "12012573"}) {
            QTest::newRow(qPrintable(QString("%1 V").arg(objno))) << QString("%1.acs.v_6ac_.fits").arg(objno) << objno << "F606W";
            QTest::newRow(qPrintable(QString("%1 I").arg(objno))) << QString("%1.acs.i_6ac_.fits").arg(objno) << objno << "F814W";
        }
    }
    void hstCutouts() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        QFETCH(QString, file);
        QFETCH(QString, objno);
        QFETCH(QString, band);
        const std::string path = real(("deep2/" + file).toStdString().c_str());
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("band-image"));
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(1));
        const ObjectRecord& o = r.objects[0];
        QVERIFY(hasKey(o, "deep2:" + objno.toStdString()));
        QVERIFY(hasKey(o, "file:" + file.toStdString()));
        const ImageRecord& img = o.images.at(0);
        QCOMPARE(img.kind, ImageRecord::Kind::BandImage);
        QCOMPARE(img.bands, std::vector<std::string>{band.toStdString()});
        QCOMPARE(img.width, 201);
        QCOMPARE(img.height, 201);
        QVERIFY(std::fabs(img.pixscaleArcsec - 0.03) < 1e-3);  // CD = 8.333e-6 deg
        const auto peer = astropyCentres({path});
        QVERIFY2(peer.count(path), "astropy did not answer");
        QVERIFY(sepArcsec(*o.ra, *o.dec, peer.at(path).ra, peer.at(path).dec) < 0.01);
    }

    void nonFitsFilesClaimedByNoReader_data() {
        QTest::addColumn<QString>("file");
        for (const char* f : {"decam/LICENSE.legacypipe", "deep2/LICENSE.mosviz", "desi/LICENSE.fastspecfit",
                              "hsc/LICENSE.scarlet"})
            QTest::newRow(f) << QString("real/") + f;
        QTest::newRow("README.md") << "README.md";
    }
    void nonFitsFilesClaimedByNoReader() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        QFETCH(QString, file);
        const auto probe = probeFile((sharedData() + "/" + file).toStdString());
        QVERIFY(!probe.isFits);
        QVERIFY(imageTableRegistry().select(probe) == nullptr);
        QVERIFY(builtinRegistry().select(probe) == nullptr);
    }

    // The spectral files belong to the spectral readers (score ~50): these readers stay far below.
    void spectralFilesLeftToSpectralReaders_data() {
        QTest::addColumn<QString>("file");
        for (const char* f : {"desi/coadd-4-80613-thru20210324.fits", "desi/redrock-4-80613-thru20210324.fits",
                              "sdss/NGC4636_SDSS_DR12.fits", "deep2/spec1d.1153.151.12004808.fits"})
            QTest::newRow(f) << f;
    }
    void spectralFilesLeftToSpectralReaders() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        QFETCH(QString, file);
        const auto probe = probeFile(real(file.toStdString().c_str()));
        for (const Reader* r : imageTableRegistry().readers())
            QVERIFY2(r->score(probe) <= 10, qPrintable(QString::fromStdString(r->name())));
    }

    void simulatorStyleCutout() {
        // Laid out as core/sim writes it: primary [3][H][W] BANDS='grz', TAN WCS, TARGETID,
        // then IVAR, SEGMAP and DEPTHMAP extensions; a few NaN pixels.
        const std::string path = tmp("sim_cutout.fits");
        const int w = 32, h = 24;
        const int64_t targetId = 39633345008634465;  // needs all 64 bits
        auto flux = ramp(size_t(3 * w * h));
        flux[5] = std::numeric_limits<float>::quiet_NaN();
        flux[700] = std::numeric_limits<float>::infinity();
        {
            auto f = FitsFile::create(path);
            f.writeImage({3, h, w}, flux.data());
            writeTanWcs(f, w, h, 150.25, 2.5);
            f.writeKey("WCSAXES", 2);
            f.writeKey("TARGETID", targetId);
            f.writeKey("BANDS", "grz");
            f.writeKey("BUNIT", "nanomaggy");
            f.writeImage({3, h, w}, ramp(size_t(3 * w * h)).data(), "IVAR");
            std::vector<int16_t> seg(size_t(w * h), 1);
            f.writeImage({h, w}, seg.data(), "SEGMAP");
            f.writeImage({h, w}, ramp(size_t(w * h)).data(), "DEPTHMAP");
        }
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("image-cube"));
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(1));
        const ObjectRecord& o = r.objects[0];
        QCOMPARE(o.keys, std::vector<std::string>{"desi:targetid:39633345008634465"});
        QVERIFY(sepArcsec(*o.ra, *o.dec, 150.25, 2.5) < 1e-3);
        const ImageRecord& img = o.images.at(0);
        QCOMPARE(img.kind, ImageRecord::Kind::Cutout);
        QCOMPARE(img.planes, (std::vector<int>{0, 1, 2}));
        QCOMPARE(QString::fromStdString(img.unit), QString("nanomaggy"));
        QVERIFY(std::fabs(img.pixscaleArcsec - 0.262) < 1e-6);
        QCOMPARE(img.ivarRef, img.path + "[2]");
        QCOMPARE(img.segmapRef, img.path + "[3]");
        QCOMPARE(img.depthmapRef, img.path + "[4]");
        QVERIFY(img.path.front() == '/');
        QCOMPARE(r.warnings.size(), size_t(1));
        QVERIFY2(r.warnings[0].find("2 NaN/Inf pixels masked") != std::string::npos, r.warnings[0].c_str());
    }

    void twoPlaneCubeRecordsAbsentBand() {
        const std::string path = tmp("gr_only.fits");
        {
            auto f = FitsFile::create(path);
            f.writeImage({2, 16, 16}, ramp(2 * 16 * 16).data());
            writeTanWcs(f, 16, 16, 10.0, -30.0);
            f.writeKey("BANDS", "gr");
        }
        const ReadResult r = readFile(path);
        const ImageRecord& img = r.objects.at(0).images.at(0);
        QCOMPARE(img.kind, ImageRecord::Kind::Cutout);
        QCOMPARE(img.bands, (std::vector<std::string>{"g", "r"}));
        QCOMPARE(img.planes, (std::vector<int>{0, 1, -1}));
    }

    void damagedImagesThrowFileError_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("entirely NaN") << "nan" << "entirely NaN/Inf";
        QTest::newRow("BANDS names more bands than planes") << "bands" << "declares 3 bands but the cube holds 2 planes";
        QTest::newRow("zero-length axis (cube)") << "zero3" << "has length 0";
        QTest::newRow("zero-length axis (band image)") << "zero2" << "has length 0";
        QTest::newRow("4 axes longer than 1") << "naxis4" << "4 axes longer than 1";
        QTest::newRow("absurd plane count") << "planes" << "implausible image size";
    }
    void damagedImagesThrowFileError() {
        QFETCH(QString, kind);
        QFETCH(QString, expected);
        const std::string path = tmp(qPrintable(kind + ".fits"));
        {
            auto f = FitsFile::create(path);
            if (kind == "nan") {
                std::vector<float> nan(3 * 8 * 8, std::numeric_limits<float>::quiet_NaN());
                nan[7] = std::numeric_limits<float>::infinity();
                f.writeImage({3, 8, 8}, nan.data());
                f.writeKey("BANDS", "grz");
            } else if (kind == "bands") {
                f.writeImage({2, 8, 8}, ramp(2 * 64).data());
                f.writeKey("BANDS", "grz");
            } else if (kind == "zero3") {
                f.writeImage({3, 0, 8}, static_cast<const float*>(nullptr));
                f.writeKey("BANDS", "grz");
            } else if (kind == "zero2") {
                f.writeImage({8, 0}, static_cast<const float*>(nullptr));
                f.writeKey("FILTER", "r");
            } else if (kind == "naxis4") {
                f.writeImage({2, 3, 8, 8}, ramp(2 * 3 * 64).data());
                f.writeKey("BANDS", "grz");
            } else if (kind == "planes") {
                f.writeImage({2000, 1, 1}, ramp(2000).data());
            }
            writeTanWcs(f, 8, 8, 20.0, 10.0);
        }
        try {
            const ReadResult r = readFile(path);
            QFAIL(qPrintable("expected FileError, got " + QString::number(r.objects.size()) + " objects"));
        } catch (const FileError& e) {
            QVERIFY2(std::string(e.what()).find(expected.toStdString()) != std::string::npos, e.what());
            QCOMPARE(QString::fromStdString(e.path()), QString::fromStdString(path));
        }
    }

    void cubeWithDegenerateFourthAxisIsValid() {
        const std::string path = tmp("naxis4_of_1.fits");
        {
            auto f = FitsFile::create(path);
            f.writeImage({1, 3, 8, 8}, ramp(3 * 64).data());
            writeTanWcs(f, 8, 8, 20.0, 10.0);
            f.writeKey("BANDS", "g,r,z");
        }
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.at(0).images.at(0).planes, (std::vector<int>{0, 1, 2}));
    }

    void truncatedCopiesThrowFileError_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("HSC cube") << "hsc/Cut_HSC.fits";
        QTest::newRow("DECam piece") << "decam/c4d_150329_083505_ooi_g_ls9.N11.fits";
        QTest::newRow("HST cutout") << "deep2/12004808.acs.v_6ac_.fits";
        QTest::newRow("Tractor table") << "desi/tractor-1054p567.fits";
    }
    void truncatedCopiesThrowFileError() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        QFETCH(QString, file);
        const std::string src = real(file.toStdString().c_str());
        // Same base name (readers may rely on file-name conventions), in a folder of its own.
        QDir(tmp_.path()).mkpath("truncated");
        const std::string path = tmp(qPrintable("truncated/" + QFileInfo(file).fileName()));
        {
            std::ifstream in(src, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::ofstream out(path, std::ios::binary);
            out.write(bytes.data(), std::streamsize(bytes.size() / 2));
        }
        ReaderOptions opt;
        opt.cubeBands = {"g", "r", "i", "z", "y"};
        const auto probe = probeFile(path);
        const Reader* reader = imageTableRegistry().select(probe);
        QVERIFY2(reader, "the header survives the cut: a reader should claim the file and report the damage");
        try {
            reader->read(probe, opt);
            QFAIL("expected FileError");
        } catch (const FileError& e) {
            QCOMPARE(QString::fromStdString(e.path()), QString::fromStdString(path));
            QVERIFY(!e.problem().empty());
        }
    }
};

QTEST_GUILESS_MAIN(TestImageReaders)
#include "tst_image_readers.moc"
