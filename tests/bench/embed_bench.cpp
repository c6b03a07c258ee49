// Embedding throughput of our inference path (core/embed/encode.h, what `astroclip embed` runs
// on each chunk it reads), for packaging/bench/embedding.sh beside its PyTorch peer
// (packaging/bench/torch_embed.py). One pass = every object in memory encoded in batches:
// input normalisation (images) or tokenisation (spectra), the backbone in eval mode without
// gradients, the vectors gathered on the CPU. The median pass after the warm-up is reported as
// objects/s, with the process's RSS high-water mark. Prints one JSON line.
//   vit:        image backbone, final-norm CLS token, g,r,z cutouts at the preset's image size
//   specformer: spectrum backbone, mean final-norm token of 7781-pixel spectra
// Catalog reads and writes are left out on purpose: the peer has no catalog, and
// `astroclip embed` reports its end-to-end rate itself.
#include "core/data/wavegrid.h"
#include "core/embed/encode.h"
#include "tests/bench/bench_stats.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <thread>

using namespace astroclip;

namespace {

template <typename Module>
int64_t countParameters(const Module& module) {
    int64_t n = 0;
    for (const auto& p : module->parameters()) n += p.numel();
    return n;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Times batched embedding with the ViT and SpecFormer backbones"};
    std::string model = "vit", preset = "tiny";
    int64_t batch = 64, objects = 512, passes = 3, warmup = 1;
    int threads = int(std::thread::hardware_concurrency());
    app.add_option("--model", model, "vit or specformer")->check(CLI::IsMember({"vit", "specformer"}));
    app.add_option("--preset", preset, "model preset (vit: tiny, small, base; specformer: tiny, full)");
    app.add_option("--batch", batch, "objects per forward pass")->check(CLI::PositiveNumber);
    app.add_option("--objects", objects, "objects encoded per pass")->check(CLI::PositiveNumber);
    app.add_option("--passes", passes, "timed passes")->check(CLI::PositiveNumber);
    app.add_option("--warmup", warmup, "untimed passes first")->check(CLI::NonNegativeNumber);
    app.add_option("--threads", threads, "LibTorch CPU threads")->check(CLI::PositiveNumber);
    std::string device = "cpu";
    app.add_option("--device", device, "cpu, cuda or cuda:N (inputs stay on the CPU, as `astroclip embed` reads them)");
    CLI11_PARSE(app, argc, argv);

    try {
        torch::set_num_threads(threads);
        torch::manual_seed(1);
        embed::EncodeOptions options;
        options.batchSize = batch;
        options.device = c10::Device(device);
        std::function<at::Tensor()> pass;
        int64_t params = 0;
        models::VisionTransformer vit{nullptr};
        models::SpecFormer specformer{nullptr};
        at::Tensor input;
        if (model == "vit") {
            const auto config = models::ViTConfig::preset(preset);
            vit = models::VisionTransformer(config);
            vit->to(options.device);
            params = countParameters(vit);
            input = 0.1 * torch::rand({objects, 3, config.imageSize, config.imageSize});
            pass = [&] { return embed::encodeImages(*vit, input, {}, options); };
        } else {
            specformer = models::SpecFormer(models::SpecFormerConfig::preset(preset));
            specformer->to(options.device);
            params = countParameters(specformer);
            input = 1.0 + torch::rand({objects, int64_t(DesiGrid::kSize)});
            pass = [&] { return embed::encodeSpectra(*specformer, input, options); };
        }

        using Clock = std::chrono::steady_clock;
        std::vector<double> seconds;
        int64_t width = 0;
        for (int64_t i = 0; i < warmup + passes; ++i) {
            const auto start = Clock::now();
            width = pass().size(1);
            if (i >= warmup) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
        }
        const size_t n = seconds.size();
        const double median = bench::median(seconds);
        const nlohmann::json out = {{"impl", "libtorch"},
                                    {"model", model},
                                    {"preset", preset},
                                    {"batch", batch},
                                    {"objects", objects},
                                    {"threads", threads},
                                    {"params", params},
                                    {"width", width},
                                    {"passes", int64_t(n)},
                                    {"pass_seconds_median", median},
                                    {"objects_per_second", double(objects) / median},
                                    {"peak_rss_bytes", bench::peakRssBytes()},
                                    {"device", options.device.str()},
                                    {"torch", TORCH_VERSION}};
        std::cout << out.dump() << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "astroclip-embed-bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
