// Persistence and refusals of VectorIndex (core/index/vector_index.h): save/load round trips
// that answer bit-identically for every implementation, the sidecar's provenance for telling a
// stale index, damaged or foreign files refused with a FileError naming the file while both
// files stay byte-identical, no temporary files left behind, and the UsageErrors for bad input
// (table-driven), plus the factory recommendations.
#include "core/common/error.h"
#include "core/index/vector_index.h"
#include "index_test_data.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

using namespace astroclip;
using index_test::Clustered;

namespace {

constexpr int64_t kDim = 16;

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::unique_ptr<index::VectorIndex> built(const std::string& factory, const Clustered& data) {
    auto idx = index::makeIndex(factory, data.d);
    idx->train(data.vectors, data.n);
    idx->add(data.vectors, data.ids);
    return idx;
}

const index::IndexProvenance kModelA{"runs/clip-tiny:image", "sha256:aaaa"};

} // namespace

class TestIndexFiles : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    Clustered data_ = index_test::makeClustered(1200, 8, kDim, 8, 3);

    std::string path(const char* name) const { return dir_.filePath(name).toStdString(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTrip_data() {
        QTest::addColumn<QString>("factory");
        for (const char* f : {"Flat", "HNSW32", "IVF16,PQ4", "SQ8"}) QTest::newRow(f) << QString(f);
#ifdef ASTROCLIP_TEST_TORCH_INDEX
        QTest::newRow("torch:cpu") << QString("torch:cpu");
#endif
    }
    void roundTrip() {
        QFETCH(QString, factory);
        auto idx = built(factory.toStdString(), data_);
        if (idx->supportsRemove()) idx->remove(std::vector<int64_t>{index_test::idOf(5), index_test::idOf(6)});
        const index::IdSelection allowed(std::vector<int64_t>{index_test::idOf(1), index_test::idOf(7),
                                                              index_test::idOf(100), index_test::idOf(900)});
        const auto before = idx->search(data_.queries, data_.nq, 8);
        const auto beforeFiltered = idx->search(data_.queries, data_.nq, 3, &allowed);
        const std::string file = path("roundtrip.index");
        idx->save(file, kModelA);

        const auto info = index::readIndexInfo(file);
        QCOMPARE(info.factory, factory.toStdString());
        QCOMPARE(info.dim, kDim);
        QCOMPARE(info.count, idx->size());
        QVERIFY(info.isFor(kModelA));

        const auto loaded = index::loadIndex(file);
        QCOMPARE(loaded->description(), factory.toStdString());
        QCOMPARE(loaded->size(), idx->size());
        QCOMPARE(loaded->dim(), kDim);
        QCOMPARE(loaded->supportsRemove(), idx->supportsRemove());
        QVERIFY(!loaded->contains(index_test::idOf(5)) || !idx->supportsRemove());
        const auto after = loaded->search(data_.queries, data_.nq, 8);
        QCOMPARE(after.ids, before.ids);
        QCOMPARE(after.scores, before.scores);
        const auto afterFiltered = loaded->search(data_.queries, data_.nq, 3, &allowed);
        QCOMPARE(afterFiltered.ids, beforeFiltered.ids);
        // No temporary files left beside the pair.
        for (const auto& entry : std::filesystem::directory_iterator(dir_.path().toStdString()))
            QVERIFY2(entry.path().filename().string()[0] != '.', qPrintable(QString::fromStdString(entry.path())));
    }

    void staleIndexIsTold() {
        const std::string file = path("stale.index");
        built("Flat", data_)->save(file, kModelA);
        const auto info = index::readIndexInfo(file);
        QVERIFY(info.isFor(kModelA));
        QVERIFY(!info.isFor({kModelA.source, "sha256:bbbb"}));          // retrained model
        QVERIFY(!info.isFor({"runs/clip-tiny:spectrum", kModelA.fingerprint}));  // other modality
        // Saving again (the rebuild) replaces both files.
        auto rebuilt = index::makeIndex("Flat", kDim);
        rebuilt->add(std::span(data_.vectors).first(size_t(10 * kDim)), std::span(data_.ids).first(10));
        rebuilt->save(file, {kModelA.source, "sha256:bbbb"});
        QVERIFY(index::readIndexInfo(file).isFor({kModelA.source, "sha256:bbbb"}));
        QCOMPARE(index::loadIndex(file)->size(), int64_t(10));
    }

    void damagedFilesRefused_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("blamed");  // "index" or "sidecar"
        QTest::newRow("truncated") << "truncated" << "index";
        QTest::newRow("flipped byte") << "flipped byte" << "index";
        QTest::newRow("garbage") << "garbage" << "index";
        QTest::newRow("foreign sidecar") << "foreign sidecar" << "index";
        QTest::newRow("index missing") << "index missing" << "index";
        QTest::newRow("sidecar missing") << "sidecar missing" << "sidecar";
        QTest::newRow("sidecar not json") << "sidecar not json" << "sidecar";
        QTest::newRow("sidecar without count") << "sidecar without count" << "sidecar";
    }
    void damagedFilesRefused() {
        QFETCH(QString, damage);
        QFETCH(QString, blamed);
        const std::string file = path("damaged.index"), sidecar = index::sidecarPath(file);
        const std::string other = path("other.index");
        built("IVF16,Flat", data_)->save(file, kModelA);
        built("Flat", data_)->save(other, kModelA);
        std::string bytes = readBytes(file), side = readBytes(sidecar);
        if (damage == "truncated") bytes.resize(bytes.size() / 2);
        if (damage == "flipped byte") bytes[bytes.size() * 3 / 4] ^= 0x10;
        if (damage == "garbage") bytes = std::string(4096, 'x');
        if (damage == "foreign sidecar") side = readBytes(index::sidecarPath(other));
        if (damage == "sidecar not json") side = "{\"format\": \"astroclip-vector-index\", ";
        if (damage == "sidecar without count") {
            const auto at = side.find("\"count\"");
            side.replace(at, 7, "\"cuont\"");
        }
        writeBytes(file, bytes);
        writeBytes(sidecar, side);
        if (damage == "index missing") std::filesystem::remove(file);
        if (damage == "sidecar missing") std::filesystem::remove(sidecar);
        const std::string expectedPath = blamed == "index" ? file : sidecar;
        try {
            index::loadIndex(file);
            QFAIL("a damaged index was loaded");
        } catch (const FileError& e) {
            qInfo("%s: %s", qPrintable(damage), e.what());
            QCOMPARE(e.path(), expectedPath);
        }
        // A failed load changes nothing on disk.
        if (damage != "index missing") QCOMPARE(readBytes(file), bytes);
        if (damage != "sidecar missing") QCOMPARE(readBytes(sidecar), side);
    }

    void failedSaveChangesNothing() {
        const std::string file = path("missing-folder/x.index");
        try {
            built("Flat", data_)->save(file, kModelA);
            QFAIL("saved into a missing folder");
        } catch (const FileError& e) {
            QCOMPARE(e.path(), file);
        }
        QVERIFY(!std::filesystem::exists(path("missing-folder")));
    }

    void badInputRefused_data() {
        QTest::addColumn<std::function<void(const Clustered&)>>("call");
        QTest::addColumn<QString>("mentions");
        const auto one = [](const Clustered& d) { return std::span(d.vectors).first(size_t(d.d)); };
        using Call = std::function<void(const Clustered&)>;
        QTest::newRow("add wrong dimension") << Call([](const Clustered& d) {
            index::makeIndex("Flat", d.d + 1)->add(std::span(d.vectors).first(size_t(2 * d.d)), std::span(d.ids).first(2));
        }) << "dimension";
        QTest::newRow("query wrong dimension") << Call([](const Clustered& d) {
            auto idx = built("Flat", d);
            idx->search(std::span(d.queries).first(size_t(d.d - 1)), 1, 3);
        }) << "dimension";
        QTest::newRow("k zero") << Call([one](const Clustered& d) { built("Flat", d)->search(one(d), 1, 0); }) << "k ≥ 1";
        QTest::newRow("NaN added") << Call([](const Clustered& d) {
            auto v = std::vector<float>(d.vectors.begin(), d.vectors.begin() + 2 * d.d);
            v[size_t(d.d + 3)] = std::numeric_limits<float>::quiet_NaN();
            index::makeIndex("Flat", d.d)->add(v, std::vector<int64_t>{1, 2});
        }) << "NaN";
        QTest::newRow("NaN query") << Call([](const Clustered& d) {
            auto q = std::vector<float>(d.queries.begin(), d.queries.begin() + d.d);
            q[0] = std::numeric_limits<float>::infinity();
            built("Flat", d)->search(q, 1, 3);
        }) << "NaN";
        QTest::newRow("zero vector") << Call([](const Clustered& d) {
            index::makeIndex("Flat", d.d)->add(std::vector<float>(size_t(d.d), 0.f), std::vector<int64_t>{1});
        }) << "zero vector";
        QTest::newRow("duplicate in batch") << Call([](const Clustered& d) {
            index::makeIndex("Flat", d.d)->add(std::span(d.vectors).first(size_t(2 * d.d)), std::vector<int64_t>{4, 4});
        }) << "twice";
        QTest::newRow("duplicate of stored") << Call([one](const Clustered& d) {
            built("Flat", d)->add(one(d), std::span(d.ids).first(1));
        }) << "already in the index";
        QTest::newRow("negative id") << Call([one](const Clustered& d) {
            index::makeIndex("Flat", d.d)->add(one(d), std::vector<int64_t>{-1});
        }) << "negative";
        QTest::newRow("search untrained IVF") << Call([one](const Clustered& d) {
            index::makeIndex("IVF16,Flat", d.d)->search(one(d), 1, 3);
        }) << "not trained";
        QTest::newRow("add untrained IVF") << Call([one](const Clustered& d) {
            index::makeIndex("IVF16,Flat", d.d)->add(one(d), std::vector<int64_t>{1});
        }) << "trained";
        QTest::newRow("too few to train") << Call([](const Clustered& d) {
            index::makeIndex("IVF64,Flat", d.d)->train(std::span(d.vectors).first(size_t(10 * d.d)), 10);
        }) << "at least 64";
        QTest::newRow("unknown factory") << Call([](const Clustered& d) { index::makeIndex("Flatt", d.d); }) << "Flatt";
        QTest::newRow("IDMap factory") << Call([](const Clustered& d) { index::makeIndex("IDMap,Flat", d.d); }) << "IDMap";
        QTest::newRow("dimension zero") << Call([](const Clustered&) { index::makeIndex("Flat", 0); }) << "dimension";
        QTest::newRow("remove unknown id") << Call([](const Clustered& d) {
            built("Flat", d)->remove(std::vector<int64_t>{3});
        }) << "not in the index";
        QTest::newRow("unknown search parameter") << Call([](const Clustered& d) {
            index::makeIndex("HNSW32", d.d)->setSearchParameter("nprobe", 4);
        }) << "nprobe";
#ifdef ASTROCLIP_TEST_TORCH_INDEX
        QTest::newRow("torch unknown device") << Call([](const Clustered& d) { index::makeIndex("torch:tpu", d.d); })
                                              << "torch:cpu";
#else
        QTest::newRow("torch without LibTorch") << Call([](const Clustered& d) { index::makeIndex("torch", d.d); })
                                                << "ASTROCLIP_WITH_TORCH";
#endif
    }
    void badInputRefused() {
        QFETCH(std::function<void(const Clustered&)>, call);
        QFETCH(QString, mentions);
        try {
            call(data_);
            QFAIL("accepted");
        } catch (const UsageError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(mentions), e.what());
        }
    }

    void failedAddAddsNothing() {
        auto idx = built("Flat", data_);
        auto v = std::vector<float>(data_.vectors.begin(), data_.vectors.begin() + 3 * kDim);
        v[size_t(2 * kDim)] = std::numeric_limits<float>::quiet_NaN();  // the last row is bad
        QVERIFY_THROWS_EXCEPTION(UsageError, idx->add(v, std::vector<int64_t>{1, 2, 3}));
        QCOMPARE(idx->size(), data_.n);
        QVERIFY(!idx->contains(1));
    }

