// The survey driver end to end: the files it writes (layout, formats, fitsverify, astropy),
// determinism for a seed whatever the thread count, and cancellation without half-written files.
#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/sim/simulator.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <set>

using namespace astroclip;
using namespace astroclip::sim;
namespace fs = std::filesystem;

namespace {
SimParams smallRun(const std::string& dir, int threads) {
    SimParams p;
    p.outDir = dir;
    p.n = 40;
    p.seed = 2024;
    p.size = 64;
    p.threads = threads;
    p.targetsPerFile = 16;
    p.blendFraction = 0.3;
    p.tidalFraction = 0.2;
    return p;
}

// File bytes with the header cards that record when they were written (checksum cards carry
// the time in their comments) blanked out; the data bytes themselves are compared whole.
std::string contentWithoutTimestamps(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t i = 0; i + 80 <= s.size(); i += 80)
        if (s.compare(i, 9, "CHECKSUM=") == 0 || s.compare(i, 8, "DATASUM ") == 0 || s.compare(i, 5, "DATE ") == 0 || s.compare(i, 5, "DATE=") == 0)
            s.replace(i, 80, std::string(80, ' '));
    return s;
}

std::vector<fs::path> filesUnder(const fs::path& dir) {
    std::vector<fs::path> v;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) v.push_back(fs::relative(e.path(), dir));
    std::sort(v.begin(), v.end());
    return v;
}
} // namespace

class TestSimSurvey : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string runA_, runB_;
    SimSummary summary_;
