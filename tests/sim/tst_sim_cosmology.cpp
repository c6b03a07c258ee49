// Flat ΛCDM distances against astropy's FlatLambdaCDM(H0=70, Om0=0.3): values pinned from
// astropy 5.x, and a live comparison through /usr/bin/python3 when it is available.
#include "core/sim/cosmology.h"

#include <QProcess>
#include <QtTest>

using astroclip::sim::FlatLambdaCdm;

class TestSimCosmology : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void pinnedAstropyValues_data() {
        QTest::addColumn<double>("z");
        QTest::addColumn<double>("dc");
        QTest::addColumn<double>("dl");
        QTest::addColumn<double>("da");
        QTest::addColumn<double>("dvdz");
        // astropy: FlatLambdaCDM(H0=70, Om0=0.3) (Tcmb0 = 0): comoving_distance,
        // luminosity_distance, angular_diameter_distance [Mpc], differential_comoving_volume [Mpc³/sr].
        QTest::newRow("z=0.1") << 0.1 << 418.454488 << 460.299936 << 380.413171 << 7.152552e+08;
        QTest::newRow("z=0.5") << 0.5 << 1888.625396 << 2832.938094 << 1259.083597 << 1.167344e+10;
        QTest::newRow("z=1.0") << 1.0 << 3303.828806 << 6607.657612 << 1651.914403 << 2.655076e+10;
        QTest::newRow("z=1.5") << 1.5 << 4363.855766 << 10909.639416 << 1745.542306 << 3.513741e+10;
        QTest::newRow("z=3.0") << 3.0 << 6355.685436 << 25422.741745 << 1588.921359 << 3.878117e+10;
    }
    void pinnedAstropyValues() {
        QFETCH(double, z);
        QFETCH(double, dc);
        QFETCH(double, dl);
        QFETCH(double, da);
        QFETCH(double, dvdz);
        const FlatLambdaCdm c;
        QVERIFY(std::abs(c.comovingDistanceMpc(z) / dc - 1) < 1e-6);
        QVERIFY(std::abs(c.luminosityDistanceMpc(z) / dl - 1) < 1e-6);
        QVERIFY(std::abs(c.angularDiameterDistanceMpc(z) / da - 1) < 1e-6);
        QVERIFY(std::abs(c.differentialComovingVolume(z) / dvdz - 1) < 1e-5);
    }

    void liveAstropyAtOddRedshifts() {
        QProcess py;
        py.start("/usr/bin/python3", {"-c",
            "from astropy.cosmology import FlatLambdaCDM\n"
            "c=FlatLambdaCDM(H0=70,Om0=0.3)\n"
            "for z in [0.0137,0.3333,0.777,1.2345,2.5]: print(repr(c.luminosity_distance(z).value))\n"});
        if (!py.waitForStarted(5000)) QSKIP("/usr/bin/python3 is not available");
        py.waitForFinished(60000);
        if (py.exitCode() != 0) QSKIP("astropy is not importable by /usr/bin/python3");
        const QStringList lines = QString::fromUtf8(py.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
        const double zs[] = {0.0137, 0.3333, 0.777, 1.2345, 2.5};
        QCOMPARE(lines.size(), 5);
        const FlatLambdaCdm c;
        for (int i = 0; i < 5; ++i) QVERIFY2(std::abs(c.luminosityDistanceMpc(zs[i]) / lines[i].toDouble() - 1) < 1e-6, qPrintable(lines[i]));
    }

    void distanceModulusAndLimits() {
        const FlatLambdaCdm c;
        QVERIFY(c.comovingDistanceMpc(0.0) == 0.0);
        // Low-z limit: D ≈ cz/H0.
        QVERIFY(std::abs(c.comovingDistanceMpc(0.001) / (299792.458 * 0.001 / 70) - 1) < 1e-3);
        QVERIFY(std::abs(c.distanceModulus(1.0) - 5 * std::log10(6607.657612e5)) < 1e-5);
    }
};

QTEST_GUILESS_MAIN(TestSimCosmology)
#include "tst_sim_cosmology.moc"
