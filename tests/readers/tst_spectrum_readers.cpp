// The spectral readers on the real survey files in shared/data, checked against what
// shared/data/README.md says and against independent computations with astropy/numpy.
#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/ingest/reader.h"
#include "plugins/readers/builtin.h"

#include <QtTest>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <cmath>

using namespace astroclip;

namespace {

QString sharedData() { return QStringLiteral(ASTROCLIP_SHARED_DATA); }
std::string realFile(const QString& rel) { return QDir(sharedData()).filePath(rel).toStdString(); }

// Runs a Python peer (system python with astropy/numpy); its stdout is one JSON object.
QJsonObject runPython(const QString& script, const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral("/usr/bin/python3"), QStringList{QStringLiteral("-c"), script} + args);
    if (!p.waitForFinished(120000) || p.exitCode() != 0) {
        qWarning("python peer failed: %s", p.readAllStandardError().constData());
        return {};
    }
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

std::string text(const Value& v) {
    if (auto s = std::get_if<std::string>(&v)) return *s;
    return {};
}
double real(const Value& v) {
    if (auto d = std::get_if<double>(&v)) return *d;
    if (auto i = std::get_if<int64_t>(&v)) return double(*i);
    return std::nan("");
}
bool hasKey(const ObjectRecord& o, const std::string& k) {
    return std::find(o.keys.begin(), o.keys.end(), k) != o.keys.end();
}

// Independent inverse-variance merge of the DESI arms onto the grid (by pixel index).
const char* kDesiMergePy = R"PY(
import sys, json, numpy as np
from astropy.io import fits
h = fits.open(sys.argv[1])
n = 7781
iv = np.zeros(n); fi = np.zeros(n)
for arm in 'BRZ':
    w = h[arm + '_WAVELENGTH'].data.astype(float)
    f = h[arm + '_FLUX'].data[0].astype(float); v = h[arm + '_IVAR'].data[0].astype(float)
    m = h[arm + '_MASK'].data[0]
    good = (m == 0) & (v > 0) & np.isfinite(f) & np.isfinite(v)
    idx = np.rint((w - 3600.0) / 0.8).astype(int)
    np.add.at(iv, idx[good], v[good]); np.add.at(fi, idx[good], (v * f)[good])
flux = np.where(iv > 0, fi / np.where(iv > 0, iv, 1), 0.0)
fm = h['FIBERMAP'].data
print(json.dumps({'flux': flux.tolist(), 'ivar': iv.tolist(), 'ra': float(fm['TARGET_RA'][0]),
                  'dec': float(fm['TARGET_DEC'][0]), 'flux_g': float(fm['FLUX_G'][0])}))
)PY";

// ∫ f dλ over [lo, hi] of the native SDSS COADD, piecewise constant on pixels whose edges are
// midpoints of 10**loglam (the outer edges mirrored).
const char* kSdssIntegralPy = R"PY(
import sys, json, numpy as np
from astropy.io import fits
d = fits.open(sys.argv[1])['COADD'].data
w = 10 ** d['loglam'].astype(float); f = d['flux'].astype(float)
e = np.empty(len(w) + 1); e[1:-1] = 0.5 * (w[1:] + w[:-1]); e[0] = w[0] - (e[1] - w[0]); e[-1] = w[-1] + (w[-1] - e[-2])
cum = np.concatenate([[0.0], np.cumsum(f * np.diff(e))])
lo, hi = float(sys.argv[2]), float(sys.argv[3])
print(json.dumps({'integral': float(np.interp(hi, e, cum) - np.interp(lo, e, cum)), 'wmin': float(w[0]), 'wmax': float(w[-1]),
                  'emin': float(e[0]), 'emax': float(e[-1])}))
)PY";

// DEIMOS: vacuum wavelengths from the IAU (Morton 2000) vacuum → air formula inverted by
// fixed-point iteration (independent of the reader's closed-form air → vacuum), and the
// grid pixels that contain a zero-ivar native pixel.
const char* kDeimosPy = R"PY(
import sys, json, numpy as np
from astropy.io import fits
def vac_to_air(v):
    s2 = (1e4 / v) ** 2
    return v / (1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2))
