// Reader plugins: the example plugin (plugins/example) loads from the build's plugins folder
// and reads its format; a plugin built for another ABI version is refused without effect.
#include "reader_test_support.h"

#include "core/ingest/plugin_abi.h"

#include <QTemporaryDir>

#include <cmath>
#include <fstream>

using namespace astroclip;
using namespace readertest;

class TestPlugins : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void examplePluginLoadsAndReads() {
        ReaderRegistry reg;
        registerImageAndTableReaders(reg);
        const size_t before = reg.readers().size();
        const auto loads = reg.loadPluginDir(ASTROCLIP_EXAMPLE_PLUGIN_DIR);
        const auto it = std::find_if(loads.begin(), loads.end(), [](const ReaderRegistry::PluginLoad& l) {
            return l.path.find("astroclip_phot_csv.so") != std::string::npos;
        });
        QVERIFY2(it != loads.end(), "astroclip_phot_csv.so not found in " ASTROCLIP_EXAMPLE_PLUGIN_DIR);
        QVERIFY2(it->ok, it->message.c_str());
        QCOMPARE(QString::fromStdString(it->message), QString("phot-csv"));
        long okLoads = std::count_if(loads.begin(), loads.end(), [](const auto& l) { return l.ok; });
        QCOMPARE(reg.readers().size(), before + size_t(okLoads));

        QTemporaryDir dir;
        const std::string path = (dir.path() + "/field7.phot.csv").toStdString();
        {
            std::ofstream out(path);
            out << "objid,ra,dec,mag_g,mag_r,mag_z,flag\n"
                   "1001,150.1192,2.2050,21.43,20.61,19.98,ok\n"
                   "1002,150.1201,2.2102,,22.50,99,edge\n";
        }
        const auto probe = probeFile(path);
        const Reader* r = reg.select(probe);
        QVERIFY(r);
        QCOMPARE(QString::fromStdString(r->name()), QString("phot-csv"));  // beats csv-table
        const ReadResult res = r->read(probe, {});
        QCOMPARE(res.objects.size(), size_t(2));
        const ObjectRecord& a = res.objects[0];
        QCOMPARE(a.keys, std::vector<std::string>{"phot-csv:1001"});
        QCOMPARE(*a.ra, 150.1192);
        QCOMPARE(*a.dec, 2.2050);
        // m = 22.5 − 2.5 log10(f) ⇒ f = 10^((22.5 − m)/2.5) nanomaggies
        QVERIFY(std::fabs(std::get<double>(a.columns.at("flux_g")) - std::pow(10.0, (22.5 - 21.43) / 2.5)) < 1e-9);
        QCOMPARE(std::get<std::string>(a.columns.at("flag")), std::string("ok"));
        const ObjectRecord& b = res.objects[1];
        QVERIFY(std::holds_alternative<std::monostate>(b.columns.at("mag_g")));
        QVERIFY(std::holds_alternative<std::monostate>(b.columns.at("flux_z")));  // 99 = not detected
        QVERIFY(std::fabs(std::get<double>(b.columns.at("flux_r")) - 1.0) < 1e-12);  // m = 22.5 ⇒ 1 nanomaggy
    }

    void wrongAbiPluginRefused() {
        ReaderRegistry reg;
        registerImageAndTableReaders(reg);
        std::vector<std::string> namesBefore;
        for (const Reader* r : reg.readers()) namesBefore.push_back(r->name());
        const auto loads = reg.loadPluginDir(ASTROCLIP_WRONG_ABI_PLUGIN_DIR);
        QCOMPARE(loads.size(), size_t(1));
        QVERIFY(!loads[0].ok);
        const std::string& msg = loads[0].message;
        QVERIFY2(msg.find(std::to_string(ASTROCLIP_READER_ABI_VERSION + 1000)) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find(std::to_string(ASTROCLIP_READER_ABI_VERSION)) != std::string::npos, msg.c_str());
        std::vector<std::string> namesAfter;
        for (const Reader* r : reg.readers()) namesAfter.push_back(r->name());
        QCOMPARE(namesAfter, namesBefore);
    }

    void builtinRegistryListsImageAndTableReaders() {
        std::vector<std::string> names;
        for (const Reader* r : builtinRegistry().readers()) names.push_back(r->name());
        for (const char* want : {"image-cube", "band-image", "fits-table", "csv-table", "ecsv-table"})
            QVERIFY2(std::find(names.begin(), names.end(), want) != names.end(), want);
    }
};

QTEST_GUILESS_MAIN(TestPlugins)
#include "tst_plugins.moc"
