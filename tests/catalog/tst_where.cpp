// `--where` filters: which objects each valid expression selects on a small catalog whose
// answers are worked out by hand, the errors invalid ones give, and SQL typed into a filter
// staying data.
#include "catalog_test_util.h"

#include "core/catalog/where.h"
#include "core/common/error.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace astroclip;
using namespace astroclip::testing;

Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace {

// Object i (1..8) of the test catalog; missing values are absent from the record.
struct Row {
    std::optional<double> z, magR;
    std::optional<std::string> cls;
    std::optional<int64_t> flag;
    std::optional<double> ra, dec, truthZ;
};
const Row kRows[] = {
    {0.1, 18.5, "galaxy", 0, 10, -2, 0.11},
    {0.5, 20.0, "qso", 1, 20, -1, 0.52},
    {1.2, 21.3, "galaxy", 2, 30, 0, 1.19},
    {{}, 19.0, "star", 0, 40, 1, {}},
    {2.5, {}, "o'brien", 1, 50, 2, {}},
    {-0.001, 22.0, {}, {}, 60, 3, {}},
    {0.5, 17.0, "GALAXY", 3, {}, {}, {}},
    {0.001, 23.0, "a\"b", 2, {}, {}, {}},
};

std::vector<int64_t> ids(std::initializer_list<int64_t> l) { return l; }

} // namespace

