#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/io/text_table.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace astroclip;

class TestFitsIo : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
private Q_SLOTS:
    void imageRoundTripKeepsShapeAndKeys() {
        const std::string path = (dir_.path() + "/cube.fits").toStdString();
        std::vector<float> data(3 * 4 * 5);
        for (size_t i = 0; i < data.size(); ++i) data[i] = float(i);
        {
            auto f = FitsFile::create(path);
            f.writeImage({3, 4, 5}, data.data());
            f.writeKey("BANDS", "grz", "band of each plane");
            f.writeKey("PIXSCALE", 0.262);
            f.writeImage({4, 5}, data.data(), "SECOND");
            f.close();
        }
        auto f = FitsFile::open(path);
        QCOMPARE(f.hduCount(), 2);
        QCOMPARE(f.imageShape(), (std::vector<long>{3, 4, 5}));
        QCOMPARE(*f.keyString("BANDS"), std::string("grz"));
        QCOMPARE(*f.keyDouble("PIXSCALE"), 0.262);
        QVERIFY(!f.keyString("NOSUCH"));
        auto back = f.readImageFloat();
        QCOMPARE(back, data);
        QVERIFY(f.moveToName("second"));
        QCOMPARE(f.imageShape(), (std::vector<long>{4, 5}));
    }

    void tableRoundTrip() {
        const std::string path = (dir_.path() + "/t.fits").toStdString();
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("CAT", {{"ID", "K", ""}, {"Z", "D", ""}, {"NAME", "8A", ""}, {"VEC", "3E", "Angstrom"}}, 2);
            f.writeColumn(1, 1, std::vector<int64_t>{39633345008634465LL, 7});
            f.writeColumn(2, 1, std::vector<double>{0.5, 1.25});
            f.writeColumn(3, 1, std::vector<std::string>{"alpha", "b"});
            f.writeColumn(4, 1, std::vector<float>{1, 2, 3, 4, 5, 6});
            f.close();
        }
        auto f = FitsFile::open(path);
        QVERIFY(f.moveToName("CAT"));
        QCOMPARE(f.numRows(), 2L);
        QCOMPARE(f.columnIndex("z"), 2);
        QCOMPARE(f.readColumnInt64(1)[0], int64_t(39633345008634465LL));  // exact: no double round trip
        QCOMPARE(f.readColumnDouble(2)[1], 1.25);
        QCOMPARE(f.readColumnString(3)[0], std::string("alpha"));
        QCOMPARE(f.readCellDouble(4, 2), (std::vector<double>{4, 5, 6}));
        QCOMPARE(f.columns()[3].unit, std::string("Angstrom"));
    }

    void notFitsIsAFileErrorNamingThePath() {
        const std::string path = (dir_.path() + "/readme.txt").toStdString();
        std::ofstream(path) << "hello";
        QVERIFY(!looksLikeFits(path));
        try {
            FitsFile::open(path);
            QFAIL("expected FileError");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), path);
            QVERIFY(std::string(e.what()).find("readme.txt") != std::string::npos);
        }
    }

    void ecsvWithYamlHeader() {
        const std::string path = (dir_.path() + "/t.ecsv").toStdString();
        std::ofstream(path) << "# %ECSV 0.9\n# ---\n# datatype:\n# - {name: wavelength, unit: nm, datatype: float64}\n"
                               "# - {name: name, datatype: string}\n# meta: !!omap\n# - {band_name: g}\nwavelength name\n"
                               "341.0 \"a b\"\n342.5 c\n";
        auto t = readTextTable(path);
        QCOMPARE(t.columns.size(), size_t(2));
        QCOMPARE(t.columns[0].unit, std::string("nm"));
        QCOMPARE(t.meta["band_name"], std::string("g"));
        QCOMPARE(t.rows[0][1], std::string("a b"));
        QCOMPARE(t.numbers(0)[1], 342.5);
        QVERIFY(!t.isNumeric(1));
    }

    void csvWithQuotes() {
        const std::string path = (dir_.path() + "/t.csv").toStdString();
        std::ofstream(path) << "id,ra,note\n1,10.5,\"x, y\"\n2,11,\n";
        auto t = readTextTable(path);
        QCOMPARE(t.rows.size(), size_t(2));
        QCOMPARE(t.rows[0][2], std::string("x, y"));
        QVERIFY(t.isNumeric(1));
            QVERIFY(!t.isNumeric(2));
    }

    void raggedCsvRowIsAnError() {
        const std::string path = (dir_.path() + "/bad.csv").toStdString();
        std::ofstream(path) << "id,ra\n1,2,3\n";
        QVERIFY_THROWS_EXCEPTION(FileError, readTextTable(path));
    }
};

QTEST_GUILESS_MAIN(TestFitsIo)
#include "tst_fitsio.moc"
