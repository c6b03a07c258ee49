// Inference and search on a GPU (label gpu): batched embedding through page-locked staging
// gives the CPU's vectors; the exact LibTorch index on the device returns what FAISS's exact
// index returns; running out of GPU memory in training, embedding and search is an
// OutOfMemoryError that says what to change, after which the process goes on. Skips without
// CUDA (gpu_device.h).
#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/embed/encode.h"
#include "core/index/vector_index.h"
#include "core/stages/supervised_stage.h"
#include "core/train/trainer.h"
#include "tests/gpu/gpu_device.h"

#include <QtTest/QtTest>

#include <torch/torch.h>

#if ASTROCLIP_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <cuda_runtime_api.h>
#endif

#include <cmath>
#include <random>

using namespace astroclip;

namespace {

models::ViTConfig vitConfig(int64_t side) {
    models::ViTConfig c;
    c.name = "gpu-test";
    c.imageSize = side;
    c.patchSize = 8;
    c.embedDim = 64;
    c.depth = 2;
    c.numHeads = 2;
    return c;
}

// n unit-norm random vectors of dimension d, row-major.
std::vector<float> unitVectors(int64_t n, int64_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    std::vector<float> x(size_t(n * d));
    for (int64_t i = 0; i < n; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) norm += std::pow(x[size_t(i * d + j)] = gauss(rng), 2);
        for (int64_t j = 0; j < d; ++j) x[size_t(i * d + j)] /= float(std::sqrt(norm));
    }
    return x;
}

#if ASTROCLIP_TORCH_CUDA
// Caps what LibTorch's CUDA allocator may take while alive, so running out of memory takes
// seconds and a fraction of the card instead of filling 140 GB.
class DeviceMemoryCap {
public:
    DeviceMemoryCap(c10::Device device, int64_t bytes) : index_(device.index()) {
        c10::cuda::CUDACachingAllocator::emptyCache();
        size_t freeBytes = 0, totalBytes = 0;
        C10_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
        c10::cuda::CUDACachingAllocator::setMemoryFraction(double(bytes) / double(totalBytes), index_);
    }
    ~DeviceMemoryCap() {
        c10::cuda::CUDACachingAllocator::setMemoryFraction(1.0, index_);
        c10::cuda::CUDACachingAllocator::emptyCache();
    }
    DeviceMemoryCap(const DeviceMemoryCap&) = delete;
    DeviceMemoryCap& operator=(const DeviceMemoryCap&) = delete;

private:
    c10::DeviceIndex index_;
};
#endif

} // namespace

class TestGpuInference : public QObject {
    Q_OBJECT

    c10::Device device_{c10::kCPU};

private Q_SLOTS:
    void initTestCase() {
        const auto device = gputest::deviceUnderTest();
        if (!device) QSKIP(gputest::kNoGpuMessage);
        device_ = *device;
    }

    void embeddingGivesTheCpuVectors_data() {
        QTest::addColumn<int64_t>("batch");
        QTest::newRow("one batch") << int64_t(64);
        QTest::newRow("batches of 7, a partial last one") << int64_t(7);
    }
    void embeddingGivesTheCpuVectors() {
        QFETCH(int64_t, batch);
        torch::manual_seed(2);
        models::VisionTransformer onCpu(vitConfig(32));
        torch::manual_seed(2);
        models::VisionTransformer onDevice(vitConfig(32));
        onDevice->to(device_);
        const auto images = 0.5 * torch::rand({50, 3, 32, 32});
        embed::EncodeOptions cpuOptions, deviceOptions;
        cpuOptions.batchSize = deviceOptions.batchSize = batch;
        deviceOptions.device = device_;
        const auto a = embed::encodeImages(*onCpu, images, {}, cpuOptions);
        const auto b = embed::encodeImages(*onDevice, images, {}, deviceOptions);
        QCOMPARE(b.device().type(), c10::kCPU);
        const double diff = (a - b).abs().max().item<double>();
        qInfo("images: max |cpu − %s| = %.3g", device_.str().c_str(), diff);
        QVERIFY(diff <= 1e-4);

        torch::manual_seed(3);
        models::SpecFormer specOnCpu(models::SpecFormerConfig::preset("tiny"));
        torch::manual_seed(3);
        models::SpecFormer specOnDevice(models::SpecFormerConfig::preset("tiny"));
        specOnDevice->to(device_);
        const auto flux = 1.0 + torch::rand({20, int64_t(DesiGrid::kSize)});
        const auto c = embed::encodeSpectra(*specOnCpu, flux, cpuOptions);
        const auto d = embed::encodeSpectra(*specOnDevice, flux, deviceOptions);
        const double specDiff = (c - d).abs().max().item<double>();
        qInfo("spectra: max |cpu − %s| = %.3g", device_.str().c_str(), specDiff);
        QVERIFY(specDiff <= 1e-4);
    }

