// The simulated survey's files are valid FITS for the tools astronomers use: fitsverify
// finds no error or warning, astropy opens every file, and the catalog links each target's
// cutout, spectrum, redshift and truth.
#include "cli_test_util.h"

#include "core/catalog/catalog.h"

#include <QDirIterator>

#include <cmath>
#include <QtTest>

class TestSurveyFiles : public QObject {
    Q_OBJECT
    QStringList fitsFiles() const {
        QStringList out;
        QDirIterator it(fixtureSurvey(), {"*.fits"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) out << it.next();
        out.sort();
        return out;
    }

private Q_SLOTS:
    void everyFilePassesFitsverify() {
        if (QStandardPaths::findExecutable("fitsverify").isEmpty()) QSKIP("fitsverify not installed (apt-get install fitsverify)");
        const auto files = fitsFiles();
        QVERIFY(files.size() > 300);   // cutouts + spectra + redrock + truth
        // fitsverify -q prints one line per file: "verification OK: ..." or the error counts.
        const auto r = runProgram("fitsverify", QStringList{"-q"} + files);
        int ok = 0;
        for (const auto& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            if (line.contains("verification OK")) ++ok;
            else QFAIL(qPrintable("fitsverify: " + line));
        }
        QCOMPARE(ok, files.size());
    }

    void astropyOpensEveryFile() {
        if (!QFile::exists("/usr/bin/python3")) QSKIP("/usr/bin/python3 not available");
        const QString script = R"(
import sys, glob
from astropy.io import fits
from astropy.wcs import WCS
n = 0
for f in sorted(glob.glob(sys.argv[1] + '/**/*.fits', recursive=True)):
    with fits.open(f) as h:
        h.verify('exception')
        for hdu in h:
            _ = hdu.data
        if h[0].header.get('BANDS'):
            WCS(h[0].header).celestial.pixel_to_world(0, 0)
    n += 1
print(n)
)";
        const auto r = runProgram("/usr/bin/python3", {"-c", script, fixtureSurvey()});
        if (r.err.contains("No module named 'astropy'")) QSKIP("astropy not installed for /usr/bin/python3 (apt-get install python3-astropy)");
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(r.out.trimmed().toInt(), fitsFiles().size());
    }

    void catalogLinksEveryTargetsData() {
        auto cat = astroclip::Catalog::open((fixtureSurvey() + "/catalog.sqlite").toStdString(), false);
        const auto ids = cat.select("");
        QCOMPARE(ids.size(), size_t(300));
        int flagged = 0;
        for (auto id : ids) {
            const auto images = cat.images(id);
            QCOMPARE(images.size(), size_t(1));
            QCOMPARE(images[0].planes, (std::vector<int>{0, 1, 2}));
            QVERIFY(!images[0].segmapRef.empty());
            QVERIFY(!images[0].depthmapRef.empty());
            QCOMPARE(cat.spectra(id).size(), size_t(1));
            // Redrock's z and the truth agree closely unless the fit is flagged (ZWARN != 0:
            // the simulator draws a few catastrophic failures, as real redrock has).
            const auto z = cat.numbers({id}, "z")[0], tz = cat.numbers({id}, "truth_z")[0];
            if (cat.numbers({id}, "zwarn")[0] != 0) { ++flagged; continue; }
            QVERIFY2(std::abs(z - tz) < 0.01, qPrintable(QString("z %1 vs truth %2").arg(z).arg(tz)));
        }
        QVERIFY2(flagged < 15, qPrintable(QString("%1 of 300 redshift fits flagged").arg(flagged)));
    }

    // Tidal features are drawn at a rest-frame surface brightness and dimmed as (1+z)^4: the
    // observed brightness in the truth table carries exactly that dimming.
    void tidalSurfaceBrightnessIsTolmanDimmed() {
        auto cat = astroclip::Catalog::open((fixtureSurvey() + "/catalog.sqlite").toStdString(), false);
        const auto ids = cat.select("truth_tidal = 1");
        QVERIFY2(!ids.empty(), "no tidal features in the 300-galaxy fixture survey");
        const auto mu = cat.numbers(ids, "truth_tidal_mu_r"), z = cat.numbers(ids, "truth_z");
        for (size_t i = 0; i < ids.size(); ++i) {
            const double rest = mu[i] - 10.0 * std::log10(1.0 + z[i]);
            QVERIFY2(rest >= 24.5 - 1e-9 && rest <= 26.5 + 1e-9, qPrintable(QString("rest-frame mu %1").arg(rest)));
        }
    }
};

QTEST_GUILESS_MAIN(TestSurveyFiles)
#include "tst_survey_files.moc"