h = fits.open(sys.argv[1])
bad = set(); wmin = 1e9; wmax = 0; zero = 0
for arm in ['Bxspf-B', 'Bxspf-R']:
    t = h[arm].data
    air = t['LAMBDA'][0].astype(float); iv = t['IVAR'][0].astype(float)
    vac = air.copy()
    for _ in range(6): vac = vac + (air - vac_to_air(vac))
    wmin = min(wmin, vac.min()); wmax = max(wmax, vac.max())
    z = iv <= 0; zero += int(z.sum())
    for i in np.nonzero(z)[0]:
        g = int(np.rint((vac[i] - 3600) / 0.8))
        if 0 <= g < 7781: bad.add(g)
print(json.dumps({'wmin': wmin, 'wmax': wmax, 'zero': zero, 'bad': sorted(bad), 'objno': h['Bxspf-B'].header['OBJNO']}))
)PY";

} // namespace

class TestSpectrumReadersReal : public QObject {
    Q_OBJECT
    ReaderRegistry registry_;

    ReadResult readWith(const std::string& path, const std::string& expectedReader) {
        const FileProbe probe = probeFile(path);
        const Reader* r = registry_.select(probe);
        if (!r) throw std::runtime_error("no reader selected for " + path);
        if (r->name() != expectedReader)
            throw std::runtime_error(path + " went to " + r->name() + ", expected " + expectedReader);
        return r->read(probe, ReaderOptions{});
    }

private Q_SLOTS:
    void initTestCase() {
        registerSpectrumReaders(registry_);
        if (!QFileInfo::exists(sharedData() + QStringLiteral("/real")))
            QSKIP("shared data (" ASTROCLIP_SHARED_DATA ") is absent: real-file spectrum tests skipped");
    }