private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        runA_ = (fs::path(tmp_.path().toStdString()) / "two-threads").string();
        runB_ = (fs::path(tmp_.path().toStdString()) / "one-thread").string();
        int64_t last = 0;
        summary_ = simulateSurvey(smallRun(runA_, 2), [&](const Progress& p) {
            if (p.done != last + 1 || p.total != 40) return false;  // per object, in order
            last = p.done;
            return true;
        });
        QCOMPARE(last, int64_t(40));
        simulateSurvey(smallRun(runB_, 1));
    }

    void writesTheSurveyLayout() {
        QCOMPARE(summary_.n, 40);
        QCOMPARE(summary_.perSample[0] + summary_.perSample[1] + summary_.perSample[2], 40);
        QCOMPARE(int(summary_.spectraFiles.size()), 6);  // 3 coadd + 3 redrock for 16 + 16 + 8 targets
        const fs::path out(runA_);
        QVERIFY(fs::exists(out / "truth.fits"));
        FitsFile truth = FitsFile::open((out / "truth.fits").string());
        QVERIFY(truth.moveToName("TRUTH"));
        QCOMPARE(truth.keyString("TRUTHTAB").value_or(""), std::string("T"));
        QCOMPARE(truth.numRows(), 40L);
        const auto ids = truth.readColumnInt64(truth.columnIndex("TARGETID"));
        QCOMPARE(std::set<int64_t>(ids.begin(), ids.end()).size(), size_t(40));
        const auto ra = truth.readColumnDouble(truth.columnIndex("RA")), dec = truth.readColumnDouble(truth.columnIndex("DEC"));
        const auto cutouts = truth.readColumnString(truth.columnIndex("CUTOUT"));
        const auto specFiles = truth.readColumnString(truth.columnIndex("SPEC_FILE"));
        const auto rows = truth.readColumnInt64(truth.columnIndex("SPEC_ROW"));
        const auto z = truth.readColumnDouble(truth.columnIndex("Z")), nz = truth.readColumnDouble(truth.columnIndex("NEIGHBOUR_Z"));
        const auto hasN = truth.readColumnInt64(truth.columnIndex("HAS_NEIGHBOUR"));
        for (int i = 0; i < 40; ++i) {
            QVERIFY(ra[i] >= 145 && ra[i] <= 155 && dec[i] >= -3 && dec[i] <= 7);
            QVERIFY(fs::exists(out / cutouts[i]));
            QCOMPARE(cutouts[i], "cutouts/cutout-" + std::to_string(ids[i]) + ".fits");
            if (hasN[i]) QVERIFY(std::abs(nz[i] - z[i]) >= 0.05);
            // The row named in the truth holds this target in its coadd file.
            FitsFile coadd = FitsFile::open((out / specFiles[i]).string());
            QVERIFY(coadd.moveToName("FIBERMAP"));
            QCOMPARE(coadd.readColumnInt64(coadd.columnIndex("TARGETID"), rows[i] + 1, 1).front(), ids[i]);
        }
        // DESI coadd structure.
        FitsFile coadd = FitsFile::open((out / "spectra/coadd-sim-0.fits").string());
        const std::array<std::pair<const char*, long>, 3> arms = {std::pair{"B", 2751L}, std::pair{"R", 2326L}, std::pair{"Z", 2881L}};
        for (const auto& [arm, npix] : arms) {
            QVERIFY(coadd.moveToName(std::string(arm) + "_WAVELENGTH"));
            QCOMPARE(coadd.imageShape(), std::vector<long>{npix});
            QCOMPARE(coadd.imageBitpix(), -64);
            for (const char* part : {"_FLUX", "_IVAR", "_MASK"}) {
                QVERIFY(coadd.moveToName(std::string(arm) + part));
                QCOMPARE(coadd.imageShape(), (std::vector<long>{16, npix}));
            }
            QCOMPARE(coadd.imageBitpix(), 32);  // MASK is int32
        }
        QVERIFY(coadd.moveToName("B_FLUX"));
        QCOMPARE(coadd.keyString("BUNIT").value_or(""), std::string("10**-17 erg/(s cm2 Angstrom)"));
        QVERIFY(coadd.moveToName("TRUEFLUX"));
        QCOMPARE(coadd.imageShape(), (std::vector<long>{16, 7781}));
        FitsFile rr = FitsFile::open((out / "spectra/redrock-sim-2.fits").string());
        QVERIFY(rr.moveToName("REDSHIFTS"));
        QCOMPARE(rr.numRows(), 8L);
        QCOMPARE(rr.readColumnString(rr.columnIndex("SPECTYPE")).front(), std::string("GALAXY"));
    }

    void sameSeedSameFilesWhateverTheThreads() {
        const auto a = filesUnder(runA_), b = filesUnder(runB_);
        QCOMPARE(a.size(), b.size());
        QCOMPARE(a.size(), size_t(40 + 6 + 1));
        for (size_t i = 0; i < a.size(); ++i) {
            QCOMPARE(a[i], b[i]);
            QVERIFY2(contentWithoutTimestamps(fs::path(runA_) / a[i]) == contentWithoutTimestamps(fs::path(runB_) / b[i]),
                     qPrintable(QString::fromStdString(a[i].string())));
        }
    }

    void filesPassFitsverify() {
        const QString exe = QStandardPaths::findExecutable("fitsverify");
        if (exe.isEmpty()) QSKIP("fitsverify is not installed");
        QStringList files;
        for (const auto& f : filesUnder(runA_))
            if (f.string().rfind("cutouts/", 0) != 0 || files.size() < 12) files << QString::fromStdString((fs::path(runA_) / f).string());
        for (const QString& f : files) {
            QProcess p;
            p.start(exe, {"-q", f});
            QVERIFY(p.waitForFinished(60000));
            const QString out = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
            QVERIFY2(p.exitCode() == 0 && out.contains("verification OK"), qPrintable(out));
        }
    }

    void astropyReadsTheFiles() {
        const QString script = QString(
            "import sys, glob, numpy as np\nfrom astropy.io import fits\nfrom astropy.table import Table\n"
            "d=sys.argv[1]\nt=Table.read(d+'/truth.fits', hdu='TRUTH')\nassert len(t)==40\n"
            "for f in sorted(glob.glob(d+'/spectra/coadd-sim-*.fits')):\n"
            "  h=fits.open(f)\n  n=len(h['FIBERMAP'].data)\n"
            "  assert h['B_FLUX'].data.shape==(n,2751) and h['R_IVAR'].data.shape==(n,2326) and h['Z_MASK'].data.dtype.kind=='i'\n"
            "  assert h['TRUEFLUX'].data.shape==(n,7781)\n  assert np.all(np.isfinite(h['Z_FLUX'].data))\n"
            "  assert list(h['FIBERMAP'].data['OBJTYPE'])==['TGT']*n\n"
            "for f in sorted(glob.glob(d+'/cutouts/*.fits'))[:5]: fits.open(f)[0].data.shape\n"
            "print('ok')\n");
        QProcess py;
        py.start("/usr/bin/python3", {"-c", script, QString::fromStdString(runA_)});
        if (!py.waitForStarted(5000)) QSKIP("/usr/bin/python3 is not available");
        py.waitForFinished(120000);
        const QString err = QString::fromUtf8(py.readAllStandardError());
        if (err.contains("ModuleNotFoundError")) QSKIP("astropy is not importable by /usr/bin/python3");
        QVERIFY2(py.exitCode() == 0 && QString::fromUtf8(py.readAllStandardOutput()).contains("ok"), qPrintable(err.right(800)));
    }

    void cancelLeavesNoHalfWrittenFile() {
        const std::string dir = (fs::path(tmp_.path().toStdString()) / "cancelled").string();
        bool threw = false;
        try {
            simulateSurvey(smallRun(dir, 2), [](const Progress& p) { return p.done < 20; });
        } catch (const Cancelled&) {
            threw = true;
        }
        QVERIFY(threw);
        QVERIFY(!fs::exists(fs::path(dir) / "truth.fits"));
        for (const auto& f : filesUnder(dir)) {
            QVERIFY2(f.extension() != ".tmp", qPrintable(QString::fromStdString(f.string())));
            FitsFile::open((fs::path(dir) / f).string());  // every file left is complete
        }
        // The first 16 targets' spectrum file was finished before the cancel.
        QVERIFY(fs::exists(fs::path(dir) / "spectra/coadd-sim-0.fits"));
    }

    void rejectsBadParameters() {
        SimParams p = smallRun((fs::path(tmp_.path().toStdString()) / "bad").string(), 1);
        p.n = 0;
        QVERIFY_THROWS_EXCEPTION(UsageError, simulateSurvey(p));
        p.n = 5;
        p.blendFraction = 1.5;
        QVERIFY_THROWS_EXCEPTION(UsageError, simulateSurvey(p));
    }
};

QTEST_GUILESS_MAIN(TestSimSurvey)
#include "tst_sim_survey.moc"
