// astroclip embed: every selected object through a trained run's encoders into the catalog
// (core/embed/embed_job.h), with a progress bar; resumable (a rerun skips what is stored).
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/embed/embed_job.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <thread>

namespace astroclip::cli {

namespace {

nlohmann::json resultJson(const embed::EmbedJobResult& result) {
    nlohmann::json sets = nlohmann::json::array();
    for (const auto& r : result.modalities) {
        nlohmann::json failures = nlohmann::json::array();
        for (const auto& f : r.failures) failures.push_back({{"id", f.id}, {"reason", f.reason}});
        sets.push_back({{"modality", modalityName(r.modality)},
                        {"space", runs::spaceName(r.space)},
                        {"dim", r.dim},
                        {"selected", r.selected},
                        {"already_embedded", r.alreadyEmbedded},
                        {"embedded", r.embedded},
                        {"without_data", r.withoutData},
                        {"replaced_stale", r.replacedStale},
                        {"failed", failures},
                        {"seconds", r.seconds}});
    }
    return {{"model", result.modelName}, {"model_id", result.modelId}, {"device", result.device}, {"sets", sets}};
}

} // namespace

Runner addEmbedCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, modality = "all", space, where, device = "auto";
        int64_t batch = 64;
        int threads = 0;
        bool recompute = false, json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("embed", kEmbedDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog whose objects are embedded")->required();
    cmd->add_option("--model", o->model, "A training run folder (or <run>/checkpoint-N)")->required();
    cmd->add_option("--modality", o->modality, "image, spectrum, both or all (every one the run holds)")
        ->check(CLI::IsMember({"image", "spectrum", "both", "all"}))
        ->capture_default_str();
    cmd->add_option("--space", o->space,
                    "aligned (a clip run's shared space, its default) or backbone (the encoder's own vector)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    cmd->add_option("--where", o->where, "Embed only the objects matching this filter, e.g. \"truth_z < 0.5\"");
    cmd->add_option("--batch", o->batch, "Objects per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--recompute", o->recompute, "Replace vectors already stored instead of skipping those objects");
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        at::set_num_threads(o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency())));
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        auto encoders = runs::openTrainedEncoders(o->model, o->device);
        embed::EmbedJobParams params;
        if (o->modality == "image" || o->modality == "both") params.modalities.push_back(Modality::Image);
        if (o->modality == "spectrum" || o->modality == "both") params.modalities.push_back(Modality::Spectrum);
        if (!o->space.empty()) params.space = runs::parseSpace(o->space);
        params.where = o->where;
        params.batchSize = o->batch;
        params.recompute = o->recompute;
        params.progress = makeProgressBar(o->quiet || o->json);
        const auto result = embed::embedCatalog(catalog, encoders, params);

        bool anyFailed = false;
        for (const auto& r : result.modalities) anyFailed = anyFailed || !r.failures.empty();
        if (o->json) {
            printJson(resultJson(result));
            return anyFailed ? kExitPartial : 0;
        }
        std::printf("model       %s (id %lld) on %s\n", result.modelName.c_str(), (long long)result.modelId,
                    result.device.c_str());
        for (const auto& r : result.modalities) {
            std::printf("%-11s %lld embedded, %lld already stored, %lld without %s, %lld failed  (%s, %lld-d, %.1f s)\n",
                        modalityName(r.modality), (long long)r.embedded, (long long)r.alreadyEmbedded,
                        (long long)r.withoutData, modalityName(r.modality), (long long)r.failures.size(),
                        runs::spaceName(r.space), (long long)r.dim, r.seconds);
            if (r.replacedStale)
                std::printf("            (vectors of an earlier state of the model were replaced)\n");
            for (size_t i = 0; i < r.failures.size() && i < 5; ++i)
                std::fprintf(stderr, "astroclip: object %lld: %s\n", (long long)r.failures[i].id,
                             r.failures[i].reason.c_str());
            if (r.failures.size() > 5)
                std::fprintf(stderr, "astroclip: ... and %zu more objects failed (see --json)\n", r.failures.size() - 5);
        }
        return anyFailed ? kExitPartial : 0;
    };
}

} // namespace astroclip::cli
