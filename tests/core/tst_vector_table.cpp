// Reading tables of vectors (core/io/vector_table.h) beyond what tst_cli_map's peer files
// cover: vector cells written as "[a, b]" or "a;b", ids written as floats, per-component
// columns ordered by their number (FITS too), and the refusals: ragged vectors, repeated
// ids, ids that are not integers, text where numbers belong, an unknown format.
#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/io/vector_table.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;

class TestVectorTable : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    std::string write(const QString& name, const QByteArray& text) {
        const QString path = dir_.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(text) != text.size()) return {};
        return path.toStdString();
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void vectorCells() {
        const auto path = write("cells.csv", "object_id,embedding\n7,\"[1.5, -2, 3e-1]\"\n9.0,4;5;6\n3,7 8 9\n");
        const auto t = readVectorTable(path, {});
        QCOMPARE(t.format, std::string("csv"));
        QCOMPARE(t.ids, (std::vector<int64_t>{7, 9, 3}));
        QCOMPARE(t.dim, 3);
        QCOMPARE(t.values, (std::vector<float>{1.5f, -2.f, 0.3f, 4, 5, 6, 7, 8, 9}));
        QCOMPARE(t.vectorsFrom, std::string("column 'embedding'"));
    }

    void componentColumnsByNumber() {
        // emb_10 after emb_2: ordered by number, not by name; the id column is never a component.
        const auto path = write("cols.csv", "emb_10,object_id,emb_2,emb_1\n3,1,2,1\n30,2,20,10\n");
        VectorTableOptions o;
        o.columnsPrefix = "EMB_*";
        const auto t = readVectorTable(path, o);
        QCOMPARE(t.dim, 3);
        QCOMPARE(t.values, (std::vector<float>{1, 2, 3, 10, 20, 30}));
        QCOMPARE(t.vectorsFrom, std::string("3 columns emb_1..emb_10"));
    }

    void fitsComponentColumnsAndKeys() {
        const std::string path = dir_.filePath("cols.fits").toStdString();
        {
            auto f = FitsFile::create(path);
            f.writeEmptyPrimary();
            f.createTable("VECTORS", {{"TARGET", "24A", ""}, {"V1", "D", ""}, {"V0", "E", ""}}, 2);
            f.writeColumn(1, 1, std::vector<std::string>{"desi:targetid:1", "desi:targetid:2"});
            f.writeColumn(2, 1, std::vector<double>{0.5, 1.5});
            f.writeColumn(3, 1, std::vector<float>{-1.f, -2.f});
            f.close();
        }
        VectorTableOptions o;
        o.keyColumn = "target";
        o.columnsPrefix = "v";
        const auto t = readVectorTable(path, o);
        QCOMPARE(t.format, std::string("fits"));
        QCOMPARE(t.keys, (std::vector<std::string>{"desi:targetid:1", "desi:targetid:2"}));
        QCOMPARE(t.values, (std::vector<float>{-1.f, 0.5f, -2.f, 1.5f}));
    }

    void refusals_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("ragged") << "ragged.csv" << QByteArray("object_id,embedding\n1,1 2 3\n2,1 2\n")
                                << "row 2 has a vector of 2 values; the rows before it have 3";
        QTest::newRow("repeated id") << "repeat.csv" << QByteArray("object_id,embedding\n1,1 2\n2,3 4\n1,5 6\n")
                                     << "object id 1 appears in rows 1 and 3";
        QTest::newRow("id not an integer") << "float.csv" << QByteArray("object_id,embedding\n1.5,1 2\n")
                                           << "row 1: the id '1.5' in column 'object_id' is not an integer";
        QTest::newRow("text in a vector") << "text.csv" << QByteArray("object_id,embedding\n1,1 x\n")
                                          << "row 1, column 'embedding': 'x' is not a number";
        QTest::newRow("no id column") << "noid.csv" << QByteArray("id,embedding\n1,1 2\n")
                                      << "no id column 'object_id' (columns: id, embedding)";
        QTest::newRow("no rows") << "empty.csv" << QByteArray("object_id,embedding\n") << "holds no vectors";
        QTest::newRow("unknown format") << "vectors.parquet" << QByteArray("PAR1....") << "is not a FITS, CSV, ECSV or HDF5";
        QTest::newRow("HDF5 by name, not inside") << "fake.h5" << QByteArray("object_id\n1\n") << "is not an HDF5 file";
    }
    void refusals() {
        QFETCH(QString, name);
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        const auto path = write(name, text);
        try {
            readVectorTable(path, {});
            QFAIL("the table was read");
        } catch (const FileError& e) {
            QCOMPARE(QString::fromStdString(e.path()), QString::fromStdString(path));
            QVERIFY2(QString::fromUtf8(e.what()).contains(expected), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestVectorTable)
#include "tst_vector_table.moc"
