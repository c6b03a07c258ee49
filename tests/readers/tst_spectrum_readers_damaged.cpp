// The spectral readers on files made here with core/io/fits.h: exact inverse-variance merges,
// off-grid arms, damaged inputs (FileError naming file and problem, never a crash), bad
// pixels masked, and the generic spectrum table's layouts and units.
#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/io/fits.h"
#include "core/ingest/reader.h"
#include "plugins/readers/builtin.h"
#include "plugins/readers/spec_common.h"

#include <QtTest>
#include <QTemporaryDir>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

using namespace astroclip;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Arm {
    std::string name;
    std::vector<double> wave;
    std::vector<float> flux, ivar;  // [ntarget][npix]
    std::vector<int32_t> mask;
    std::vector<long> fluxShape;    // empty: [ntarget][npix]
    bool writeIvar = true;
};

// An arm of npix pixels starting at grid pixel `offset`, shifted by `shift` Å, with the
// given flux and ivar for every target.
Arm makeArm(const std::string& name, int offset, int npix, int ntarget, double shift,
            const std::function<float(int, double)>& flux, const std::function<float(int, double)>& ivar) {
    Arm a;
    a.name = name;
    for (int i = 0; i < npix; ++i) a.wave.push_back(DesiGrid::wave(offset + i) + shift);
    for (int t = 0; t < ntarget; ++t)
        for (int i = 0; i < npix; ++i) {
            a.flux.push_back(flux(t, a.wave[i]));
            a.ivar.push_back(ivar(t, a.wave[i]));
        }
    a.mask.assign(a.flux.size(), 0);
    return a;
}

void writeCoadd(const std::string& path, const std::vector<int64_t>& ids, const std::vector<Arm>& arms) {
    auto f = FitsFile::create(path);
    f.writeEmptyPrimary();
    f.createTable("FIBERMAP", {{"TARGETID", "K", ""}, {"TARGET_RA", "D", "deg"}, {"TARGET_DEC", "D", "deg"},
                               {"FLUX_G", "E", "nanomaggy"}, {"MORPHTYPE", "4A", ""}, {"PRIORITY", "J", ""}},
                  long(ids.size()));
    std::vector<double> ra, dec;
    std::vector<float> fluxG;
    std::vector<std::string> morph;
    std::vector<int32_t> prio;
    for (size_t i = 0; i < ids.size(); ++i) {
        ra.push_back(150.0 + 0.01 * double(i));
        dec.push_back(2.0 - 0.01 * double(i));
        fluxG.push_back(3.5f + float(i));
        morph.push_back("SER");
        prio.push_back(3000);
    }
    f.writeColumn(1, 1, ids);
    f.writeColumn(2, 1, ra);
    f.writeColumn(3, 1, dec);
    f.writeColumn(4, 1, fluxG);
    f.writeColumn(5, 1, morph);
    f.writeColumn(6, 1, prio);
    for (const Arm& a : arms) {
        const long npix = long(a.wave.size());
        const long nt = long(a.flux.size()) / npix;
        const std::vector<long> shape = a.fluxShape.empty() ? std::vector<long>{nt, npix} : a.fluxShape;
        f.writeImage({npix}, a.wave.data(), a.name + "_WAVELENGTH");
        f.writeImage(shape, a.flux.data(), a.name + "_FLUX");
        if (a.writeIvar) f.writeImage(shape, a.ivar.data(), a.name + "_IVAR");
        f.writeImage(shape, a.mask.data(), a.name + "_MASK");
    }
    f.close();
}

std::vector<Arm> constantArms(int ntarget, float fluxB, float ivarB, float fluxR, float ivarR) {
    auto c = [](float v) { return [v](int, double) { return v; }; };
    return {makeArm("B", 0, 2751, ntarget, 0, c(fluxB), c(ivarB)),
            makeArm("R", 2700, 2326, ntarget, 0, c(fluxR), c(ivarR)),
            makeArm("Z", 4900, 2881, ntarget, 0, c(fluxR), c(ivarR))};
}

ReadResult readFile(const std::string& path, const std::string& expectedReader) {
    const FileProbe probe = probeFile(path);
    ReaderRegistry reg;
    registerSpectrumReaders(reg);
    const Reader* r = reg.select(probe);
    if (!r || r->name() != expectedReader) throw std::runtime_error(path + ": expected reader " + expectedReader);
    return r->read(probe, ReaderOptions{});
}

} // namespace

class TestSpectrumReadersDamaged : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string file(const char* name) { return dir_.filePath(QString::fromUtf8(name)).toStdString(); }

