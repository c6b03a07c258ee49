// Label sets in the catalog: class and value sets round-trip (text stays text, integers stay
// integers, reals keep every bit); relabelling an object replaces its label; a batch is all or
// nothing (unknown object, wrong kind of value, repeated object, empty class); removing and
// deleting (the set's labels go with it, an object's labels go with the object); what a
// second connection reads after reopening; refusals name the catalog and the set.
#include "catalog_test_util.h"

#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace astroclip;
using namespace astroclip::testing;

Q_DECLARE_METATYPE(astroclip::Value)

namespace {

std::vector<int64_t> addObjects(Catalog& cat, int n) {
    std::vector<int64_t> ids;
    Catalog::Transaction tx(cat);
    for (int i = 0; i < n; ++i) {
        ObjectRecord rec;
        rec.keys = {"obj:" + std::to_string(i)};
        rec.ra = 150.0 + 0.01 * i;
        rec.dec = 2.0;
        ids.push_back(cat.addObject(rec));
    }
    tx.commit();
    return ids;
}

LabelRecord label(int64_t id, Value v, const std::string& source = "user") { return {id, std::move(v), source}; }

// The labels as (object, value, source) triples, for whole-set comparisons.
std::vector<std::tuple<int64_t, Value, std::string>> triples(const std::vector<LabelRecord>& labels) {
    std::vector<std::tuple<int64_t, Value, std::string>> out;
    for (const auto& l : labels) out.emplace_back(l.objectId, l.value, l.source);
    return out;
}

template <typename F>
QString usageErrorOf(F&& f) {
    try {
        f();
    } catch (const UsageError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestCatalogLabels : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTripSurvivesReopening() {
        const std::string path = fresh();
        std::vector<int64_t> ids;
        int64_t tidal = 0, mass = 0;
        const double third = 1.0 / 3.0, tiny = std::numeric_limits<double>::denorm_min();
        {
            auto cat = Catalog::open(path);
            ids = addObjects(cat, 6);
            tidal = cat.createLabelSet("tidal", "class", "tidal features by eye");
            mass = cat.createLabelSet("mass", "value");
            cat.setLabels(tidal, {label(ids[3], std::string("shells")), label(ids[0], std::string("none")),
                                  label(ids[1], std::string("stream"), "import:/tmp/a.csv")});
            cat.setLabels(mass, {label(ids[0], int64_t(11)), label(ids[2], third), label(ids[5], tiny),
                                 label(ids[4], -2.5e300, "model:clip-a")});
        }
        auto cat = Catalog::open(path, false);
        const auto sets = cat.labelSets();
        QCOMPARE(sets.size(), size_t(2));
        QCOMPARE(sets[0].name, std::string("mass"));  // by name
        QCOMPARE(sets[1].name, std::string("tidal"));
        QCOMPARE(sets[1].id, tidal);
        QCOMPARE(sets[1].kind, std::string("class"));
        QCOMPARE(sets[1].description, std::string("tidal features by eye"));
        QCOMPARE(sets[1].count, int64_t(3));
        QCOMPARE(sets[0].count, int64_t(4));
        QVERIFY(std::abs(sets[0].created - std::time(nullptr)) < 3600);
        QCOMPARE(cat.labelSet("tidal")->id, tidal);
        QCOMPARE(cat.labelSet(mass)->name, std::string("mass"));
        QVERIFY(!cat.labelSet("nothing"));
        QVERIFY(!cat.labelSet(int64_t(999)));

        // By object id, values of the kind they were given, sources as given.
        QVERIFY(triples(cat.labels(tidal)) ==
                triples({label(ids[0], std::string("none")), label(ids[1], std::string("stream"), "import:/tmp/a.csv"),
                         label(ids[3], std::string("shells"))}));
        const auto values = cat.labels(mass);
        QVERIFY(triples(values) == triples({label(ids[0], int64_t(11)), label(ids[2], third),
                                            label(ids[4], -2.5e300, "model:clip-a"), label(ids[5], tiny)}));
        QVERIFY(std::holds_alternative<int64_t>(values[0].value));  // 11 is not read back as 11.0
        QCOMPARE(std::get<double>(values[1].value), third);         // every bit kept
    }

    void relabelReplaces() {
        auto cat = Catalog::open(fresh());
        const auto ids = addObjects(cat, 3);
        const int64_t set = cat.createLabelSet("tidal", "class");
        cat.setLabels(set, {label(ids[0], std::string("none")), label(ids[1], std::string("none"))});
        cat.setLabels(set, {label(ids[1], std::string("tail"), "import:b.csv"), label(ids[2], std::string("none"))});
        QVERIFY(triples(cat.labels(set)) == triples({label(ids[0], std::string("none")),
                                                      label(ids[1], std::string("tail"), "import:b.csv"),
                                                      label(ids[2], std::string("none"))}));
        QCOMPARE(cat.labelSet(set)->count, int64_t(3));
        cat.setLabels(set, {});  // an empty batch changes nothing
        QCOMPARE(cat.labelSet(set)->count, int64_t(3));
    }

    void refusedBatchStoresNothing_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<Value>("bad");
        QTest::addColumn<bool>("repeat");      // the bad label repeats the first object instead
        QTest::addColumn<bool>("unknownObject");
        QTest::addColumn<QString>("expected");  // part of the message
        QTest::newRow("unknown object") << "class" << Value(std::string("shells")) << false << true << "no object with id";
        QTest::newRow("repeated object") << "class" << Value(std::string("shells")) << true << false << "labelled twice";
        QTest::newRow("empty class") << "class" << Value(std::string("  ")) << false << false << "cannot be empty";
        QTest::newRow("number in class set") << "class" << Value(int64_t(1)) << false << false << "class name";
        QTest::newRow("null in class set") << "class" << Value() << false << false << "class name";
        QTest::newRow("text in value set") << "value" << Value(std::string("1.5")) << false << false << "takes a number";
        QTest::newRow("NaN in value set") << "value" << Value(std::nan("")) << false << false << "finite";
        QTest::newRow("infinity in value set") << "value" << Value(std::numeric_limits<double>::infinity()) << false
                                               << false << "finite";
    }
    void refusedBatchStoresNothing() {
        QFETCH(QString, kind);
        QFETCH(Value, bad);
        QFETCH(bool, repeat);
        QFETCH(bool, unknownObject);
        QFETCH(QString, expected);
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 3);
        const int64_t set = cat.createLabelSet("s", kind.toStdString());
        const Value good = kind == "class" ? Value(std::string("none")) : Value(0.5);
        cat.setLabels(set, {label(ids[2], good)});
        const auto before = triples(cat.labels(set));

        const int64_t badObject = unknownObject ? ids.back() + 100 : (repeat ? ids[0] : ids[1]);
        const Value badValue = repeat || unknownObject ? good : bad;
        const std::vector<LabelRecord> batch = {label(ids[0], good), label(badObject, badValue),
                                                label(ids[2], kind == "class" ? Value(std::string("x")) : Value(9.0))};
        const QString message = usageErrorOf([&] { cat.setLabels(set, batch); });
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY2(message.contains(QString::fromStdString(path)), qPrintable(message));
        QVERIFY2(message.contains("'s'"), qPrintable(message));  // names the set
        QVERIFY(triples(cat.labels(set)) == before);              // nothing of the batch stored
    }

