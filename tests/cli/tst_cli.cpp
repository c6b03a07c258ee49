// The command line end to end on the shared simulated survey.
#include "cli_test_util.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

class TestCli : public QObject {
    Q_OBJECT
    QString catalog() const { return fixtureSurvey() + "/catalog.sqlite"; }
    static QJsonObject json(const RunResult& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }

private Q_SLOTS:
    void helpOnEveryCommand_data() {
        QTest::addColumn<QString>("command");
        for (const char* c : {"simulate", "ingest", "info", "select", "readers"}) QTest::newRow(c) << c;
    }
    void helpOnEveryCommand() {
        QFETCH(QString, command);
        const auto r = runAstroclip({command, "--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("Usage") || r.out.contains("usage") || r.out.contains("OPTIONS"));
    }

    void infoReportsTheSurvey() {
        const auto r = runAstroclip({"info", "--catalog", catalog(), "--json"});
        QCOMPARE(r.exitCode, 0);
        const auto j = json(r);
        QCOMPARE(j["objects"].toInt(), 300);
        const auto m = j["by_modality"].toObject();
        QCOMPARE(m["image"].toInt(), 300);
        QCOMPARE(m["spectrum"].toInt(), 300);
        QCOMPARE(m["image_and_spectrum"].toInt(), 300);
        bool truthZ = false;
        for (const auto& c : j["columns"].toArray())
            if (c.toObject()["name"].toString() == "truth_z") {
                truthZ = true;
                QVERIFY(c.toObject()["min"].toDouble() >= 0.0);
                QVERIFY(c.toObject()["max"].toDouble() <= 1.7);
            }
        QVERIFY(truthZ);
        QCOMPARE(j["files"].toObject()["failed"].toInt(), 0);
    }

    void simulateAgainIsCached() {
        const auto r = runAstroclip({"simulate", "--out", fixtureSurvey(), "--n", "300", "--size", "64", "--seed", "7", "--json"});
        QCOMPARE(r.exitCode, 0);
        const auto j = json(r);
        QVERIFY(j["cached"].toBool());
        QCOMPARE(j["ingest"].toObject()["ok"].toInt(), 0);   // every file unchanged
    }

    void selectFiltersByTruth() {
        const auto all = json(runAstroclip({"select", "--catalog", catalog(), "--count", "--json"}));
        const auto low = json(runAstroclip({"select", "--catalog", catalog(), "--where", "truth_z < 0.3", "--count", "--json"}));
        const auto high = json(runAstroclip({"select", "--catalog", catalog(), "--where", "not (truth_z < 0.3)", "--count", "--json"}));
        QCOMPARE(all["count"].toInt(), 300);
        QVERIFY(low["count"].toInt() > 0);
        QCOMPARE(low["count"].toInt() + high["count"].toInt(), 300);
    }

    // SQL inside a filter is data: it matches nothing and destroys nothing.
    void whereWithSqlIsData_data() {
        QTest::addColumn<QString>("where");
        QTest::addColumn<bool>("parses");
        QTest::newRow("quote-escape then drop") << "truth_sample = 'x''; DROP TABLE objects; --'" << true;
        QTest::newRow("statement separator") << "truth_z < 1; DROP TABLE objects" << false;
        QTest::newRow("table name as column") << "sqlite_master = 1" << false;
        QTest::newRow("subquery") << "truth_z < (SELECT 1)" << false;
    }
    void whereWithSqlIsData() {
        QFETCH(QString, where);
        QFETCH(bool, parses);
        const auto r = runAstroclip({"select", "--catalog", catalog(), "--where", where, "--count", "--json"});
        if (parses) {
            QCOMPARE(r.exitCode, 0);
            QCOMPARE(json(r)["count"].toInt(), 0);
        } else {
            QCOMPARE(r.exitCode, 1);
            QVERIFY(r.err.startsWith("astroclip: "));
            QCOMPARE(r.err.trimmed().count('\n'), 0);   // one line
        }
        QCOMPARE(json(runAstroclip({"info", "--catalog", catalog(), "--json"}))["objects"].toInt(), 300);
    }

    void failuresAreOneLineAndNonZero_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::newRow("no such catalog") << QStringList{"info", "--catalog", "/nonexistent/x.sqlite"} << 1;
        QTest::newRow("unknown column") << QStringList{"select", "--catalog", fixtureSurvey() + "/catalog.sqlite", "--where", "nosuch > 1"} << 1;
        QTest::newRow("missing required option") << QStringList{"info"} << 106;  // CLI11's RequiredError
    }
    void failuresAreOneLineAndNonZero() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        const auto r = runAstroclip(args);
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY(!r.err.trimmed().isEmpty());
        if (exitCode == 1) QCOMPARE(r.err.trimmed().count('\n'), 0);
    }

    void ingestOfMissingPathIsPartialFailure() {
        QTemporaryDir d;
        const auto r = runAstroclip({"ingest", "--catalog", d.path() + "/c.sqlite", "--json", "/nonexistent/file.fits"});
        QCOMPARE(r.exitCode, 3);
        QCOMPARE(json(r)["failed"].toInt(), 1);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
