// astroclip patches: DINOv2-style patch-feature PCA views of galaxies (core/embed/patch_views.h)
// written as PNG images: one per object (the galaxy above its patch colours) and a montage.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/embed/patch_views.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace astroclip::cli {

Runner addPatchesCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, out, where, device = "auto";
        std::vector<int64_t> objects;
        int64_t limit = 32;
        double threshold = 0.5;
        int threads = 0;
        bool json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("patches", kPatchesDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog holding the galaxies")->required();
    cmd->add_option("--model", o->model, "A run with an image encoder (image, clip or supervised image run)")->required();
    cmd->add_option("--out", o->out, "Folder for the PNG images (created)")->required();
    auto* byObject = cmd->add_option("--object", o->objects, "Objects to draw (repeatable)");
    cmd->add_option("--where", o->where, "Or: the objects matching this filter")->excludes(byObject);
    cmd->add_option("--limit", o->limit, "At most this many objects of --where (the first by id)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--threshold", o->threshold, "Foreground cut on the scaled first component")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Print what was written as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        at::set_num_threads(o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency())));
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        embed::PatchViewParams params;
        params.ids = o->objects;
        if (params.ids.empty()) {
            params.ids = catalog.select(o->where);
            if (params.ids.empty())
                throw UsageError(catalog.path() + ": no object matches " +
                                 (o->where.empty() ? std::string("(the catalog is empty)") : "--where '" + o->where + "'"));
            if (int64_t(params.ids.size()) > o->limit) params.ids.resize(size_t(o->limit));
        }
        for (const int64_t id : params.ids) catalog.object(id);  // an unknown id is refused by name
        params.pca.threshold = o->threshold;
        params.progress = makeProgressBar(o->quiet || o->json);
        auto encoders = runs::openTrainedEncoders(o->model, o->device);
        const auto views = embed::makePatchViews(catalog, encoders, params);

        createOutputFolder(o->out);
        nlohmann::json files = nlohmann::json::array();
        for (size_t k = 0; k < views.ids.size(); ++k) {
            RgbImage pair(views.galaxies[k].width, views.galaxies[k].height + views.features[k].height);
            std::copy(views.galaxies[k].rgb.begin(), views.galaxies[k].rgb.end(), pair.rgb.begin());
            std::copy(views.features[k].rgb.begin(), views.features[k].rgb.end(),
                      pair.rgb.begin() + long(views.galaxies[k].rgb.size()));
            const std::string path = o->out + "/patches-" + std::to_string(views.ids[k]) + ".png";
            writePng(path, pair);
            files.push_back(path);
        }
        const std::string montage = o->out + "/patches-montage.png";
        writePng(montage, embed::patchMontage(views));
        int64_t foreground = 0;
        for (const auto f : views.pca.foreground) foreground += f;
        const double share = double(foreground) / double(views.pca.foreground.size());
        if (o->json) {
            printJson({{"objects", views.ids}, {"skipped", views.skipped}, {"grid", views.pca.grid},
                       {"foreground_share", share}, {"first_component_share", views.pca.firstComponentShare},
                       {"colour_shares", views.pca.colourShares}, {"files", files}, {"montage", montage}});
            return 0;
        }
        std::printf("%zu galaxies, %lld × %lld patches each; foreground %.0f %% of patches (first component: %.0f %% of "
                    "the variance)\nwritten: %zu images and %s\n",
                    views.ids.size(), (long long)views.pca.grid, (long long)views.pca.grid, 100 * share,
                    100 * views.pca.firstComponentShare, files.size(), montage.c_str());
        for (const int64_t id : views.skipped)
            std::fprintf(stderr, "astroclip: object %lld has no readable g,r,z cutout; left out\n", (long long)id);
        return 0;
    };
}

} // namespace astroclip::cli