    void selectsReader_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("reader");
        QTest::newRow("desi coadd") << "real/desi/coadd-4-80613-thru20210324.fits" << "desi-coadd";
        QTest::newRow("desi redrock") << "real/desi/redrock-4-80613-thru20210324.fits" << "desi-redrock";
        QTest::newRow("sdss") << "real/sdss/NGC4636_SDSS_DR12.fits" << "sdss-spec";
        QTest::newRow("deep2 a") << "real/deep2/spec1d.1153.151.12004808.fits" << "deimos-spec1d";
        QTest::newRow("deep2 b") << "real/deep2/spec1d.1203.063.12008179.fits" << "deimos-spec1d";
        QTest::newRow("tractor is no spectrum") << "real/desi/tractor-1054p567.fits" << "";
        QTest::newRow("hsc cube is no spectrum") << "real/hsc/Cut_HSC.fits" << "";
        QTest::newRow("licence text") << "real/desi/LICENSE.fastspecfit" << "";
        QTest::newRow("template without uncertainties") << "templates/kc96/sb_template.fits" << "";
    }
    void selectsReader() {
        QFETCH(QString, file);
        QFETCH(QString, reader);
        const Reader* r = registry_.select(probeFile(realFile(file)));
        QCOMPARE(r ? QString::fromStdString(r->name()) : QString(), reader);
    }

    void desiCoaddMergedOntoGrid() {
        const std::string path = realFile(QStringLiteral("real/desi/coadd-4-80613-thru20210324.fits"));
        const ReadResult res = readWith(path, "desi-coadd");
        QCOMPARE(res.objects.size(), size_t(1));
        const ObjectRecord& o = res.objects[0];
        QVERIFY(hasKey(o, "desi:targetid:39633345008634465"));
        QCOMPARE(std::get<int64_t>(o.columns.at("targetid")), int64_t(39633345008634465));
        QVERIFY(o.columns.count("flux_g") && o.columns.count("ebv") && o.columns.count("morphtype"));
        QVERIFY(o.columns.size() < 40);  // a curated set, not the whole FIBERMAP
        QCOMPARE(o.spectra.size(), size_t(1));
        const SpectrumRecord& s = o.spectra[0];
        QCOMPARE(s.flux.size(), size_t(DesiGrid::kSize));
        QCOMPARE(s.format, std::string("desi-coadd"));
        QCOMPARE(s.native, std::string("B,R,Z row 0"));
        QCOMPARE(s.nativeWaveMin, 3600.0);
        QVERIFY(std::abs(s.nativeWaveMax - 9824.0) < 1e-6);

        const QJsonObject py = runPython(QString::fromUtf8(kDesiMergePy), {QString::fromStdString(path)});
        QVERIFY2(!py.isEmpty(), "astropy peer gave no result");
        QVERIFY(std::abs(*o.ra - py[QStringLiteral("ra")].toDouble()) < 1e-9);
        QVERIFY(std::abs(*o.dec - py[QStringLiteral("dec")].toDouble()) < 1e-9);
        QVERIFY(std::abs(real(o.columns.at("flux_g")) - py[QStringLiteral("flux_g")].toDouble()) < 1e-5);
        const QJsonArray pf = py[QStringLiteral("flux")].toArray(), pi = py[QStringLiteral("ivar")].toArray();
        QCOMPARE(pf.size(), DesiGrid::kSize);
        double maxFluxDiff = 0, maxIvarRel = 0;
        int valid = 0;
        for (int i = 0; i < DesiGrid::kSize; ++i) {
            const double ivPy = pi[i].toDouble();
            QCOMPARE(bool(s.mask[i]), !(ivPy > 0));
            if (s.mask[i]) {
                QCOMPARE(s.flux[i], 0.f);
                QCOMPARE(s.ivar[i], 0.f);
                continue;
            }
            ++valid;
            maxFluxDiff = std::max(maxFluxDiff, std::abs(s.flux[i] - pf[i].toDouble()) / (1 + std::abs(pf[i].toDouble())));
            maxIvarRel = std::max(maxIvarRel, std::abs(s.ivar[i] - ivPy) / ivPy);
        }
        QVERIFY(valid > 7000);
        QVERIFY2(maxFluxDiff < 1e-5, qPrintable(QString::number(maxFluxDiff)));
        QVERIFY2(maxIvarRel < 1e-5, qPrintable(QString::number(maxIvarRel)));
    }

    void desiRedrock() {
        const std::string path = realFile(QStringLiteral("real/desi/redrock-4-80613-thru20210324.fits"));
        const ReadResult res = readWith(path, "desi-redrock");
        QCOMPARE(res.objects.size(), size_t(1));
        const ObjectRecord& o = res.objects[0];
        QVERIFY(hasKey(o, "desi:targetid:39633345008634465"));
        QVERIFY(std::abs(real(o.columns.at("z")) - 0.368744) < 5e-7);
        QCOMPARE(text(o.columns.at("spectype")), std::string("GALAXY"));
        QCOMPARE(std::get<int64_t>(o.columns.at("zwarn")), int64_t(0));
        QVERIFY(real(o.columns.at("zerr")) > 0 && real(o.columns.at("deltachi2")) > 0);
        QVERIFY(o.spectra.empty());
        // Position from its FIBERMAP, the same as the coadd's.
        QVERIFY(o.ra && o.dec);
        const ReadResult coadd =
            readWith(realFile(QStringLiteral("real/desi/coadd-4-80613-thru20210324.fits")), "desi-coadd");
        QCOMPARE(*o.ra, *coadd.objects.at(0).ra);
        QCOMPARE(*o.dec, *coadd.objects.at(0).dec);
        QVERIFY(std::abs(*o.ra - 105.4) < 0.2 && std::abs(*o.dec - 56.7) < 0.2);  // brick 1054p567
    }

    void sdssSpecResampled() {
        const std::string path = realFile(QStringLiteral("real/sdss/NGC4636_SDSS_DR12.fits"));
        const ReadResult res = readWith(path, "sdss-spec");
        QCOMPARE(res.objects.size(), size_t(1));
        const ObjectRecord& o = res.objects[0];
        QVERIFY(std::abs(real(o.columns.at("z")) - 0.00302509) < 1e-8);
        QCOMPARE(text(o.columns.at("class")), std::string("GALAXY"));
        QVERIFY(hasKey(o, "sdss:522-52024-396"));
        QVERIFY(o.ra && std::abs(*o.ra - 190.70706) < 1e-4 && std::abs(*o.dec - 2.6876632) < 1e-4);
        const SpectrumRecord& s = o.spectra.at(0);

        const double lo = DesiGrid::wave(1750) - 0.4, hi = DesiGrid::wave(3000) + 0.4;  // 4999.6–6000.4 Å
        const QJsonObject py = runPython(QString::fromUtf8(kSdssIntegralPy),
                                         {QString::fromStdString(path), QString::number(lo, 'f', 6), QString::number(hi, 'f', 6)});
        QVERIFY2(!py.isEmpty(), "astropy peer gave no result");
        const double wmin = py[QStringLiteral("wmin")].toDouble(), wmax = py[QStringLiteral("wmax")].toDouble();
        QVERIFY(std::abs(s.nativeWaveMin - wmin) < 0.05 && std::abs(s.nativeWaveMax - wmax) < 0.05);
        // A grid pixel not wholly inside the native pixels' span has no valid data.
        const double emin = py[QStringLiteral("emin")].toDouble(), emax = py[QStringLiteral("emax")].toDouble();
        int valid = 0;
        for (int i = 0; i < DesiGrid::kSize; ++i) {
            const double w = DesiGrid::wave(i);
            if (w < 3800 || w - 0.4 < emin || w + 0.4 > emax) QVERIFY2(s.mask[i], qPrintable(QString::number(w)));
            if (!s.mask[i]) ++valid;
        }
        QVERIFY(valid > 6000);
        double integral = 0;
        for (int i = 1750; i <= 3000; ++i) {
            QVERIFY(!s.mask[i]);
            integral += s.flux[i] * DesiGrid::kStep;
        }
        const double expected = py[QStringLiteral("integral")].toDouble();
        QVERIFY2(std::abs(integral - expected) < 1e-4 * std::abs(expected),
                 qPrintable(QStringLiteral("%1 vs %2").arg(integral).arg(expected)));
    }

    void deimosSpec1d_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("objno");
        QTest::addColumn<double>("ra");   // deimos_catalog.ecsv
        QTest::addColumn<double>("dec");
        QTest::addColumn<int>("zeroIvarAtLeast");  // native zero-ivar pixels in both arms (astropy)
        QTest::newRow("12004808") << "spec1d.1153.151.12004808.fits" << "12004808" << 214.21968 << 52.410386 << 1700;
        QTest::newRow("12008179") << "spec1d.1203.063.12008179.fits" << "12008179" << 214.33785 << 52.454369 << 10;
        QTest::newRow("12012573") << "spec1d.1205.091.12012573.fits" << "12012573" << 214.34313 << 52.53112 << 10;
    }
    void deimosSpec1d() {
        QFETCH(QString, file);
        QFETCH(QString, objno);
        QFETCH(double, ra);
        QFETCH(double, dec);
        QFETCH(int, zeroIvarAtLeast);
        const std::string path = realFile(QStringLiteral("real/deep2/") + file);
        const ReadResult res = readWith(path, "deimos-spec1d");
        QCOMPARE(res.objects.size(), size_t(1));
        const ObjectRecord& o = res.objects[0];
        QVERIFY(hasKey(o, "deep2:" + objno.toStdString()));
        QVERIFY(hasKey(o, "file:" + file.toStdString()));
        QVERIFY(o.ra && o.dec);
        const double sep = std::hypot((*o.ra - ra) * std::cos(dec * M_PI / 180), *o.dec - dec) * 3600;
        QVERIFY2(sep < 1.0, qPrintable(QStringLiteral("%1 arcsec from the ECSV position").arg(sep)));
        const SpectrumRecord& s = o.spectra.at(0);
        QVERIFY(s.unit.find("count") != std::string::npos);  // not flux-calibrated, and says so

        const QJsonObject py = runPython(QString::fromUtf8(kDeimosPy), {QString::fromStdString(path)});
        QVERIFY2(!py.isEmpty(), "astropy peer gave no result");
        QCOMPARE(py[QStringLiteral("objno")].toString(), objno);
        QVERIFY(py[QStringLiteral("zero")].toInt() >= zeroIvarAtLeast);
        const double wmin = py[QStringLiteral("wmin")].toDouble(), wmax = py[QStringLiteral("wmax")].toDouble();
        QVERIFY2(std::abs(s.nativeWaveMin - wmin) < 0.01 && std::abs(s.nativeWaveMax - wmax) < 0.01,
                 qPrintable(QStringLiteral("%1–%2 vs %3–%4").arg(s.nativeWaveMin).arg(s.nativeWaveMax).arg(wmin).arg(wmax)));
        for (const auto& g : py[QStringLiteral("bad")].toArray()) QVERIFY(s.mask[g.toInt()]);
        int valid = 0;
        for (int i = 0; i < DesiGrid::kSize; ++i) {
            if (s.mask[i]) continue;
            ++valid;
            QVERIFY(DesiGrid::wave(i) > wmin && DesiGrid::wave(i) < wmax);
            QVERIFY(s.ivar[i] > 0 && std::isfinite(s.flux[i]));
        }
        QVERIFY(valid > 1500);  // ~2600 Å of coverage, minus the masked pixels
    }

};

QTEST_GUILESS_MAIN(TestSpectrumReadersReal)
#include "tst_spectrum_readers.moc"