    void exactSearchMatchesFlat() {
        const int64_t n = 20000, d = 64, nq = 40, k = 10;
        const auto base = unitVectors(n, d, 7), queries = unitVectors(nq, d, 8);
        std::vector<int64_t> ids(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = 1000 + 3 * i;
        const std::string factory = device_.is_cuda() ? "torch:cuda" : "torch:cpu";
        auto exact = index::makeIndex("Flat", d);
        auto onDevice = index::makeIndex(factory, d);
        exact->add(base, ids);
        onDevice->add(base, ids);

        // Small blocks, so the search merges many blocks' top-k on the device.
        onDevice->setSearchParameter("blockElements", 4096);
        const auto a = exact->search(queries, nq, k), b = onDevice->search(queries, nq, k);
        QCOMPARE(b.ids, a.ids);
        for (size_t i = 0; i < a.scores.size(); ++i) QVERIFY(std::abs(a.scores[i] - b.scores[i]) <= 1e-5f);

        // A selection and a removal are honoured on the device as well.
        std::vector<int64_t> allowedIds(ids.begin(), ids.begin() + 500);
        const index::IdSelection allowed(allowedIds);
        QCOMPARE(onDevice->search(queries, nq, k, &allowed).ids, exact->search(queries, nq, k, &allowed).ids);
        const std::vector<int64_t> gone{a.id(0, 0), a.id(1, 0)};
        QCOMPARE(onDevice->remove(gone), int64_t(2));
        QCOMPARE(exact->remove(gone), int64_t(2));
        QCOMPARE(onDevice->search(queries, nq, k).ids, exact->search(queries, nq, k).ids);
    }

    void runningOutOfMemoryIsReported() {
        if (!device_.is_cuda()) QSKIP("running out of GPU memory needs a GPU (dry run on the CPU)");
#if !ASTROCLIP_TORCH_CUDA
        QSKIP("this LibTorch was found without its CUDA libraries (TORCH_CUDA_LIBRARIES)");
#else
        const int64_t cap = int64_t(512) << 20;
        {
            // Training: a ViT-S/12 on 144-px images, 128 per batch, needs several GB.
            DeviceMemoryCap limit(device_, cap);
            auto snap = std::make_shared<DatasetSnapshot>();
            const int64_t n = 128, side = 144;
            snap->cropSize = int(side);
            snap->counts.selected = snap->counts.loaded = n;
            for (int64_t i = 0; i < n; ++i) {
                snap->ids.push_back(i + 1);
                snap->columns["z"].push_back(0.001 * double(i));
                snap->images.insert(snap->images.end(), size_t(3 * side * side), 0.1f);
                snap->imageMask.insert(snap->imageMask.end(), size_t(3 * side * side), 1);
                snap->bandPresent.insert(snap->bandPresent.end(), {1, 1, 1});
            }
            stages::SupervisedStageOptions options;
            options.target = "z";
            options.batchSize = n;
            options.heldOutFraction = 0.0;
            stages::SupervisedStage stage(snap, models::VisionTransformer(models::ViTConfig::preset("small")), options);
            train::TrainParams p;
            p.steps = 2;
            p.warmupSteps = 0;
            p.device = device_.str();
            p.mixedPrecision = false;
            try {
                train::train(stage, p);
                QFAIL("training within the cap did not run out of memory");
            } catch (const OutOfMemoryError& e) {
                const QString message = e.what();
                qInfo("%s", e.what());
                QVERIFY(message.contains("ran out of memory on cuda:0"));
                QVERIFY(message.contains("batch_size"));
                QVERIFY(message.contains("mixed_precision"));
            }
        }
        {
            // Embedding: 2,048 images of 144 px in one batch.
            DeviceMemoryCap limit(device_, cap);
            models::VisionTransformer vit(models::ViTConfig::preset("small"));
            vit->to(device_);
            embed::EncodeOptions options;
            options.batchSize = 2048;
            options.device = device_;
            const auto images = torch::rand({2048, 3, 144, 144});
            try {
                embed::encodeImages(*vit, images, {}, options);
                QFAIL("embedding within the cap did not run out of memory");
            } catch (const OutOfMemoryError& e) {
                qInfo("%s", e.what());
                QVERIFY(QString(e.what()).contains("--batch; 2048 now"));
            }
        }
        {
            // Search index: 2 M vectors of 128 floats (1 GiB) on the device.
            DeviceMemoryCap limit(device_, cap);
            auto index = index::makeIndex("torch:cuda", 128);
            const int64_t n = 2000000;
            std::vector<float> x(size_t(n * 128), 0.0f);
            std::vector<int64_t> ids(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                x[size_t(i * 128 + i % 128)] = 1.0f;
                ids[size_t(i)] = i;
            }
            try {
                index->add(x, ids);
                QFAIL("adding 1 GiB of vectors within the cap did not run out of memory");
            } catch (const OutOfMemoryError& e) {
                qInfo("%s", e.what());
                QVERIFY(QString(e.what()).contains("torch:cpu"));
            }
            QCOMPARE(index->size(), int64_t(0));  // all or nothing
        }
        // The process goes on: the same device embeds again once memory is back.
        models::VisionTransformer vit(vitConfig(32));
        vit->to(device_);
        embed::EncodeOptions options;
        options.device = device_;
        QCOMPARE(embed::encodeImages(*vit, torch::rand({8, 3, 32, 32}), {}, options).size(0), int64_t(8));
#endif
    }
};

QTEST_GUILESS_MAIN(TestGpuInference)
#include "tst_gpu_inference.moc"
