// The shared data order: batches hold distinct indices, every epoch is a permutation, the
// same seed gives the same order, and a state round trip (through JSON text) continues the
// sequence exactly, also across an epoch boundary.
#include "core/common/error.h"
#include "core/stages/batching.h"

#include <QtTest>

#include <algorithm>
#include <set>

using astroclip::stages::EpochSampler;

class TestEpochSampler : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void epochsArePermutations_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("batch");
        QTest::newRow("exact") << 12 << 4;
        QTest::newRow("remainder dropped") << 13 << 4;
        QTest::newRow("one batch") << 5 << 5;
        QTest::newRow("batch of one") << 3 << 1;
    }
    void epochsArePermutations() {
        QFETCH(int, n);
        QFETCH(int, batch);
        EpochSampler sampler(n, batch, 42);
        const int perEpoch = n / batch;
        QCOMPARE(sampler.batchesPerEpoch(), int64_t(perEpoch));
        std::vector<std::vector<int64_t>> firstEpochs;
        for (int epoch = 0; epoch < 4; ++epoch) {
            std::set<int64_t> seen;
            std::vector<int64_t> order;
            for (int b = 0; b < perEpoch; ++b) {
                const auto indices = sampler.next();
                QCOMPARE(int(indices.size()), batch);
                for (auto i : indices) {
                    QVERIFY(i >= 0 && i < n);
                    QVERIFY2(seen.insert(i).second, "an index repeats within an epoch");
                    order.push_back(i);
                }
            }
            QCOMPARE(sampler.epoch(), int64_t(epoch));
            firstEpochs.push_back(order);
        }
        // Epochs are reshuffled (for n > 2 the chance that four permutations agree is tiny).
        if (n > 4) QVERIFY(firstEpochs[0] != firstEpochs[1] || firstEpochs[1] != firstEpochs[2]);
    }

    void seedDecidesOrder() {
        EpochSampler a(50, 8, 7), b(50, 8, 7), c(50, 8, 8);
        bool differs = false;
        for (int i = 0; i < 20; ++i) {
            const auto x = a.next();
            QCOMPARE(x, b.next());
            differs = differs || x != c.next();
        }
        QVERIFY(differs);
    }

    void resumeContinuesExactly() {
        // Stop at every position of the first two epochs and beyond; a fresh sampler loaded
        // with the state (after a trip through JSON text) must yield what the original yields.
        for (int stopAt = 0; stopAt < 9; ++stopAt) {
            EpochSampler straight(10, 3, 1234);
            for (int i = 0; i < stopAt; ++i) straight.next();
            const std::string saved = straight.state().dump();
            EpochSampler resumed(10, 3, 1234);
            resumed.load(nlohmann::json::parse(saved));
            for (int i = 0; i < 7; ++i) QCOMPARE(resumed.next(), straight.next());
        }
    }

    void rejectsMismatchedState() {
        EpochSampler a(10, 3, 1);
        a.next();
        EpochSampler otherData(11, 3, 1), otherSeed(10, 3, 2);
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, otherData.load(a.state()));
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, otherSeed.load(a.state()));
        auto broken = a.state();
        broken.erase("epoch");
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, a.load(broken));
    }

    void rejectsBadSizes() {
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, EpochSampler(0, 1, 0));
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, EpochSampler(4, 5, 0));
        QVERIFY_THROWS_EXCEPTION(astroclip::UsageError, EpochSampler(4, 0, 0));
    }
};

QTEST_GUILESS_MAIN(TestEpochSampler)
#include "tst_epoch_sampler.moc"