#ifdef ASTROCLIP_TEST_TORCH_INDEX
    void torchCudaNeedsCuda() {
        try {
            auto idx = index::makeIndex("torch:cuda", kDim);
            QSKIP("CUDA is available here: nothing to refuse");
        } catch (const UsageError& e) {
            QVERIFY2(QString(e.what()).contains("CUDA is not available"), e.what());
        }
    }
#endif

    void recommendedFactory_data() {
        QTest::addColumn<qlonglong>("n");
        QTest::addColumn<qlonglong>("dim");
        QTest::addColumn<QString>("factory");
        QTest::newRow("small") << 1000LL << 512LL << "Flat";
        QTest::newRow("49,999") << 49999LL << 512LL << "Flat";
        QTest::newRow("100k") << 100000LL << 512LL << "HNSW32";
        QTest::newRow("1M, 512-d") << 1000000LL << 512LL << "IVF4000,PQ64";
        QTest::newRow("1M, 100-d") << 1000000LL << 100LL << "IVF4000,PQ10";
        QTest::newRow("1M, 8-d") << 1000000LL << 8LL << "IVF4000,Flat";
        QTest::newRow("10M, 768-d") << 10000000LL << 768LL << "IVF12649,PQ96";
    }
    void recommendedFactory() {
        QFETCH(qlonglong, n);
        QFETCH(qlonglong, dim);
        QFETCH(QString, factory);
        QCOMPARE(QString::fromStdString(index::recommendedFactory(n, dim)), factory);
        // FAISS accepts what is recommended.
        QCOMPARE(index::makeIndex(factory.toStdString(), dim)->description(), factory.toStdString());
    }
};

QTEST_GUILESS_MAIN(TestIndexFiles)
#include "tst_index_files.moc"
