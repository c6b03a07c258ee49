// Catalogue-table readers (fits-table, csv-table, ecsv-table) on the real Tractor row and the
// DEEP2 ECSV, and on tables made here: truth tables, exact 64-bit ids, nulls, key rules.
#include "reader_test_support.h"

#include "core/io/fits.h"

#include <QTemporaryDir>

#include <fstream>

using namespace astroclip;
using namespace readertest;

namespace {

void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

const Value& column(const ObjectRecord& o, const std::string& name) {
    static const Value none;
    auto it = o.columns.find(name);
    return it == o.columns.end() ? none : it->second;
}

} // namespace

class TestTableReaders : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string tmp(const char* name) { return (tmp_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void tractorRow() {
        if (!haveSharedData()) QSKIP("shared data (" ASTROCLIP_SHARED_DATA ") absent: real-file test skipped");
        const std::string path = real("desi/tractor-1054p567.fits");
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("fits-table"));
        // No spectral reader claims the Tractor catalogue either.
        QCOMPARE(QString::fromStdString(builtinRegistry().select(probeFile(path))->name()), QString("fits-table"));
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(1));
        const ObjectRecord& o = r.objects[0];
        // astropy as the peer: the scalar columns and the row's values.
        const QStringList peer = runPython(QStringLiteral(
            "from astropy.io import fits\n"
            "t = fits.open('%1')[1]\n"
            "scalar = [c.name.lower() for c in t.columns if c.format[:-1] in ('', '1') or c.format.endswith('A')]\n"
            "print(len(scalar))\n"
            "row = t.data[0]\n"
            "print(repr(float(row['RA'])), repr(float(row['DEC'])))\n"
            "print('ls:%d-%d-%d' % (row['RELEASE'], row['BRICKID'], row['OBJID']))\n"
            "print(row['BRICKNAME'].strip(), int(row['BRICK_PRIMARY']), repr(float(row['FLUX_R'])))\n").arg(QString::fromStdString(path)));
        QCOMPARE(peer.size(), 4);
        QCOMPARE(o.columns.size(), size_t(peer[0].toInt()));
        QVERIFY(peer[0].toInt() > 100 && peer[0].toInt() < 181);
        const auto radec = peer[1].split(' ');
        QCOMPARE(*o.ra, radec[0].toDouble());
        QCOMPARE(*o.dec, radec[1].toDouble());
        QCOMPARE(o.keys, std::vector<std::string>{peer[2].toStdString()});
        const auto fields = peer[3].split(' ');
        QCOMPARE(std::get<std::string>(column(o, "brickname")), fields[0].toStdString());
        QCOMPARE(std::get<int64_t>(column(o, "brick_primary")), int64_t(fields[1].toInt()));
        QCOMPARE(std::get<double>(column(o, "flux_r")), fields[2].toDouble());
        QCOMPARE(std::get<int64_t>(column(o, "release")), int64_t(9011));
        QVERIFY(o.columns.count("apflux_g") == 0);  // 8-element vector column: skipped
        QVERIFY(o.truth.empty());
    }

    void deep2Ecsv() {
        if (!haveSharedData()) QSKIP("shared data absent: real-file test skipped");
        const std::string path = real("deep2/deimos_catalog.ecsv");
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("ecsv-table"));
        QCOMPARE(QString::fromStdString(builtinRegistry().select(probeFile(path))->name()), QString("ecsv-table"));
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(3));
        const char* objnos[] = {"12004808", "12008179", "12012573"};
        const char* spec1d[] = {"spec1d.1153.151.12004808.fits", "spec1d.1203.063.12008179.fits",
                                "spec1d.1205.091.12012573.fits"};
        for (int i = 0; i < 3; ++i) {
            const ObjectRecord& o = r.objects[size_t(i)];
            QVERIFY(hasKey(o, std::string("deep2:") + objnos[i]));
            QVERIFY(hasKey(o, std::string("file:") + spec1d[i]));
            QVERIFY(hasKey(o, std::string("file:") + objnos[i] + ".acs.v_6ac_.fits"));
            // The named files sit flat in the shared folder: the keys match them by base name.
            QVERIFY(std::filesystem::exists(real("deep2/") + spec1d[i]));
            for (const auto& k : o.keys) QVERIFY2(k.find('/') == std::string::npos, k.c_str());
            QCOMPARE(std::get<double>(column(o, "slit_width")), 0.2);
            QCOMPARE(std::get<std::string>(column(o, "id")), std::string("deimos_") + objnos[i]);
        }
        QCOMPARE(*r.objects[0].ra, 214.21968);
        QCOMPARE(*r.objects[0].dec, 52.410386);
    }

    void truthTableFillsTruth() {
        const std::string path = tmp("truth.fits");
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("TRUTH", {{"TARGETID", "K", ""}, {"RA", "D", "deg"}, {"DEC", "D", "deg"}, {"Z", "E", ""},
                                    {"MORPH", "8A", ""}},
                          2);
            f.writeKey("TRUTHTAB", true);
            f.writeColumn(1, 1, std::vector<int64_t>{9007199254740993LL, 39633345008634465LL});
            f.writeColumn(2, 1, std::vector<double>{150.1, 150.2});
            f.writeColumn(3, 1, std::vector<double>{2.1, 2.2});
            f.writeColumn(4, 1, std::vector<float>{0.25f, 0.5f});
            f.writeColumn(5, 1, std::vector<std::string>{"spiral", "ellipt"});
        }
        QCOMPARE(readerFor(path)->score(probeFile(path)), 12);
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(2));
        const ObjectRecord& o = r.objects[0];
        QVERIFY(o.columns.empty());
        QCOMPARE(o.keys, std::vector<std::string>{"desi:targetid:9007199254740993"});  // 2^53+1: not via double
        QCOMPARE(*o.ra, 150.1);
        QCOMPARE(*o.dec, 2.1);
        QCOMPARE(std::get<double>(o.truth.at("z")), double(0.25f));
        QCOMPARE(std::get<std::string>(o.truth.at("morph")), std::string("spiral"));
        QCOMPARE(std::get<int64_t>(r.objects[1].truth.at("targetid")), int64_t(39633345008634465LL));
    }

    void targetIdExact_data() {
        QTest::addColumn<QString>("format");
        QTest::newRow("FITS") << "fits";
        QTest::newRow("CSV") << "csv";
        QTest::newRow("ECSV") << "ecsv";
    }
    void targetIdExact() {
        QFETCH(QString, format);
        // Neighbouring ids above 2^53 collapse to one double; they must stay distinct.
        const std::vector<int64_t> ids = {9007199254740993LL, 9007199254740994LL, 39633345008634465LL,
                                          9223372036854775807LL};
        const std::string path = tmp(qPrintable("ids." + format));
        if (format == "fits") {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("CAT", {{"TARGETID", "K", ""}, {"TARGET_RA", "D", ""}, {"TARGET_DEC", "D", ""}}, long(ids.size()));
            f.writeColumn(1, 1, ids);
            f.writeColumn(2, 1, std::vector<double>{1, 2, 3, 4});
            f.writeColumn(3, 1, std::vector<double>{-1, -2, -3, -4});
        } else {
            std::string text = format == "ecsv" ? "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: TARGETID, datatype: int64}\n"
                                                  "# - {name: TARGET_RA, datatype: float64}\n# - {name: TARGET_DEC, datatype: float64}\n"
                                                  "TARGETID TARGET_RA TARGET_DEC\n"
                                                : "TARGETID,TARGET_RA,TARGET_DEC\n";
            const char sep = format == "ecsv" ? ' ' : ',';
            for (size_t i = 0; i < ids.size(); ++i)
                text += std::to_string(ids[i]) + sep + std::to_string(i + 1) + sep + "-" + std::to_string(i + 1) + "\n";
            writeText(path, text);
        }
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
            QCOMPARE(r.objects[i].keys, std::vector<std::string>{"desi:targetid:" + std::to_string(ids[i])});
            QCOMPARE(std::get<int64_t>(column(r.objects[i], "targetid")), ids[i]);
            QCOMPARE(*r.objects[i].ra, double(i + 1));
            QCOMPARE(*r.objects[i].dec, -double(i + 1));
        }
    }

    void csvRowsTypesAndNulls() {
        const std::string path = tmp("mycat.csv");
        writeText(path,
                  "id,RA,Dec,mag,n_obs,comment\n"
                  "a1,10.5,-5.25,21.3,4,\"bright, blended\"\n"
                  "a2,370.5,95,,2,\n"     // impossible position, no mag
                  ",,,,7,orphan\n"        // neither id nor position: dropped
                  "a4,359.9,89.9,nan,1,x\n");
        QCOMPARE(QString::fromStdString(readerFor(path)->name()), QString("csv-table"));
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(3));
        const ObjectRecord& a1 = r.objects[0];
        QCOMPARE(a1.keys, std::vector<std::string>{"mycat:a1"});
        QCOMPARE(*a1.ra, 10.5);
        QCOMPARE(*a1.dec, -5.25);
        QCOMPARE(std::get<double>(column(a1, "mag")), 21.3);
        QCOMPARE(std::get<int64_t>(column(a1, "n_obs")), int64_t(4));
        QCOMPARE(std::get<std::string>(column(a1, "comment")), std::string("bright, blended"));
        const ObjectRecord& a2 = r.objects[1];
        QVERIFY(!a2.ra && !a2.dec);
        QVERIFY(std::holds_alternative<std::monostate>(column(a2, "mag")));
        QVERIFY(std::holds_alternative<std::monostate>(column(r.objects[2], "mag")));  // nan → null
        QCOMPARE(r.warnings.size(), size_t(2));
    }

    void keyConventions_data() {
        QTest::addColumn<QString>("header");
        QTest::addColumn<QString>("row");
        QTest::addColumn<QStringList>("keys");
        QTest::newRow("SDSS plate-mjd-fiber") << "plate,mjd,fiberid,ra,dec" << "266,51630,3,140.1,0.5"
                                              << QStringList{"sdss:266-51630-3"};
        QTest::newRow("Tractor release-brick-objid") << "release,brickid,objid,ra,dec" << "9011,607466,2657,105.4,56.6"
                                                     << QStringList{"ls:9011-607466-2657"};
        QTest::newRow("DEEP2 objno") << "OBJNO,ra,dec" << "12004808,214.2,52.4" << QStringList{"deep2:12004808"};
        QTest::newRow("generic id uses the file stem") << "source_id,alpha,delta" << "77,1,2" << QStringList{"keys:77"};
        QTest::newRow("targetid wins over generic id") << "targetid,id,ra,dec" << "42,x9,1,2"
                                                       << QStringList{"desi:targetid:42"};
        QTest::newRow("file columns by base name") << "id,ra,dec,image" << "deep2_12345678,1,2,/data/cut/obj1.fits.gz"
                                                   << QStringList{"deep2:12345678", "file:obj1.fits.gz"};
    }
    void keyConventions() {
        QFETCH(QString, header);
        QFETCH(QString, row);
        QFETCH(QStringList, keys);
        const std::string path = tmp("keys.csv");
        writeText(path, (header + "\n" + row + "\n").toStdString());
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(1));
        std::vector<std::string> want;
        for (const auto& k : keys) want.push_back(k.toStdString());
        QCOMPARE(r.objects[0].keys, want);
    }

    void sharedFileColumnGivesNoKey() {
        // Both rows live in one multi-object spectrum file: a file: key would merge them.
        const std::string path = tmp("sharedfile.csv");
        writeText(path, "targetid,ra,dec,spec_file,cutout\n"
                        "1,10,20,spectra/coadd-1.fits,cutouts/t1.fits\n"
                        "2,11,21,spectra/coadd-1.fits,cutouts/t2.fits\n");
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(2));
        QCOMPARE(r.objects[0].keys, (std::vector<std::string>{"desi:targetid:1", "file:t1.fits"}));
        QCOMPARE(r.objects[1].keys, (std::vector<std::string>{"desi:targetid:2", "file:t2.fits"}));
    }

    void tablesWithoutPositionOrIdAreNotClaimed_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("text");
        QTest::newRow("CSV") << "spectrum.csv" << "wavelength,flux\n5000,1.2\n";
        QTest::newRow("ECSV") << "filter.ecsv"
                              << "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: wavelength, datatype: float64}\n"
                                 "# - {name: response, datatype: float64}\nwavelength response\n5000 0.5\n";
    }
    void tablesWithoutPositionOrIdAreNotClaimed() {
        QFETCH(QString, file);
        QFETCH(QString, text);
        const std::string path = tmp(qPrintable(file));
        writeText(path, text.toStdString());
        QVERIFY(readerFor(path) == nullptr);
    }

    void badCellIsFileError() {
        const std::string path = tmp("bad.ecsv");
        writeText(path, "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: targetid, datatype: int64}\n"
                        "# - {name: ra, datatype: float64}\n# - {name: dec, datatype: float64}\n"
                        "targetid ra dec\n12 1.0 2.0\n13 abc 2.0\n");
        try {
            readFile(path);
            QFAIL("expected FileError");
        } catch (const FileError& e) {
            QVERIFY2(std::string(e.what()).find("row 2") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("abc") != std::string::npos, e.what());
        }
    }

    void manyRowsColumnWise() {
        // A 200k-row FITS catalogue: every row's values land in its own record.
        const long n = 200000;
        const std::string path = tmp("big.fits");
        std::vector<int64_t> ids(static_cast<size_t>(n));
        std::vector<double> ra(static_cast<size_t>(n)), dec(static_cast<size_t>(n)), mag(static_cast<size_t>(n));
        for (long i = 0; i < n; ++i) {
            ids[size_t(i)] = 39627000000000000LL + i;
            ra[size_t(i)] = 360.0 * double(i) / double(n);
            dec[size_t(i)] = -80.0 + 160.0 * double(i % 1000) / 1000.0;
            mag[size_t(i)] = 18.0 + double(i % 700) / 100.0;
        }
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("CAT", {{"TARGETID", "K", ""}, {"RA", "D", ""}, {"DEC", "D", ""}, {"MAG_R", "D", ""}}, n);
            f.writeColumn(1, 1, ids);
            f.writeColumn(2, 1, ra);
            f.writeColumn(3, 1, dec);
            f.writeColumn(4, 1, mag);
        }
        const ReadResult r = readFile(path);
        QCOMPARE(r.objects.size(), size_t(n));
        for (long i : {0L, 1L, 12345L, n - 1}) {
            const ObjectRecord& o = r.objects[size_t(i)];
            QCOMPARE(o.keys.at(0), "desi:targetid:" + std::to_string(ids[size_t(i)]));
            QCOMPARE(*o.ra, ra[size_t(i)]);
            QCOMPARE(*o.dec, dec[size_t(i)]);
            QCOMPARE(std::get<double>(column(o, "mag_r")), mag[size_t(i)]);
        }
    }
};

QTEST_GUILESS_MAIN(TestTableReaders)
#include "tst_table_readers.moc"
