// Training-step throughput of our LibTorch path, for packaging/bench.sh beside its PyTorch peer
// (packaging/bench/torch_train_step.py). One optimizer step = the stage's forward pass,
// backward and AdamW, driven by the real trainer (train::train), so the figure includes what a
// user's run pays: batch gathering from the snapshot, input normalisation, the trainer's
// finite-loss and gradient-norm checks. Steps are timed between consecutive progress
// callbacks; the median over the steps after the warm-up is reported, with the process's RSS
// high-water mark. Prints one JSON line.
//   vit:        SupervisedStage regression, linear head on the CLS token, g,r,z cutouts at the
//               preset's image size
//   specformer: SpectrumStage masked modelling on 7781-pixel spectra
//   image-dino: the full image stage (DINO + iBOT + KoLeo, student and EMA teacher, multi-crop
//               augmentation on the CPU) with the preset's geometry; `--batch` images per step
// --device cuda and --precision bf16 give the GPU figures (tools/gpu-check.sh); the peak
// memory is then the CUDA allocator's.
#include "core/data/wavegrid.h"
#include "core/stages/image_stage.h"
#include "core/stages/spectrum_stage.h"
#include "core/stages/supervised_stage.h"
#include "core/train/trainer.h"
#include "tests/bench/bench_stats.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

using namespace astroclip;

namespace {

// Objects with random content: the timing does not depend on the values.
std::shared_ptr<DatasetSnapshot> randomSnapshot(int64_t objects, int imageSide, int spectrumLength) {
    auto snap = std::make_shared<DatasetSnapshot>();
    snap->catalogPath = "in-memory benchmark data";
    snap->counts.selected = snap->counts.loaded = objects;
    snap->cropSize = imageSide;
    snap->spectrumLength = spectrumLength;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    auto& target = snap->columns["target"];
    for (int64_t i = 0; i < objects; ++i) {
        snap->ids.push_back(i + 1);
        target.push_back(unit(rng));
        if (imageSide > 0) {
            for (int64_t k = 0; k < 3 * int64_t(imageSide) * imageSide; ++k) {
                snap->images.push_back(0.1f * unit(rng));
                snap->imageMask.push_back(1);
            }
            snap->bandPresent.insert(snap->bandPresent.end(), {1, 1, 1});
        }
        for (int k = 0; k < spectrumLength; ++k) {
            snap->spectrumFlux.push_back(1.0f + unit(rng));
            snap->spectrumIvar.push_back(1.0f);
        }
    }
    return snap;
}

int64_t countParameters(train::Stage& stage) {
    int64_t n = 0;
    for (const auto& m : stage.modules())
        for (const auto& p : m.module->parameters()) n += p.numel();
    return n;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Times training steps of the ViT supervised and SpecFormer masked-modelling stages"};
    std::string model = "vit", preset = "tiny";
    int64_t batch = 32, steps = 10, warmup = 3, objects = 0;
    int threads = int(std::thread::hardware_concurrency());
    std::string device = "cpu", precision = "fp32";
    app.add_option("--model", model, "vit, specformer or image-dino")
        ->check(CLI::IsMember({"vit", "specformer", "image-dino"}));
    app.add_option("--device", device, "cpu, cuda or cuda:N");
    app.add_option("--precision", precision, "fp32, or bf16 (autocast; CUDA only)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    app.add_option("--preset", preset, "model preset (vit: tiny, small, base; specformer: tiny, full)");
    app.add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
    app.add_option("--steps", steps, "timed steps")->check(CLI::PositiveNumber);
    app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
    app.add_option("--threads", threads, "LibTorch CPU threads")->check(CLI::PositiveNumber);
    app.add_option("--objects", objects, "objects in memory (default 4 × batch)");
    CLI11_PARSE(app, argc, argv);
    if (objects <= 0) objects = 4 * batch;

    try {
        std::unique_ptr<train::Stage> stage;
        if (model == "image-dino") {
            auto config = stages::imageStageConfig(preset);
            config.batchSize = batch;
            const int64_t side = config.vit.imageSize + 8;  // cutouts a little larger than the global crop
            torch::manual_seed(1);
            const auto images = 0.1f * torch::rand({objects, 3, side, side});
            stage = std::make_unique<stages::ImageStage>(config, images);
        } else if (model == "vit") {
            const auto config = models::ViTConfig::preset(preset);
            auto snapshot = randomSnapshot(objects, int(config.imageSize), 0);
            stages::SupervisedStageOptions options;
            options.target = "target";
            options.batchSize = batch;
            options.heldOutFraction = 0.0;
            torch::manual_seed(1);
            stage = std::make_unique<stages::SupervisedStage>(snapshot, models::VisionTransformer(config), options);
        } else {
            const auto config = models::SpecFormerConfig::preset(preset);
            auto snapshot = randomSnapshot(objects, 0, int(DesiGrid::kSize));
            stages::SpectrumStageOptions options;
            options.batchSize = batch;
            options.heldOutFraction = 0.0;
            torch::manual_seed(1);
            stage = std::make_unique<stages::SpectrumStage>(snapshot, models::SpecFormer(config), options);
        }

        train::TrainParams params;
        params.steps = warmup + steps;
        params.warmupSteps = 0;  // the schedule does not change the cost of a step
        params.lr = 1e-4;
        params.weightDecay = 0.05;
        params.device = device;
        params.mixedPrecision = precision == "bf16";
        params.threads = threads;
        params.seed = 1;

        using Clock = std::chrono::steady_clock;
        std::vector<Clock::time_point> marks{Clock::now()};
        train::TrainProgress last;
        train::TrainHooks hooks;
        hooks.progress = [&](const train::TrainProgress& p) {
            marks.push_back(Clock::now());
            last = p;
            return true;
        };
        train::train(*stage, params, hooks);

        std::vector<double> seconds;
        for (size_t i = size_t(warmup) + 1; i < marks.size(); ++i)
            seconds.push_back(std::chrono::duration<double>(marks[i] - marks[i - 1]).count());
        const size_t n = seconds.size();
        const double median = bench::median(seconds);
        const nlohmann::json out = {{"impl", "libtorch"},
                                    {"model", model},
                                    {"preset", preset},
                                    {"batch", batch},
                                    {"threads", threads},
                                    {"params", countParameters(*stage)},
                                    {"steps", int64_t(n)},
                                    {"step_seconds_median", median},
                                    {"steps_per_second", 1.0 / median},
                                    {"samples_per_second", double(batch) / median},
                                    {"peak_rss_bytes", bench::peakRssBytes()},
                                    {"device", last.device},
                                    {"precision", precision},
                                    {"peak_memory_bytes", last.peakMemoryBytes},
                                    {"memory_kind", last.memoryKind},
                                    {"torch", TORCH_VERSION}};
        std::cout << out.dump() << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "astroclip-train-bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