class TestWhere : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::optional<Catalog> cat_;

    void checkIntact() {
        QCOMPARE(cat_->objectCount(), int64_t(8));
        QCOMPARE(queryInt(cat_->handle(), "SELECT count(*) FROM sqlite_schema WHERE name = 'objects'"), int64_t(1));
        QCOMPARE(queryText(cat_->handle(), "PRAGMA integrity_check"), std::string("ok"));
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        cat_ = Catalog::open(dir_.filePath("where.sqlite").toStdString());
        int64_t expectedId = 0;
        for (const Row& r : kRows) {
            ObjectRecord rec;
            rec.keys = {"test:" + std::to_string(++expectedId)};
            rec.ra = r.ra;
            rec.dec = r.dec;
            if (r.z) rec.columns["z"] = *r.z;
            if (r.magR) rec.columns["mag_r"] = *r.magR;
            if (r.cls) rec.columns["class"] = *r.cls;
            if (r.flag) rec.columns["flag"] = *r.flag;
            if (r.truthZ) rec.truth["z"] = *r.truthZ;
            QCOMPARE(cat_->addObject(rec), expectedId);  // so that `id` filters read plainly below
        }
    }

    void valid_data() {
        QTest::addColumn<QString>("where");
        QTest::addColumn<std::vector<int64_t>>("expected");
        QTest::newRow("less") << "z < 1" << ids({1, 2, 6, 7, 8});
        QTest::newRow("case-insensitive column") << "Z<1" << ids({1, 2, 6, 7, 8});
        QTest::newRow("spaces around") << "  z < 1  " << ids({1, 2, 6, 7, 8});
        QTest::newRow("less or equal") << "z <= 0.5" << ids({1, 2, 6, 7, 8});
        QTest::newRow("equal") << "z = 0.5" << ids({2, 7});
        QTest::newRow("double equal, leading dot") << "z == .5" << ids({2, 7});
        QTest::newRow("not equal skips missing") << "z != 0.5" << ids({1, 3, 5, 6, 8});
        QTest::newRow("sql not equal") << "z <> 0.5" << ids({1, 3, 5, 6, 8});
        QTest::newRow("exponent") << "z > 1.0e0" << ids({3, 5});
        QTest::newRow("greater or equal") << "z >= 1.2" << ids({3, 5});
        QTest::newRow("negative exponent") << "z < -1e-4" << ids({6});
        QTest::newRow("negative") << "z > -.5" << ids({1, 2, 3, 5, 6, 7, 8});
        QTest::newRow("explicit plus") << "z > +1" << ids({3, 5});
        QTest::newRow("single-quoted string") << "class = 'galaxy'" << ids({1, 3});
        QTest::newRow("double-quoted string") << "class = \"galaxy\"" << ids({1, 3});
        QTest::newRow("doubled single quote") << "class = 'o''brien'" << ids({5});
        QTest::newRow("single quote inside double") << "class = \"o'brien\"" << ids({5});
        QTest::newRow("doubled double quote") << "class = \"a\"\"b\"" << ids({8});
        QTest::newRow("double quote inside single") << "class = 'a\"b'" << ids({8});
        QTest::newRow("and") << "z < 1 and class = 'galaxy'" << ids({1});
        QTest::newRow("and binds tighter than or") << "flag = 1 or flag = 0 and z > 1" << ids({2, 5});
        QTest::newRow("parentheses") << "(flag = 1 or flag = 0) AND z > 1" << ids({5});
        QTest::newRow("parenthesis without space") << "z<1 and(class='galaxy')" << ids({1});
        QTest::newRow("not is the complement") << "not z < 1" << ids({3, 4, 5});
        QTest::newRow("not with parentheses") << "NOT (z < 1)" << ids({3, 4, 5});
        QTest::newRow("not not") << "not not z < 1" << ids({1, 2, 6, 7, 8});
        QTest::newRow("is null") << "z is null" << ids({4});
        QTest::newRow("is not null") << "z IS NOT NULL" << ids({1, 2, 3, 5, 6, 7, 8});
        QTest::newRow("text is null") << "class is null" << ids({6});
        QTest::newRow("or is null") << "mag_r > 20 or z is null" << ids({3, 4, 6, 8});
        QTest::newRow("between inclusive") << "z between 0.1 and 1.2" << ids({1, 2, 3, 7});
        QTest::newRow("not between") << "z not between 0.1 and 1.2" << ids({5, 6, 8});
        QTest::newRow("in") << "class in ('qso', 'star')" << ids({2, 4});
        QTest::newRow("not in") << "class not in ('qso','star')" << ids({1, 3, 5, 7, 8});
        QTest::newRow("in numbers") << "flag in (0, 3)" << ids({1, 4, 7});
        QTest::newRow("in one") << "flag IN (2)" << ids({3, 8});
        QTest::newRow("column against column") << "mag_r > z" << ids({1, 2, 3, 6, 7, 8});
        QTest::newRow("value first") << "1 < z" << ids({3, 5});
        QTest::newRow("object id") << "id >= 7" << ids({7, 8});
        QTest::newRow("ra") << "ra between 15 and 45" << ids({2, 3, 4});
        QTest::newRow("dec") << "dec < 0" << ids({1, 2});
        QTest::newRow("integer column, real value") << "flag = 1.0" << ids({2, 5});
        QTest::newRow("integer column, negative") << "flag > -1" << ids({1, 2, 3, 4, 5, 7, 8});
        QTest::newRow("truth column") << "truth_z > 0.5" << ids({2, 3});
        QTest::newRow("beyond 64-bit integers") << "z = 9223372036854775808" << ids({});
        QTest::newRow("text column, number") << "class = 1" << ids({});
        QTest::newRow("injection in a string") << "class = 'x''; DROP TABLE objects; --'" << ids({});
        QTest::newRow("tautology in a string") << "class = \"galaxy' or '1'='1\"" << ids({});
        QTest::newRow("tautology with doubled quotes") << "class = 'galaxy'' or ''1''=''1'" << ids({});
    }

    void valid() {
        QFETCH(QString, where);
        QFETCH(std::vector<int64_t>, expected);
        QCOMPARE(cat_->select(where.toStdString()), expected);
        checkIntact();
    }

    // select() takes no filter as "everything"; the parser itself wants a condition.
    void emptySelectsAll() {
        QCOMPARE(cat_->select(""), ids({1, 2, 3, 4, 5, 6, 7, 8}));
        QCOMPARE(cat_->select("   "), ids({1, 2, 3, 4, 5, 6, 7, 8}));
        try {
            parseWhere(" ", [](const std::string& n) { return n; });
            QFAIL("empty filter parsed");
        } catch (const UsageError& e) {
            QCOMPARE(std::string(e.what()), std::string("--where: expected a condition at position 2"));
        }
    }

    void invalid_data() {
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("message");
        QTest::newRow("no value at end") << "z <" << "--where: expected a value after '<' at position 4";
        QTest::newRow("no value, trailing space") << "z < " << "--where: expected a value after '<' at position 5";
        QTest::newRow("statement after filter") << "z < 1; DROP TABLE objects" << "--where: unexpected character ';' at position 6";
        QTest::newRow("values only, dangling or") << "1=1 or" << "the comparison at position 1 has no column";
        QTest::newRow("dangling or") << "z = 1 or" << "--where: expected a condition after 'or' at position 9";
        QTest::newRow("or or") << "z < 1 or or z > 2" << "expected a condition after 'or' at position 10, found 'or'";
        QTest::newRow("dangling and") << "z < 1 and" << "expected a condition after 'and' at position 10";
        QTest::newRow("dangling not") << "not" << "expected a condition after 'not' at position 4";
        QTest::newRow("unclosed parenthesis") << "(z < 1" << "expected 'and', 'or' or ')' after '1' at position 7";
        QTest::newRow("unmatched parenthesis") << "z < 1)" << "unmatched ')' at position 6";
        QTest::newRow("no operator") << "z 1" << "expected a comparison (=, !=, <, <=, >, >=, is null, between or in) after 'z' at position 3, found '1'";
        QTest::newRow("unterminated string") << "z < 'abc" << "unterminated string starting at position 5";
        QTest::newRow("two dots") << "z < 1.2.3" << "malformed number '1.2.3' at position 5";
        QTest::newRow("exponent without digits") << "z < 1e" << "malformed number '1e' at position 5";
        QTest::newRow("number glued to a name") << "z<1and z>0" << "malformed number '1and' at position 3";
        QTest::newRow("number out of range") << "z < 1e999" << "number '1e999' is out of range at position 5";
        QTest::newRow("equals null") << "z = null" << "compare with null using 'is null' or 'is not null' (position 5)";
        QTest::newRow("is without null") << "z is 1" << "expected 'null' after 'is' at position 6, found '1'";
        QTest::newRow("between without and") << "z between 1" << "expected 'and' after '1' at position 12";
        QTest::newRow("in without list") << "z in 1" << "expected '(' after 'in' at position 6, found '1'";
        QTest::newRow("column in a list") << "z in (1, z)" << "the list after 'in' holds values, not columns";
        QTest::newRow("list without comma") << "z in (1 2)" << "expected ',' or ')' after '1' at position 9, found '2'";
        QTest::newRow("unknown column") << "zz < 1" << "--where: at position 1: unknown column 'zz'; did you mean 'z'?";
        QTest::newRow("unknown column lists known") << "colour > 1" << "unknown column 'colour'; known columns: id, ra, dec, class, flag, mag_r, z, truth_z";
        QTest::newRow("table name") << "objects = 1" << "unknown column 'objects'";
        QTest::newRow("sqlite_master") << "sqlite_master = 1" << "unknown column 'sqlite_master'";
        QTest::newRow("internal field") << "source_file_id = 1" << "unknown column 'source_file_id'";
        QTest::newRow("quoted column name") << "'z' < 1" << "the comparison at position 1 has no column in it (column names are written without quotes)";
        QTest::newRow("sign without number") << "z < -" << "expected a number after '-' at position 6";
        QTest::newRow("sign before column") << "z < -mag_r" << "expected a number after '-' at position 6, found 'mag_r'";
        QTest::newRow("bang") << "z ! 1" << "unexpected character '!' at position 3";
        QTest::newRow("sql comment") << "z < 1 --" << "expected 'and', 'or' or the end of the filter after '1' at position 7, found '-'";
        QTest::newRow("block comment") << "z < 1 /* x */" << "unexpected character '/' at position 7";
        QTest::newRow("trailing word") << "z < 1 z" << "expected 'and', 'or' or the end of the filter after '1' at position 7, found 'z'";
        QTest::newRow("union") << "z < 1 union select id from objects" << "found 'union'";
        QTest::newRow("select statement") << "select * from objects" << "unexpected character '*' at position 8";
        QTest::newRow("non-ascii character") << "é < 1" << "unexpected character 'é' at position 1";
        QTest::newRow("positions count characters") << "class = 'é' and ! " << "unexpected character '!' at position 17";
        QTest::newRow("nested too deeply") << QString(300, '(') + "z < 1" + QString(300, ')') << "nested too deeply";
    }

    void invalid() {
        QFETCH(QString, where);
        QFETCH(QString, message);
        try {
            cat_->select(where.toStdString());
            QFAIL("accepted");
        } catch (const UsageError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(message), e.what());
        }
        checkIntact();
    }

    // What the parser hands to SQLite: placeholders and resolved names only; the user's
    // text arrives as typed values.
    void sqlHoldsNoUserText() {
        std::vector<std::string> asked;
        const auto resolve = [&](const std::string& n) { asked.push_back(n); return "\"" + n + "\""; };
        const SqlFilter f = parseWhere("class = 'x''; DROP TABLE objects; --' OR flag in (3, -2) and z < 1.5e-3"
                                       " and n = 9223372036854775808", resolve);
        QCOMPARE(f.sql, std::string("(coalesce(\"class\" = ?, 0) OR ((coalesce(\"flag\" IN (?, ?), 0) AND "
                                    "coalesce(\"z\" < ?, 0)) AND coalesce(\"n\" = ?, 0)))"));
        QCOMPARE(asked, (std::vector<std::string>{"class", "flag", "z", "n"}));
        QCOMPARE(f.params.size(), size_t(5));
        QCOMPARE(std::get<std::string>(f.params[0]), std::string("x'; DROP TABLE objects; --"));
        QCOMPARE(std::get<int64_t>(f.params[1]), int64_t(3));
        QCOMPARE(std::get<int64_t>(f.params[2]), int64_t(-2));
        QCOMPARE(std::get<double>(f.params[3]), 1.5e-3);
        QCOMPARE(std::get<double>(f.params[4]), 9223372036854775808.0);
    }
};

QTEST_GUILESS_MAIN(TestWhere)
#include "tst_where.moc"
