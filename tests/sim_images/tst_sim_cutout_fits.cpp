// The cutout FITS file: round trip through core/io/fits.h, fitsverify, and astropy's reading
// of the data, extensions and WCS.
#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/sim/render_model.h"

#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;
using namespace astroclip::sim;

namespace {
RenderedCutout sampleCutout(int size) {
    CutoutScene scene;
    scene.size = size;
    scene.central.z = 0.15;
    scene.central.bulge.sersicN = 4;
    scene.central.bulge.reArcsec = 0.6;
    scene.central.bulge.flux = {2, 5, 8};
    scene.central.disk.reArcsec = 1.2;
    scene.central.disk.axisRatio = 0.5;
    scene.central.disk.flux = {3, 4, 5};
    Neighbour nb;
    nb.galaxy.z = 0.8;
    nb.galaxy.disk.reArcsec = 0.5;
    nb.galaxy.disk.flux = {0.5, 1, 2};
    nb.dxPix = -9;
    nb.dyPix = 11;
    scene.neighbours.push_back(nb);
    scene.tidal = TidalKind::Stream;
    Rng rng = makeRng(21, 0, 1);
    return renderCutout(scene, rng);
}
} // namespace

class TestSimCutoutFits : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTrip() {
        const RenderedCutout cut = sampleCutout(64);
        const std::string path = dir_.filePath("cutout.fits").toStdString();
        writeCutoutFits(path, cut, 39627000123456789LL, 150.123456789, 2.2345678);
        QVERIFY(!QFileInfo::exists(QString::fromStdString(path + ".tmp")));
        FitsFile f = FitsFile::open(path);
        QCOMPARE(f.hduCount(), 4);
        QCOMPARE(f.imageShape(), (std::vector<long>{3, 64, 64}));
        QCOMPARE(f.imageBitpix(), -32);
        QVERIFY(f.readImageFloat() == cut.flux);
        QCOMPARE(*f.keyString("BANDS"), std::string("grz"));
        QCOMPARE(*f.keyString("BUNIT"), std::string("nanomaggy"));
        QCOMPARE(*f.keyString("CTYPE1"), std::string("RA---TAN"));
        QCOMPARE(*f.keyString("CTYPE2"), std::string("DEC--TAN"));
        QCOMPARE(*f.keyDouble("CRPIX1"), 33.0);
        QCOMPARE(*f.keyDouble("CRPIX2"), 33.0);
        QCOMPARE(*f.keyDouble("CRVAL1"), 150.123456789);
        QCOMPARE(*f.keyDouble("CD1_1"), -0.262 / 3600);
        QCOMPARE(*f.keyDouble("CD2_2"), 0.262 / 3600);
        QCOMPARE(*f.keyInt("TARGETID"), int64_t(39627000123456789LL));
        QCOMPARE(*f.keyDouble("PIXSCALE"), 0.262);
        QCOMPARE(*f.keyString("SURVEY"), std::string("simulated Legacy Surveys DR-like"));
        const char* bands[] = {"G", "R", "Z"};
        for (int b = 0; b < kBands; ++b) {
            QCOMPARE(*f.keyDouble(std::string("PSFFWHM_") + bands[b]), cut.psfFwhmArcsec[b]);
            QCOMPARE(*f.keyDouble(std::string("GALDEP_") + bands[b]), cut.galdepthMag[b]);
        }
        QVERIFY(f.moveToName("IVAR"));
        QCOMPARE(f.imageShape(), (std::vector<long>{3, 64, 64}));
        QVERIFY(f.readImageFloat() == cut.ivar);
        QVERIFY(f.moveToName("SEGMAP"));
        QCOMPARE(f.imageBitpix(), 16);
        QCOMPARE(f.imageShape(), (std::vector<long>{64, 64}));
        const std::vector<double> seg = f.readImageDouble();
        for (size_t i = 0; i < seg.size(); ++i) QCOMPARE(int(seg[i]), int(cut.segmap[i]));
        QCOMPARE(*f.keyInt("SEG_CEN"), int64_t(kSegCentral));
        QCOMPARE(*f.keyInt("SEG_NBR"), int64_t(kSegNeighbour));
        QCOMPARE(*f.keyInt("SEG_TID"), int64_t(kSegTidal));
        QCOMPARE(*f.keyInt("SEG_BKG"), int64_t(kSegBackground));
        QVERIFY(f.moveToName("DEPTHMAP"));
        QCOMPARE(*f.keyString("BUNIT"), std::string("redshift"));
        QVERIFY(f.readImageFloat() == cut.depthmap);
        // Writing again replaces the file in place.
        writeCutoutFits(path, sampleCutout(48), 7, 10.0, -5.0);
        QCOMPARE(FitsFile::open(path).imageShape(), (std::vector<long>{3, 48, 48}));
    }

    void unwritableDirectoryIsAFileError() {
        const RenderedCutout cut = sampleCutout(32);
        QVERIFY_THROWS_EXCEPTION(FileError, writeCutoutFits(dir_.filePath("missing/dir/c.fits").toStdString(), cut, 1, 0, 0));
    }

    void fitsverifyPasses() {
        const QString exe = QStandardPaths::findExecutable("fitsverify");
        if (exe.isEmpty()) QSKIP("fitsverify is not installed");
        const QString path = dir_.filePath("verify.fits");
        writeCutoutFits(path.toStdString(), sampleCutout(64), 42, 210.5, -1.25);
        QProcess p;
        p.start(exe, {"-q", path});
        QVERIFY(p.waitForFinished(60000));
        const QString out = QString::fromLocal8Bit(p.readAllStandardOutput() + p.readAllStandardError());
        qInfo("%s", qPrintable(out.trimmed()));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(out.contains("verification OK"));
        QVERIFY(!out.contains("warning", Qt::CaseInsensitive) || out.contains(" 0 warnings"));
    }

    // astropy reads the cube and extensions, and its WCS puts (ra, dec) at CRPIX with east left.
    void astropyReadsCutoutAndWcs() {
        const QString python = "/usr/bin/python3";
        if (!QFileInfo::exists(python)) QSKIP("/usr/bin/python3 is not available");
        const QString path = dir_.filePath("astropy.fits");
        const RenderedCutout cut = sampleCutout(64);
        writeCutoutFits(path.toStdString(), cut, 42, 210.5, -1.25);
        const QString script = R"(
import sys, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter('error')
with fits.open(sys.argv[1]) as h:
    assert [x.name for x in h] == ['PRIMARY', 'IVAR', 'SEGMAP', 'DEPTHMAP'], [x.name for x in h]
    assert h[0].data.shape == (3, 64, 64) and h[0].data.dtype.kind == 'f'
    assert h['IVAR'].data.shape == (3, 64, 64)
    assert h['SEGMAP'].data.dtype == np.dtype('>i2') and h['SEGMAP'].data.shape == (64, 64)
    assert h['DEPTHMAP'].data.shape == (64, 64)
    assert h[0].header['BANDS'] == 'grz'
    full = WCS(h[0].header)
    assert full.naxis == 3 and list(full.wcs.ctype) == ['RA---TAN', 'DEC--TAN', 'BAND'], full
    assert np.allclose(full.pixel_to_world_values(0, 0, 2)[2], 2)
    w = full.celestial
    cx, cy = h[0].header['CRPIX1'] - 1, h[0].header['CRPIX2'] - 1
    assert cx == 32 and cy == 32
    ra, dec = w.pixel_to_world_values(cx, cy)
    assert abs(ra - 210.5) < 1e-9 and abs(dec + 1.25) < 1e-9, (ra, dec)
    ra1, dec1 = w.pixel_to_world_values(cx + 1, cy)
    ra2, dec2 = w.pixel_to_world_values(cx, cy + 1)
    assert ra1 < ra and abs((ra - ra1) * np.cos(np.radians(dec)) * 3600 - 0.262) < 1e-6
    assert dec2 > dec and abs((dec2 - dec) * 3600 - 0.262) < 1e-6
    for ext in ('IVAR', 'SEGMAP', 'DEPTHMAP'):
        e = WCS(h[ext].header).celestial
        assert np.allclose(e.pixel_to_world_values(cx, cy), (210.5, -1.25))
    print('astropy OK')
)";
        QProcess p;
        p.start(python, {"-c", script, path});
        QVERIFY(p.waitForFinished(120000));
        const QString out = QString::fromLocal8Bit(p.readAllStandardOutput() + p.readAllStandardError());
        if (out.contains("ModuleNotFoundError")) QSKIP("astropy is not installed for /usr/bin/python3");
        qInfo("%s", qPrintable(out.trimmed()));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(out.contains("astropy OK"));
    }

private:
    QTemporaryDir dir_;
};

QTEST_GUILESS_MAIN(TestSimCutoutFits)
#include "tst_sim_cutout_fits.moc"
