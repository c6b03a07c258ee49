// Bulk import speed (label `bench`, not run in CI): 1M objects with a position and four
// catalogue columns (z, mag_r, class, flag), added with addObject in transactions of 10k.
// Prints rows/s; the time spent making the records is not counted. ASTROCLIP_BENCH_ROWS
// sets another row count.
#include "core/catalog/catalog.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace astroclip;

class BenchCatalog : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void bulkInsert_data() {
        QTest::addColumn<bool>("withKey");
        QTest::newRow("columns only") << false;
        QTest::newRow("columns and a link key") << true;
    }

    void bulkInsert() {
        QFETCH(bool, withKey);
        const char* env = std::getenv("ASTROCLIP_BENCH_ROWS");
        const int64_t rows = env ? std::atoll(env) : 1000000;
        constexpr int64_t kBatch = 10000;
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto cat = Catalog::open(dir.filePath("bench.sqlite").toStdString());

        std::mt19937_64 rng(42);
        std::uniform_real_distribution<double> uni(0.0, 1.0);
        const char* classes[] = {"GALAXY", "QSO", "STAR"};
        std::vector<ObjectRecord> batch(kBatch);
        double insertSeconds = 0, insertCpuSeconds = 0;  // wall clock; CPU time (the machine may be shared)
        const auto start = std::chrono::steady_clock::now();
        for (int64_t done = 0; done < rows; done += kBatch) {
            const int64_t n = std::min(kBatch, rows - done);
            for (int64_t i = 0; i < n; ++i) {
                ObjectRecord& r = batch[i];
                r.keys.clear();
                if (withKey) r.keys.push_back("bench:" + std::to_string(done + i));
                r.ra = 360.0 * uni(rng);
                r.dec = -90.0 + 180.0 * uni(rng);
                r.columns["z"] = 3.0 * uni(rng);
                r.columns["mag_r"] = 16.0 + 8.0 * uni(rng);
                r.columns["class"] = std::string(classes[rng() % 3]);
                r.columns["flag"] = static_cast<int64_t>(rng() % 16);
                r.sourceFile = "/data/bench/catalogue.fits";
            }
            const auto t0 = std::chrono::steady_clock::now();
            const std::clock_t c0 = std::clock();
            Catalog::Transaction tx(cat);
            for (int64_t i = 0; i < n; ++i) cat.addObject(batch[i]);
            tx.commit();
            insertSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            insertCpuSeconds += double(std::clock() - c0) / CLOCKS_PER_SEC;
        }
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        QCOMPARE(cat.objectCount(), rows);
        std::printf("BENCH catalog %s: %lld rows in %.2f s of addObject+commit = %.0f rows/s; CPU %.2f s = %.0f rows/s "
                    "(%.2f s wall with record making)\n",
                    withKey ? "columns+key" : "columns", static_cast<long long>(rows), insertSeconds,
                    rows / insertSeconds, insertCpuSeconds, rows / insertCpuSeconds, total);
        std::fflush(stdout);

        const auto t0 = std::chrono::steady_clock::now();
        const auto sel = cat.select("z < 1.5 and class = 'QSO' and flag >= 8");
        const auto mags = cat.numbers(sel, "mag_r");
        const double querySeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("BENCH catalog select+numbers: %zu of %lld rows in %.3f s\n", sel.size(), static_cast<long long>(rows),
                    querySeconds);
        QVERIFY(!sel.empty());
        QCOMPARE(mags.size(), sel.size());
    }
};

QTEST_GUILESS_MAIN(BenchCatalog)
#include "tst_catalog_bench.moc"