    void setsRefuseBadRequests() {
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 1);
        cat.createLabelSet("tidal", "class");
        QVERIFY(usageErrorOf([&] { cat.createLabelSet("tidal", "value"); }).contains("exists already"));
        QVERIFY(usageErrorOf([&] { cat.createLabelSet("", "class"); }).contains("needs a name"));
        QVERIFY(usageErrorOf([&] { cat.createLabelSet("z", "colour"); }).contains("class or value"));
        QVERIFY(usageErrorOf([&] { cat.setLabels(4242, {label(ids[0], std::string("x"))}); }).contains("no label set"));
        QVERIFY(usageErrorOf([&] { cat.labels(4242); }).contains("no label set"));
        QVERIFY(usageErrorOf([&] { cat.removeLabels(4242, ids); }).contains("no label set"));
        QCOMPARE(cat.labelSets().size(), size_t(1));
    }

    void removeAndDelete() {
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        const auto ids = addObjects(cat, 4);
        const int64_t a = cat.createLabelSet("a", "class"), b = cat.createLabelSet("b", "value");
        std::vector<LabelRecord> classes, values;
        for (const int64_t id : ids) {
            classes.push_back(label(id, std::string("c") + std::to_string(id % 2)));
            values.push_back(label(id, double(id)));
        }
        cat.setLabels(a, classes);
        cat.setLabels(b, values);

        // Objects without a label are ignored; the count is of labels removed.
        QCOMPARE(cat.removeLabels(a, {ids[1], ids[3], ids[3] + 50}), int64_t(2));
        QCOMPARE(cat.removeLabels(a, {ids[1]}), int64_t(0));
        QCOMPARE(cat.labels(a).size(), size_t(2));
        QCOMPARE(cat.labels(a)[1].objectId, ids[2]);
        QCOMPARE(cat.labels(b).size(), size_t(4));  // the other set untouched

        // Deleting a set takes its labels along and nothing else.
        QVERIFY(cat.deleteLabelSet(a));
        QVERIFY(!cat.deleteLabelSet(a));
        QVERIFY(!cat.labelSet("a"));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM labels WHERE label_set_id = " + std::to_string(a)),
                 int64_t(0));
        QCOMPARE(cat.labels(b).size(), size_t(4));
        // The name is free again, and a new set starts empty.
        const int64_t again = cat.createLabelSet("a", "class");
        QVERIFY(cat.labels(again).empty());

        // An object that goes takes its labels along (foreign keys cascade).
        QCOMPARE(queryInt(cat.handle(), "PRAGMA foreign_keys"), int64_t(1));
        QCOMPARE(sqlite3_exec(cat.handle(), ("DELETE FROM objects WHERE id = " + std::to_string(ids[0])).c_str(),
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        QCOMPARE(cat.labelSet(b)->count, int64_t(3));
        QCOMPARE(cat.labels(b).front().objectId, ids[1]);
    }

    void olderSchemaIsUpgraded() {
        const std::string path = fresh();
        {
            auto v1 = Catalog::openAtVersion(path, 1);
            QVERIFY_THROWS_EXCEPTION(CatalogError, v1.labelSets());
        }
        auto cat = Catalog::open(path);
        QVERIFY(cat.labelSets().empty());
        QVERIFY(cat.createLabelSet("tidal", "class") > 0);
    }
};

QTEST_GUILESS_MAIN(TestCatalogLabels)
#include "tst_catalog_labels.moc"
