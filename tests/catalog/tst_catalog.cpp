// The catalog: schema and connection settings, objects and keys, exact round trips of
// images, spectra, columns and truth, summaries, atomicity, migrations, refusals.
#include "catalog_test_util.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

using namespace astroclip;
using namespace astroclip::testing;

namespace {

ObjectRecord object(const std::string& key, std::optional<double> ra = {}, std::optional<double> dec = {}) {
    ObjectRecord r;
    r.keys = {key};
    r.ra = ra;
    r.dec = dec;
    r.sourceFile = "/data/survey/catalogue.fits";
    return r;
}

} // namespace

class TestCatalog : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    int n_ = 0;
    std::string fresh() { return dir_.filePath(QString("cat%1.sqlite").arg(++n_)).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void schemaAndConnectionSettings() {
        auto cat = Catalog::open(fresh());
        QCOMPARE(cat.schemaVersion(), Catalog::kSchemaVersion);
        sqlite3* db = cat.handle();
        QCOMPARE(queryInt(db, "PRAGMA user_version"), int64_t(Catalog::kSchemaVersion));
        QCOMPARE(queryText(db, "PRAGMA journal_mode"), std::string("wal"));
        QCOMPARE(queryInt(db, "PRAGMA foreign_keys"), int64_t(1));
        QCOMPARE(queryInt(db, "PRAGMA synchronous"), int64_t(1));  // NORMAL
        for (const char* table : {"objects", "object_keys", "object_columns", "images", "spectra", "ingested_files",
                                  "source_files", "models", "training_runs", "training_metrics", "embeddings",
                                  "label_sets", "labels"})
            QVERIFY2(queryInt(db, std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
                                      table + "'") == 1, table);
        QCOMPARE(queryText(db, "PRAGMA integrity_check"), std::string("ok"));
    }

    // Deleting an object takes its keys, images, spectra, embeddings and labels with it.
    void childRowsCascade() {
        auto cat = Catalog::open(fresh());
        auto rec = object("desi:targetid:1", 150.1, 2.2);
        rec.images = {makeCutout("/d/a.fits", 1)};
        rec.spectra = {makeSpectrum(1, "/d/s.fits")};
        const int64_t id = cat.addObject(rec);
        sqlite3* db = cat.handle();
        QCOMPARE(sqlite3_exec(db, "INSERT INTO models(name, stage, path) VALUES ('m', 'image', '/m.safetensors');"
                                  "INSERT INTO label_sets(name, kind) VALUES ('morph', 'class');", nullptr, nullptr, nullptr), SQLITE_OK);
        const std::string ins = "INSERT INTO embeddings VALUES (" + std::to_string(id) + ", 1, 'image', 'backbone', 2, x'0000803F00000040');"
                                "INSERT INTO labels(label_set_id, object_id, value) VALUES (1, " + std::to_string(id) + ", 'spiral');";
        QCOMPARE(sqlite3_exec(db, ins.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        // A child row pointing at no object is refused: foreign keys are enforced.
        QVERIFY(sqlite3_exec(db, "INSERT INTO object_keys VALUES ('x:1', 999)", nullptr, nullptr, nullptr) != SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, ("DELETE FROM objects WHERE id = " + std::to_string(id)).c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        for (const char* t : {"object_keys", "images", "spectra", "embeddings", "labels"})
            QVERIFY2(queryInt(db, std::string("SELECT count(*) FROM ") + t) == 0, t);
        QVERIFY(!cat.findObjectByKey("desi:targetid:1"));
    }

    void addAndFindByKey() {
        auto cat = Catalog::open(fresh());
        auto a = object("desi:targetid:100", 10.5, -3.25);
        a.keys.push_back("file:cutout_100.fits");
        const int64_t ia = cat.addObject(a);
        const int64_t ib = cat.addObject(object("sdss:266-51602-3"));  // no position
        const int64_t ic = cat.addObject(object("deep2:11001", 214.1, 52.3));
        QCOMPARE(cat.objectCount(), int64_t(3));
        QCOMPARE(cat.findObjectByKey("desi:targetid:100"), std::optional<int64_t>(ia));
        QCOMPARE(cat.findObjectByKey("file:cutout_100.fits"), std::optional<int64_t>(ia));
        QCOMPARE(cat.findObjectByKey("sdss:266-51602-3"), std::optional<int64_t>(ib));
        QVERIFY(!cat.findObjectByKey("desi:targetid:101"));
        QCOMPARE(cat.objectKeys(ia), (std::vector<std::string>{"desi:targetid:100", "file:cutout_100.fits"}));
        QCOMPARE(cat.objectPosition(ia), std::optional(std::make_pair(10.5, -3.25)));
        QVERIFY(!cat.objectPosition(ib));
        const auto pos = cat.objectPositions();
        QCOMPARE(pos.size(), size_t(2));
        QCOMPARE(pos[0].id, ia);
        QCOMPARE(pos[1].id, ic);
        QCOMPARE(pos[1].dec, 52.3);

        // A key that already names an object cannot start another one; nothing is added.
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.addObject(object("deep2:11001")));
        QCOMPARE(cat.objectCount(), int64_t(3));
        // Impossible input from a reader is refused naming its file.
        try {
            cat.addObject(object("x:1", 10.0, 95.0));
            QFAIL("dec 95 accepted");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), std::string("/data/survey/catalogue.fits"));
        }
        QCOMPARE(cat.objectCount(), int64_t(3));
    }

    void mergeAddsToAnObject() {
        auto cat = Catalog::open(fresh());
        auto first = object("desi:targetid:7");
        first.columns = {{"z", 0.25}, {"class", std::string("GALAXY")}};
        first.images = {makeCutout("/d/cut.fits", 1)};
        const int64_t id = cat.addObject(first);
        const int64_t other = cat.addObject(object("desi:targetid:8", 1.0, 1.0));

        auto more = object("sdss:1-2-3", 33.0, -4.0);
        more.keys.push_back("desi:targetid:7");   // the key it was matched by
        more.keys.push_back("desi:targetid:8");   // belongs to another object: stays there
        more.columns = {{"z", 0.2501}, {"snr", int64_t(12)}};
        more.spectra = {makeSpectrum(3, "/d/spec.fits")};
        more.images = {makeBandImage("/d/hst.fits", 5)};
        std::vector<std::string> warnings;
        setLogHandler([&](LogLevel level, const std::string& m) { if (level == LogLevel::Warning) warnings.push_back(m); });
        cat.mergeIntoObject(id, more);
        setLogHandler(nullptr);
        QCOMPARE(warnings.size(), size_t(1));
        QVERIFY2(warnings[0].find("key 'desi:targetid:8' already belongs to object " + std::to_string(other)) !=
                     std::string::npos, warnings[0].c_str());

        QCOMPARE(cat.objectKeys(id), (std::vector<std::string>{"desi:targetid:7", "sdss:1-2-3"}));
        QCOMPARE(cat.findObjectByKey("desi:targetid:8"), std::optional<int64_t>(other));
        QCOMPARE(cat.objectPosition(id), std::optional(std::make_pair(33.0, -4.0)));  // filled in
        QCOMPARE(std::get<double>(cat.value(id, "z")), 0.2501);                      // replaced
        QCOMPARE(std::get<std::string>(cat.value(id, "class")), std::string("GALAXY"));  // kept
        QCOMPARE(std::get<int64_t>(cat.value(id, "snr")), int64_t(12));
        QCOMPARE(cat.images(id).size(), size_t(2));  // appended
        QCOMPARE(cat.spectra(id).size(), size_t(1));

        // A position already known is not moved by a later file.
        cat.mergeIntoObject(id, object("x:9", 34.0, -5.0));
        QCOMPARE(cat.objectPosition(id), std::optional(std::make_pair(33.0, -4.0)));
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.mergeIntoObject(9999, more));
        QCOMPARE(cat.objectCount(), int64_t(2));
    }

    void imagesAndSpectraRoundTrip() {
        auto cat = Catalog::open(fresh());
        auto rec = object("desi:targetid:42", 180.0, 0.0);
        auto cut = makeCutout("/survey/cutouts/c42.fits", 1);
        cut.planes = {0, 1, -1};  // no z plane in this file
        cut.bands = {"g", "r"};
        auto inMemory = makeCutout("", 1);
        inMemory.width = 4;
        inMemory.height = 3;
        inMemory.pixels.resize(3 * 4 * 3);
        for (size_t i = 0; i < inMemory.pixels.size(); ++i) inMemory.pixels[i] = std::ldexp(1.0f + i, -int(i));
        inMemory.pixels[5] = -0.0f;
        inMemory.pixels[6] = std::numeric_limits<float>::infinity();
        rec.images = {cut, makeBandImage("/survey/hst/v.fits", 9), inMemory};
        rec.spectra = {makeSpectrum(11, "/survey/desi/coadd.fits"), makeSpectrum(12, "/survey/sdss/spec.fits")};
        rec.spectra[1].unit = "counts/hour";
        const int64_t id = cat.addObject(rec);

        const auto images = cat.images(id);
        QCOMPARE(images.size(), rec.images.size());
        for (size_t i = 0; i < images.size(); ++i) QVERIFY2(sameImage(images[i], rec.images[i]), qPrintable(QString::number(i)));
        const auto spectra = cat.spectra(id);
        QCOMPARE(spectra.size(), size_t(2));
        for (size_t i = 0; i < spectra.size(); ++i) QVERIFY(sameSpectrum(spectra[i], rec.spectra[i]));

        // Arrays off the canonical grid, or pixel counts that do not add up, name their file.
        auto bad = object("desi:targetid:43");
        bad.spectra = {makeSpectrum(1, "/survey/short.fits")};
        bad.spectra[0].ivar.pop_back();
        try {
            cat.addObject(bad);
            QFAIL("short spectrum accepted");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), std::string("/survey/short.fits"));
        }
        bad.spectra.clear();
        bad.images = {makeBandImage("/survey/odd.fits", 1)};
        bad.images[0].pixels.pop_back();
        QVERIFY_THROWS_EXCEPTION(FileError, cat.addObject(bad));
        QCOMPARE(cat.objectCount(), int64_t(1));
        QVERIFY(!cat.findObjectByKey("desi:targetid:43"));
    }

    void columnsAndTruthRoundTrip() {
        auto cat = Catalog::open(fresh());
        auto a = object("sim:1", 1.0, 1.0);
        a.columns = {{"Z", 0.5}, {"FLUX-G", 12.25}, {"2mass_j", 14.0}, {"n_obs", int64_t(3)},
                     {"class", std::string("GALAXY")}, {"ra", 1.0000001}, {"id", int64_t(77)},
                     {"truth_sersic", 4.0}, {"unused", std::monostate{}}};
        a.truth = {{"z", 0.4999}, {"sersic_n", 1.5}, {"morphology", std::string("disk")}};
        const int64_t ia = cat.addObject(a);
        auto b = object("sim:2");
        b.columns = {{"z", 2.0}, {"n_obs", 7.5}, {"class", std::string("QSO")}, {"flux_g", std::nan("")}};
        const int64_t ib = cat.addObject(b);
        cat.addObject(object("sim:3"));

        // Names normalised; object fields and the truth prefix never clobbered.
        QCOMPARE(std::get<double>(cat.value(ia, "flux_g")), 12.25);
        QCOMPARE(std::get<double>(cat.value(ia, "_2mass_j")), 14.0);
        QCOMPARE(std::get<double>(cat.value(ia, "cat_ra")), 1.0000001);
        QCOMPARE(std::get<double>(cat.value(ia, "ra")), 1.0);
        QCOMPARE(std::get<int64_t>(cat.value(ia, "cat_id")), int64_t(77));
        QCOMPARE(std::get<int64_t>(cat.value(ia, "id")), ia);
        QCOMPARE(std::get<double>(cat.value(ia, "cat_truth_sersic")), 4.0);
        QCOMPARE(std::get<double>(cat.value(ia, "truth_z")), 0.4999);
        QCOMPARE(std::get<std::string>(cat.value(ia, "TRUTH_MORPHOLOGY")), std::string("disk"));
        QVERIFY(std::holds_alternative<std::monostate>(cat.value(ib, "truth_z")));
        QVERIFY(std::holds_alternative<std::monostate>(cat.value(ib, "flux_g")));  // NaN stored as missing
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.value(ia, "unused"));              // only ever null: not a column
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.value(999, "z"));

        // The registry: kind, type (integer widened to real when a real arrived), ranges.
        const auto cols = cat.columns();
        const auto find = [&](const std::string& n) {
            auto it = std::find_if(cols.begin(), cols.end(), [&](const ColumnInfo& c) { return c.name == n; });
            if (it == cols.end()) throw std::runtime_error("no column " + n);
            return *it;
        };
        QCOMPARE(cols.size(), size_t(11));
        QCOMPARE(find("z").type, std::string("real"));
        QCOMPARE(find("z").count, int64_t(2));
        QCOMPARE(*find("z").min, 0.5);
        QCOMPARE(*find("z").max, 2.0);
        QCOMPARE(find("n_obs").type, std::string("real"));
        QCOMPARE(*find("n_obs").max, 7.5);
        QCOMPARE(find("class").type, std::string("text"));
        QVERIFY(!find("class").min);
        QCOMPARE(*find("class").example, std::string("GALAXY"));
        QCOMPARE(find("truth_z").kind, std::string("truth"));
        QCOMPARE(find("cat_truth_sersic").kind, std::string("catalog"));
        QCOMPARE(find("cat_id").type, std::string("integer"));

        // Whole objects come back as stored.
        const ObjectRecord back = cat.object(ia);
        QCOMPARE(back.keys, a.keys);
        QCOMPARE(back.sourceFile, a.sourceFile);
        QCOMPARE(back.truth, a.truth);
        QCOMPARE(back.columns.size(), size_t(8));
        QCOMPARE(std::get<double>(back.columns.at("flux_g")), 12.25);
    }

    void numbersInBulk() {
        auto cat = Catalog::open(fresh());
        std::vector<int64_t> ids;
        {
            Catalog::Transaction tx(cat);
            for (int i = 0; i < 6000; ++i) {
                auto r = object("n:" + std::to_string(i));
                if (i % 3) r.columns["mag"] = i % 5 ? Value(0.5 * i) : Value(int64_t(i));
                if (i == 4) r.columns["mag"] = std::string("bright");
                ids.push_back(cat.addObject(r));
            }
            tx.commit();
        }
        const auto expected = [](int i) { return i == 4 ? std::nan("") : i % 3 == 0 ? std::nan("") : i % 5 ? 0.5 * i : double(i); };
        // Sorted and many: one ordered scan; repeated ids allowed.
        const auto all = cat.numbers(ids, "mag");
        QCOMPARE(all.size(), ids.size());
        for (int i = 0; i < 6000; ++i) QVERIFY(std::isnan(expected(i)) ? std::isnan(all[i]) : all[i] == expected(i));
        // Few or unordered: a lookup each.
        const auto some = cat.numbers({ids[10], ids[3], ids[10], ids[1]}, "MAG");
        QCOMPARE(some[0], 10.0);
        QVERIFY(std::isnan(some[1]));
        QCOMPARE(some[2], 10.0);
        QCOMPARE(some[3], 0.5);
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.numbers({ids[0], 987654}, "mag"));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.numbers(ids, "magg"));
    }

    // Objects counted per modality; files per status; models and embeddings listed.
    void infoSummarises() {
        auto cat = Catalog::open(fresh());
        auto add = [&](const std::string& key, bool cutout, bool band, bool spectrum) {
            auto r = object(key, 5.0, 5.0);
            r.columns["z"] = 0.1;
            if (cutout) r.images.push_back(makeCutout("/c.fits", 1));
            if (band) r.images.push_back(makeBandImage("/b.fits", 1));
            if (spectrum) r.spectra.push_back(makeSpectrum(1, "/s.fits"));
            return cat.addObject(r);
        };
        add("a", true, false, false);
        add("b", false, true, false);
        add("c", false, true, false);
        add("d", false, false, true);
        add("e", true, false, true);
        const int64_t f = add("f", true, true, true);
        cat.mergeIntoObject(f, [] { ObjectRecord r; r.images = {makeCutout("/c2.fits", 1)}; return r; }());
        add("g", false, false, false);
        cat.recordFile({"/x/1.fits", 10, 100, "ok", "desi-coadd", "", 3});
        cat.recordFile({"/x/2.fits", 10, 100, "failed", "", "truncated", 0});
        cat.recordFile({"/x/3.fits", 10, 100, "skipped", "", "PSF cube", 0});
        sqlite3* db = cat.handle();
        QCOMPARE(sqlite3_exec(db, "INSERT INTO models(name, stage, path, step) VALUES ('vit-s', 'image', '/m/vit.safetensors', 5000);"
                                  "INSERT INTO embeddings SELECT id, 1, 'image', 'backbone', 1, x'0000803F' FROM objects;",
                              nullptr, nullptr, nullptr), SQLITE_OK);
        const CatalogInfo info = cat.info();
        QCOMPARE(info.objects, int64_t(7));
        QCOMPARE(info.objectsWithImage, int64_t(3));        // a, e, f
        QCOMPARE(info.objectsWithBandImages, int64_t(2));   // b, c (f has a cutout too)
        QCOMPARE(info.objectsWithSpectrum, int64_t(3));     // d, e, f
        QCOMPARE(info.objectsWithBoth, int64_t(2));         // e, f
        QCOMPARE(info.images, int64_t(7));
        QCOMPARE(info.spectra, int64_t(3));
        QCOMPARE(info.ingestedFiles, int64_t(1));
        QCOMPARE(info.failedFiles, int64_t(1));
        QCOMPARE(info.columns.size(), size_t(1));
        QCOMPARE(info.models.size(), size_t(1));
        QCOMPARE(info.models[0].step, int64_t(5000));
        QCOMPARE(info.embeddings.size(), size_t(1));
        QCOMPARE(info.embeddings[0].count, int64_t(7));
        QCOMPARE(info.embeddings[0].dim, 1);
    }

    void ingestLedger() {
        auto cat = Catalog::open(fresh());
        QVERIFY(!cat.file("/x/a.fits"));
        cat.recordFile({"/x/a.fits", 2880, 1700000000, "failed", "desi-coadd", "truncated HDU 3", 0});
        cat.recordFile({"/x/a.fits", 5760, 1700000100, "ok", "desi-coadd", "", 500});  // re-ingested
        const auto f = cat.file("/x/a.fits");
        QVERIFY(f);
        QCOMPARE(f->size, int64_t(5760));
        QCOMPARE(f->mtime, int64_t(1700000100));
        QCOMPARE(f->status, std::string("ok"));
        QCOMPARE(f->objects, int64_t(500));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM ingested_files"), int64_t(1));
        QVERIFY_THROWS_EXCEPTION(CatalogError, cat.recordFile({"/x/b.fits", 1, 1, "maybe", "", "", 0}));
    }

    // A failure inside a transaction leaves the catalog as it was, columns included; a
    // failed addObject inside a caller's transaction takes back only its own rows.
    void failureLeavesCatalogUnchanged() {
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        auto keep = object("k:1", 1.0, 1.0);
        keep.columns["z"] = 0.3;
        cat.addObject(keep);
        try {
            Catalog::Transaction tx(cat);
            for (int i = 0; i < 50; ++i) {
                auto r = object("t:" + std::to_string(i), 2.0, 2.0);
                r.columns = {{"z", 1.5}, {"new_col", int64_t(i)}};
                r.spectra = {makeSpectrum(i, "/s.fits")};
                cat.addObject(r);
            }
            throw std::runtime_error("reader crashed mid-batch");
        } catch (const std::runtime_error&) {
        }
        QCOMPARE(cat.objectCount(), int64_t(1));
        QCOMPARE(cat.columns().size(), size_t(1));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM spectra"), int64_t(0));
        QVERIFY_THROWS_EXCEPTION(UsageError, cat.select("new_col = 1"));
        // The rolled-back column can be added again: nothing stale was cached.
        auto again = object("t:again");
        again.columns = {{"new_col", std::string("text now")}};
        const int64_t id = cat.addObject(again);
        QCOMPARE(std::get<std::string>(cat.value(id, "new_col")), std::string("text now"));

        {
            Catalog::Transaction tx(cat);
            cat.addObject(object("batch:1"));
            QVERIFY_THROWS_EXCEPTION(CatalogError, cat.addObject(object("k:1")));  // duplicate key
            auto half = object("batch:half");
            half.keys.push_back("batch:half2");
            half.images = {makeCutout("/c.fits", 1)};
            half.spectra = {makeSpectrum(1, "/s.fits"), makeSpectrum(2, "/s.fits")};
            half.spectra[1].mask.resize(10);  // fails after the object, its keys, image and first spectrum
            QVERIFY_THROWS_EXCEPTION(FileError, cat.addObject(half));
            cat.addObject(object("batch:2"));
            tx.commit();
        }
        QCOMPARE(cat.objectCount(), int64_t(4));
        QVERIFY(cat.findObjectByKey("batch:2"));
        QVERIFY(!cat.findObjectByKey("batch:half"));
        QVERIFY(!cat.findObjectByKey("batch:half2"));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM images"), int64_t(0));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM spectra"), int64_t(0));
        QCOMPARE(queryInt(cat.handle(), "SELECT count(*) FROM object_keys"), int64_t(4));
        // Another connection sees exactly what was committed.
        auto second = Catalog::open(path, false);
        QCOMPARE(second.objectCount(), int64_t(4));
    }

    // Two connections: a column one adds is known to the other without reopening.
    void secondConnectionSeesNewColumns() {
        const std::string path = fresh();
        auto a = Catalog::open(path);
        auto b = Catalog::open(path);
        auto r = object("c:1");
        r.columns["ebv"] = 0.02;
        a.addObject(r);
        auto s = object("c:2");
        s.columns["ebv"] = 0.05;
        b.addObject(s);
        QCOMPARE(b.select("ebv > 0.01").size(), size_t(2));
        QCOMPARE(a.columns().size(), size_t(1));
    }

    void migrationFromVersion1KeepsData() {
        const std::string path = fresh();
        int64_t id = 0;
        auto rec = object("desi:targetid:5", 150.0, 2.0);
        rec.columns = {{"z", 1.25}, {"class", std::string("QSO")}};
        rec.truth = {{"z", 1.2501}};
        rec.images = {makeCutout("/c.fits", 1)};
        rec.spectra = {makeSpectrum(5, "/s.fits")};
        {
            auto v1 = Catalog::openAtVersion(path, 1);
            QCOMPARE(v1.schemaVersion(), 1);
            QCOMPARE(queryInt(v1.handle(), "SELECT count(*) FROM sqlite_schema WHERE name = 'models'"), int64_t(0));
            id = v1.addObject(rec);
            v1.recordFile({"/s.fits", 1, 2, "ok", "desi-coadd", "", 1});
            QCOMPARE(v1.info().objectsWithBoth, int64_t(1));
        }
        auto cat = Catalog::open(path, false);
        QCOMPARE(cat.schemaVersion(), Catalog::kSchemaVersion);
        QCOMPARE(queryInt(cat.handle(), "PRAGMA user_version"), int64_t(Catalog::kSchemaVersion));
        QCOMPARE(queryText(cat.handle(), "PRAGMA foreign_key_check"), std::string());
        QCOMPARE(cat.findObjectByKey("desi:targetid:5"), std::optional<int64_t>(id));
        QCOMPARE(std::get<double>(cat.value(id, "truth_z")), 1.2501);
        QCOMPARE(cat.select("class = 'QSO' and z > 1"), std::vector<int64_t>{id});
        QVERIFY(sameSpectrum(cat.spectra(id).at(0), rec.spectra[0]));
        QVERIFY(sameImage(cat.images(id).at(0), rec.images[0]));
        QCOMPARE(cat.file("/s.fits")->status, std::string("ok"));
        QCOMPARE(sqlite3_exec(cat.handle(), "INSERT INTO models(name, stage, path) VALUES ('m', 'image', '/m')", nullptr,
                              nullptr, nullptr), SQLITE_OK);
        QCOMPARE(cat.info().models.size(), size_t(1));
    }

    void newerSchemaRefused() {
        const std::string path = fresh();
        { auto cat = Catalog::open(path); }
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
        try {
            Catalog::open(path);
            QFAIL("a newer catalog was opened");
        } catch (const CatalogError& e) {
            QVERIFY2(std::string(e.what()).find(path + ": written by a newer AstroCLIP (schema 99 > " + std::to_string(Catalog::kSchemaVersion) + "); upgrade") == 0, e.what());
        }
    }

    void foreignFilesRefused() {
        const std::string text = dir_.filePath("notes.sqlite").toStdString();
        std::ofstream(text) << "SIMPLE  =                    T / this is a FITS header, not a database\n"
                            << std::string(4000, ' ');
        try {
            Catalog::open(text);
            QFAIL("a text file was opened as a catalog");
        } catch (const CatalogError& e) {
            QVERIFY2(std::string(e.what()).find(text) == 0, e.what());
            QVERIFY2(std::string(e.what()).find("not an AstroCLIP catalog") != std::string::npos, e.what());
        }
        const std::string other = dir_.filePath("other.db").toStdString();
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(other.c_str(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "CREATE TABLE things(a)", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
        QVERIFY_THROWS_EXCEPTION(CatalogError, Catalog::open(other));
        const std::string missing = dir_.filePath("missing.sqlite").toStdString();
        QVERIFY_THROWS_EXCEPTION(CatalogError, Catalog::open(missing, false));
        QVERIFY(!QFile::exists(QString::fromStdString(missing)));
        QVERIFY_THROWS_EXCEPTION(CatalogError, Catalog::open(dir_.path().toStdString()));
    }

    // The file is plain SQLite that other tools read: Python's sqlite3 and numpy see the
    // same columns and arrays (float32 little-endian BLOBs).
    void readableByPython() {
        const std::string path = fresh();
        auto cat = Catalog::open(path);
        auto rec = object("desi:targetid:77", 12.5, -7.25);
        rec.columns = {{"z", 0.75}, {"class", std::string("ELG")}};
        rec.spectra = {makeSpectrum(77, "/s.fits")};
        const int64_t id = cat.addObject(rec);
        double sum = 0;
        for (float f : rec.spectra[0].flux) sum += f;
        const QString script = QString(
            "import sqlite3, numpy as np, sys\n"
            "db = sqlite3.connect(sys.argv[1])\n"
            "z, cls, ra = db.execute('SELECT z, class, ra FROM objects WHERE id = ?', (%1,)).fetchone()\n"
            "f, m = db.execute('SELECT flux, mask FROM spectra WHERE object_id = ?', (%1,)).fetchone()\n"
            "f = np.frombuffer(f, '<f4'); m = np.frombuffer(m, 'u1')\n"
            "print(z, cls, ra, len(f), repr(float(f.astype(np.float64).sum())), int(m.sum()))\n").arg(id);
        QProcess py;
        py.start("/usr/bin/python3", {"-c", script, QString::fromStdString(path)});
        QVERIFY(py.waitForFinished(60000));
        QCOMPARE(py.exitCode(), 0);
        const QStringList out = QString(py.readAllStandardOutput()).trimmed().split(' ');
        QCOMPARE(out.size(), 6);
        QCOMPARE(out[0], QString("0.75"));
        QCOMPARE(out[1], QString("ELG"));
        QCOMPARE(out[2], QString("12.5"));
        QCOMPARE(out[3].toInt(), DesiGrid::kSize);
        QVERIFY(std::abs(out[4].toDouble() - sum) <= 1e-12 * std::abs(sum));  // numpy sums pairwise
        QCOMPARE(out[5].toInt(), int(std::count(rec.spectra[0].mask.begin(), rec.spectra[0].mask.end(), 1)));
    }
};

QTEST_GUILESS_MAIN(TestCatalog)
#include "tst_catalog.moc"
