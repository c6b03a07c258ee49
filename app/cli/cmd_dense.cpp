// astroclip dense: linear segmentation and depth heads on a run's frozen patch tokens, trained
// and scored on the simulator's truth maps (core/analysis/dense_heads.h); dense.json keeps the
// per-image central-footprint IoU that packaging/bench/dense_sep.py compares with SEP.
#include "app/cli/cli_common.h"
#include "core/analysis/dense_heads.h"
#include "core/catalog/catalog.h"
#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace astroclip::cli {

namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json resultJson(const analysis::DenseHeadResult& r, const std::string& model) {
    nlohmann::json classes = nlohmann::json::array();
    for (size_t c = 0; c < r.classNames.size(); ++c)
        classes.push_back({{"class", r.classNames[c]}, {"iou", number(r.classIoU[c])}, {"pixels", r.classPixels[c]}});
    nlohmann::json central = nlohmann::json::array();
    for (const double v : r.centralIoU) central.push_back(number(v));
    return {{"model", model},
            {"train_images", r.trainImages},
            {"test_images", r.testImages},
            {"without_truth", r.withoutTruth},
            {"crop_size", r.cropSize},
            {"patch_size", r.patchSize},
            {"grid", r.grid},
            {"segmentation", {{"classes", classes}, {"mean_iou", number(r.meanIoU)}, {"pixel_accuracy", r.pixelAccuracy},
                              {"majority_accuracy", r.majorityAccuracy}}},
            {"depth", {{"rmse", r.depthRmse}, {"rmse_predicting_mean", r.depthRmseMean}, {"pixels", r.depthPixels}}},
            {"central", {{"mean_iou", number(r.meanCentralIoU)}, {"ids", r.testIds}, {"iou", central}}}};
}

} // namespace

Runner addDenseCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, out, where, device = "auto";
        int epochs = 40, threads = 0;
        bool json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("dense", kDenseDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog of simulated cutouts (with SEGMAP and DEPTHMAP truth)")->required();
    cmd->add_option("--model", o->model, "A run with an image encoder (its patch tokens stay frozen)")->required();
    cmd->add_option("--out", o->out, "Folder for dense.json (created)")->required();
    cmd->add_option("--where", o->where, "Use only the objects matching this filter");
    cmd->add_option("--epochs", o->epochs, "Passes over the training images")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Print dense.json on stdout");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        at::set_num_threads(o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency())));
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        analysis::DenseHeadParams params;
        params.ids = catalog.select(o->where);
        if (params.ids.empty())
            throw UsageError(catalog.path() + ": no object matches " +
                             (o->where.empty() ? std::string("(the catalog is empty)") : "--where '" + o->where + "'"));
        params.epochs = o->epochs;
        params.progress = makeProgressBar(o->quiet || o->json);
        auto encoders = runs::openTrainedEncoders(o->model, o->device);
        const auto r = analysis::trainDenseHeads(catalog, encoders, params);

        createOutputFolder(o->out);
        const auto j = resultJson(r, o->model);
        writeJsonAtomic(o->out + "/dense.json", j);
        if (o->json) {
            printJson(j);
            return 0;
        }
        std::printf("dense heads on %lld training / %lld held-out images (%d px, %d×%d patches of %d px)\n",
                    (long long)r.trainImages, (long long)r.testImages, r.cropSize, r.grid, r.grid, r.patchSize);
        std::printf("segmentation  mean IoU %.3f, pixel accuracy %.3f (every pixel the majority class: %.3f)\n", r.meanIoU,
                    r.pixelAccuracy, r.majorityAccuracy);
        for (size_t c = 0; c < r.classNames.size(); ++c)
            std::printf("  %-10s IoU %.3f over %lld held-out pixels\n", r.classNames[c].c_str(), r.classIoU[c],
                        (long long)r.classPixels[c]);
        std::printf("depth         RMSE %.4f in redshift on %lld source pixels (predicting the mean: %.4f)\n", r.depthRmse,
                    (long long)r.depthPixels, r.depthRmseMean);
        std::printf("central       footprint IoU %.3f (mean over held-out images)\nwritten: %s/dense.json\n",
                    r.meanCentralIoU, o->out.c_str());
        return 0;
    };
}

} // namespace astroclip::cli
