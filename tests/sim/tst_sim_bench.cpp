// Benchmark (label bench, not in CI): simulated galaxies per second and per core (threads = 1)
// at cutout sizes 64 and 152, everything written. Prints a table; asserts only that it ran.
#include "core/sim/simulator.h"

#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <cstdio>
#include <filesystem>

using namespace astroclip::sim;

class TestSimBench : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void galaxiesPerSecond() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        // Warm the shared tables (templates, band-flux table, sky) outside the timing.
        SimParams warm;
        warm.outDir = (std::filesystem::path(tmp.path().toStdString()) / "warm").string();
        warm.n = 2;
        warm.size = 64;
        warm.threads = 1;
        simulateSurvey(warm);
        std::printf("\n%-8s %-8s %-6s %-10s %-12s\n", "size", "threads", "n", "seconds", "galaxies/s");
        for (int size : {64, 152}) {
            SimParams p;
            p.outDir = (std::filesystem::path(tmp.path().toStdString()) / ("s" + std::to_string(size))).string();
            p.n = 60;
            p.size = size;
            p.threads = 1;
            const auto t0 = std::chrono::steady_clock::now();
            const SimSummary s = simulateSurvey(p);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            QCOMPARE(s.n, p.n);
            std::printf("%-8d %-8d %-6d %-10.2f %-12.2f\n", size, p.threads, p.n, sec, p.n / sec);
        }
    }
};

QTEST_GUILESS_MAIN(TestSimBench)
#include "tst_sim_bench.moc"