private Q_SLOTS:
    void desiArmsMergeByInverseVariance() {
        const std::string path = file("coadd-merge.fits");
        writeCoadd(path, {1234567890123}, constantArms(1, 2.f, 1.f, 5.f, 3.f));
        const ReadResult r = readFile(path, "desi-coadd");
        QCOMPARE(r.objects.size(), size_t(1));
        const ObjectRecord& o = r.objects[0];
        QCOMPARE(o.keys.at(0), std::string("desi:targetid:1234567890123"));
        QCOMPARE(*o.ra, 150.0);
        QCOMPARE(std::get<std::string>(o.columns.at("morphtype")), std::string("SER"));
        QVERIFY(std::abs(std::get<double>(o.columns.at("flux_g")) - 3.5) < 1e-6);
        QVERIFY(!o.columns.count("priority"));  // bookkeeping, not a catalogue column
        const SpectrumRecord& s = o.spectra.at(0);
        QCOMPARE(s.flux[100], 2.f);
        QCOMPARE(s.ivar[100], 1.f);
        // Overlap 2700–2750: (2·1 + 5·3) / (1 + 3), ivar 1 + 3.
        QCOMPARE(s.flux[2720], 4.25f);
        QCOMPARE(s.ivar[2720], 4.f);
        QCOMPARE(s.flux[3000], 5.f);
        QCOMPARE(s.ivar[3000], 3.f);
        QVERIFY(std::none_of(s.mask.begin(), s.mask.end(), [](unsigned char m) { return m != 0; }));
    }

    // An arm off the 0.8 Å lattice is rebinned (flux conserving) before the merge.
    void desiOffGridArmIsRebinned() {
        const std::string path = file("coadd-offgrid.fits");
        auto linear = [](int, double w) { return float(1.0 + 0.001 * (w - 3600)); };
        auto one = [](int, double) { return 1.f; };
        writeCoadd(path, {7}, {makeArm("B", 0, 2751, 1, 0.37, linear, one), makeArm("R", 2751, 2326, 1, 0, linear, one)});
        const SpectrumRecord s = readFile(path, "desi-coadd").objects.at(0).spectra.at(0);
        QVERIFY(s.mask[0]);  // 3600 ± 0.4 Å is not wholly covered by the shifted arm
        for (int i : {1, 500, 2000, 2749}) {
            QVERIFY(!s.mask[i]);
            QVERIFY2(std::abs(s.flux[i] - (1.0 + 0.001 * (DesiGrid::wave(i) - 3600))) < 1e-3,
                     qPrintable(QString::number(i)));
        }
        QCOMPARE(s.flux[3000], linear(0, DesiGrid::wave(3000)));  // on-grid arm: exact
    }

    void damagedInputs_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("expected");  // part of FileError::problem()
        QTest::newRow("ivar all zero") << "ivar0" << "inverse variance";
        QTest::newRow("flux shape differs from wavelength") << "shape" << "B_FLUX HDU has shape [1,2700]";
        QTest::newRow("FIBERMAP rows missing") << "rows" << "FIBERMAP has 1 rows";
        QTest::newRow("IVAR HDU missing") << "noivar" << "no B_IVAR HDU";
        QTest::newRow("no overlap with the grid") << "nooverlap" << "does not overlap 3600–9824";
        QTest::newRow("truncated file") << "truncated" << "";
    }
    void damagedInputs() {
        QFETCH(QString, damage);
        QFETCH(QString, expected);
        const std::string path = file(("coadd-" + damage.toStdString() + ".fits").c_str());
        std::vector<int64_t> ids = {42};
        auto arms = constantArms(1, 1.f, 1.f, 1.f, 1.f);
        if (damage == "ivar0") arms = constantArms(1, 1.f, 0.f, 1.f, 0.f);
        if (damage == "shape") arms[0].fluxShape = {1, 2700};
        if (damage == "rows") arms = constantArms(2, 1.f, 1.f, 1.f, 1.f);
        if (damage == "noivar") arms[0].writeIvar = false;
        if (damage == "nooverlap") {
            auto c = [](int, double) { return 1.f; };
            arms = {makeArm("B", 9000, 500, 1, 0.1, c, c)};
        }
        writeCoadd(path, ids, arms);
        if (damage == "truncated") std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
        try {
            const FileProbe probe = probeFile(path);
            ReaderRegistry reg;
            registerSpectrumReaders(reg);
            const Reader* r = reg.select(probe);
            if (!r) {
                QVERIFY2(damage == "truncated", "a damaged but readable coadd must still go to desi-coadd");
                return;  // a truncated file whose HDUs cannot be listed is nobody's
            }
            r->read(probe, ReaderOptions{});
            QFAIL("no FileError");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), path);
            QVERIFY2(QString::fromStdString(e.problem()).contains(expected), e.what());
        }
    }

    // NaN/Inf/negative-ivar/MASKed pixels are masked on the grid; the rest of the spectrum stays.
    void desiBadPixelsMaskedNotFatal() {
        const std::string path = file("coadd-badpix.fits");
        auto arms = constantArms(1, 2.f, 1.f, 2.f, 1.f);
        arms[0].flux[100] = kNaN;
        arms[0].flux[200] = kInf;
        arms[0].ivar[300] = -1.f;
        arms[0].ivar[400] = kInf;
        arms[0].mask[500] = 4;
        writeCoadd(path, {9}, arms);
        const ReadResult r = readFile(path, "desi-coadd");
        const SpectrumRecord& s = r.objects.at(0).spectra.at(0);
        for (int i : {100, 200, 300, 400, 500}) {
            QVERIFY(s.mask[i]);
            QCOMPARE(s.flux[i], 0.f);
            QCOMPARE(s.ivar[i], 0.f);
        }
        QCOMPARE(std::count(s.mask.begin(), s.mask.end(), 1), 5L);
        QVERIFY(std::all_of(s.flux.begin(), s.flux.end(), [](float v) { return std::isfinite(v); }));
        QVERIFY(!r.warnings.empty() && QString::fromStdString(r.warnings.back()).startsWith("5 native pixels"));
    }

    // One dead fibre in a multi-target file: its object is kept without a spectrum.
    void desiDeadFibreKeepsOtherTargets() {
        const std::string path = file("coadd-deadfibre.fits");
        auto c = [](float v) { return [v](int, double) { return v; }; };
        auto ivar = [](int t, double) { return t == 1 ? 0.f : 2.f; };
        writeCoadd(path, {1, 2, 3}, {makeArm("B", 0, 2751, 3, 0, c(1.f), ivar), makeArm("R", 2700, 2326, 3, 0, c(1.f), ivar)});
        const ReadResult r = readFile(path, "desi-coadd");
        QCOMPARE(r.objects.size(), size_t(3));
        QCOMPARE(r.objects[0].spectra.size(), size_t(1));
        QVERIFY(r.objects[1].spectra.empty());
        QCOMPARE(r.objects[2].spectra.at(0).native, std::string("B,R row 2"));
        QVERIFY(QString::fromStdString(r.warnings.at(0)).contains("TARGETID 2"));
    }

    void spectrumTable_data() {
        QTest::addColumn<bool>("vectorCells");
        QTest::addColumn<QString>("waveColumn");
        QTest::addColumn<QString>("waveUnit");
        QTest::addColumn<QString>("fluxUnit");
        QTest::addColumn<double>("fluxScale");   // file value × this = 1e-17 erg/s/cm²/Å
        QTest::addColumn<QString>("uncertainty");
        QTest::addColumn<bool>("zAsKeyword");
        QTest::addColumn<bool>("descending");
        QTest::newRow("rows, ERROR, Z keyword") << false << "WAVE" << "Angstrom" << "1e-17 erg/s/cm2/Angstrom" << 1.0 << "ERROR" << true << false;
        QTest::newRow("vector cells, nm, erg") << true << "WAVELENGTH" << "nm" << "erg/s/cm2/Angstrom" << 1e17 << "IVAR" << false << false;
        QTest::newRow("rows, LOGLAM, descending") << false << "LOGLAM" << "" << "10**-17 erg/(s cm2 Angstrom)" << 1.0 << "SIGMA" << true << true;
    }
    void spectrumTable() {
        QFETCH(bool, vectorCells);
        QFETCH(QString, waveColumn);
        QFETCH(QString, waveUnit);
        QFETCH(QString, fluxUnit);
        QFETCH(double, fluxScale);
        QFETCH(QString, uncertainty);
        QFETCH(bool, zAsKeyword);
        QFETCH(bool, descending);
        const std::string path = file("myspectrum.fits");
        // 4000–8000 Å on the grid's own pixels, flux 3 (in 1e-17), sigma 0.5; pixel 700 bad.
        const int first = 500, n = 5000;
        std::vector<double> wave, flux, unc, z;
        for (int k = 0; k < n; ++k) {
            const double w = DesiGrid::wave(first + k);
            wave.push_back(waveColumn == "LOGLAM" ? std::log10(w) : waveUnit == "nm" ? w / 10 : w);
            flux.push_back(3.0 / fluxScale);
            const double sigma = k == 700 ? 0.0 : 0.5 / fluxScale;
            unc.push_back(uncertainty == "IVAR" ? (sigma > 0 ? 1 / (sigma * sigma) : 0.0) : sigma);
            z.push_back(0.25);
        }
        if (descending) {
            std::reverse(wave.begin(), wave.end());
            std::reverse(unc.begin(), unc.end());
        }
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.writeKey("OBJID", "galaxy-17");
            if (zAsKeyword) f.writeKey("Z", 0.25);
            const std::string form = vectorCells ? std::to_string(n) + "D" : "D";
            std::vector<FitsFile::ColumnSpec> cols = {{waveColumn.toStdString(), form, waveUnit.toStdString()},
                                                      {"FLUX", form, fluxUnit.toStdString()},
                                                      {uncertainty.toStdString(), form, ""}};
            if (!zAsKeyword) cols.push_back({"Z", "D", ""});
            f.createTable("SPECTRUM", cols, vectorCells ? 1 : n);
            f.writeColumn(1, 1, wave);
            f.writeColumn(2, 1, flux);
            f.writeColumn(3, 1, unc);
            if (!zAsKeyword) f.writeColumn(4, 1, std::vector<double>(vectorCells ? 1 : n, 0.25));
            f.close();
        }
        const ReadResult r = readFile(path, "spectrum-table");
        const ObjectRecord& o = r.objects.at(0);
        QVERIFY(std::find(o.keys.begin(), o.keys.end(), "file:myspectrum.fits") != o.keys.end());
        QVERIFY(std::find(o.keys.begin(), o.keys.end(), "spectrum-table:galaxy-17") != o.keys.end());
        QCOMPARE(std::get<double>(o.columns.at("z")), 0.25);
        const SpectrumRecord& s = o.spectra.at(0);
        QCOMPARE(s.unit, std::string("1e-17 erg/s/cm2/Angstrom"));
        const int bad = first + 700;  // the pixel whose uncertainty is 0
        for (int i = 0; i < DesiGrid::kSize; ++i) {
            const bool inside = i >= first && i <= first + n - 1 && i != bad;
            // Unit conversions leave ~1e-12 Å slivers of the bad pixel in its neighbours.
            if (std::abs(i - bad) == 1 && s.mask[i]) continue;
            QCOMPARE(bool(s.mask[i]), !inside);
            if (!inside) continue;
            QVERIFY2(std::abs(s.flux[i] - 3.0) < 1e-5, qPrintable(QString::number(s.flux[i])));
            QVERIFY2(std::abs(s.ivar[i] - 4.0) < 1e-3, qPrintable(QString::number(s.ivar[i])));
        }
        QVERIFY(std::abs(s.nativeWaveMin - DesiGrid::wave(first)) < 1e-3);
    }

    // A spectrum table outside 3600–9824 Å (1.5–1.6 µm).
    void spectrumTableRefusals() {
        const std::string path = file("ir-spectrum.fits");
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("", {{"WAVE", "D", "um"}, {"FLUX", "E", ""}, {"ERR", "E", ""}}, 100);
            std::vector<double> w;
            for (int i = 0; i < 100; ++i) w.push_back(1.5 + 0.001 * i);
            f.writeColumn(1, 1, w);
            f.writeColumn(2, 1, std::vector<float>(100, 1.f));
            f.writeColumn(3, 1, std::vector<float>(100, 0.1f));
            f.close();
        }
        try {
            readFile(path, "spectrum-table");
            QFAIL("no FileError");
        } catch (const FileError& e) {
            QVERIFY2(QString::fromStdString(e.problem()).contains("does not overlap"), e.what());
        }
    }

    // Hα: 6562.80 Å in air is 6564.61 Å in vacuum; [O III] 5006.84 → 5008.24 (line lists).
    void airToVacuumKnownLines() {
        QVERIFY(std::abs(spec::airToVacuum(6562.80) - 6564.61) < 0.01);
        QVERIFY(std::abs(spec::airToVacuum(5006.84) - 5008.24) < 0.01);
    }

    void sexagesimal() {
        QVERIFY(std::abs(*spec::parseSexagesimal("14:16:52.75", true) - 214.2197917) < 1e-6);
        QVERIFY(std::abs(*spec::parseSexagesimal("-00:30:00", false) + 0.5) < 1e-12);
        QVERIFY(!spec::parseSexagesimal("14:76:00", true));
        QVERIFY(!spec::parseSexagesimal("nope", true));
    }
};

QTEST_GUILESS_MAIN(TestSpectrumReadersDamaged)
#include "tst_spectrum_readers_damaged.moc"
