// astroclip eval: the AstroCLIP-style evaluation table of one model (core/analysis/eval.h),
// written to a folder as eval.md and eval.json with PNG figures (eval_plots.h).
#include "app/cli/cli_common.h"
#include "app/cli/eval_plots.h"
#include "core/analysis/eval.h"
#include "core/catalog/catalog.h"
#include "core/catalog/model_lookup.h"
#include "core/checkpoint/atomic_file.h"
#include "core/common/error.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace astroclip::cli {

namespace {

nlohmann::json reportJson(const analysis::EvalReport& r, const std::vector<std::string>& plots) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : r.rows) {
        nlohmann::json j = {{"modality", row.modality}, {"features", row.features}, {"target", row.target},
                            {"method", row.method},     {"metric", row.metric},     {"score", row.score},
                            {"reference", row.reference}, {"labelled", row.labelled}, {"evaluated", row.evaluated}};
        if (row.metric == "ap") j["std"] = row.spread;
        rows.push_back(j);
    }
    nlohmann::json retrieval = nlohmann::json::array();
    for (const auto& x : r.retrieval)
        retrieval.push_back({{"from", x.from}, {"to", x.to}, {"objects", x.ids.size()}, {"median_rank", x.medianRank},
                             {"top1", x.top1}, {"top10", x.top10}, {"ids", x.ids}, {"ranks", x.ranks}});
    nlohmann::json redshift = nlohmann::json::array();
    for (const auto& p : r.redshift)
        redshift.push_back({{"modality", p.params.embeddings.modality}, {"target", p.params.target}, {"r2", p.score},
                            {"ids", p.ids}, {"truth", p.truth}, {"predicted", p.predicted}});
    return {{"model", r.model}, {"space", r.space},   {"modalities", r.modalities}, {"rows", rows},
            {"retrieval", retrieval}, {"redshift_predictions", redshift}, {"notes", r.notes}, {"plots", plots}};
}

} // namespace

Runner addEvalCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, out, space, where, tidalColumn = "truth_tidal";
        int64_t k = 64;
        int tidalSeeds = 10, threads = 0, pca = 32;
        bool noBaselines = false, json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("eval", kEvalDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog holding the model's embeddings and the truth columns")->required();
    cmd->add_option("--model", o->model, "The model: its name in the catalog or its run folder")->required();
    cmd->add_option("--out", o->out, "Folder for eval.md, eval.json and the PNG figures (created)")->required();
    cmd->add_option("--space", o->space, "aligned or backbone (default: aligned for a clip model, else backbone)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    cmd->add_option("--where", o->where, "Evaluate on the objects matching this filter only");
    cmd->add_option("--k", o->k, "k-NN neighbours")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--pca", o->pca, "Components of the PCA baselines")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_flag("--no-baselines", o->noBaselines, "Leave out the raw-data and PCA baselines");
    cmd->add_option("--tidal-column", o->tidalColumn, "Column whose value 1 marks a tidal feature (\"\" = none)")
        ->capture_default_str();
    cmd->add_option("--tidal-seeds", o->tidalSeeds, "Draws of the labelled examples per k")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Also print eval.json on stdout");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        at::set_num_threads(o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency())));
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const ModelRecord model = findModel(catalog, o->model);
        createOutputFolder(o->out);

        analysis::EvalParams params;
        params.modelId = model.id;
        if (!o->space.empty()) params.space = o->space;
        params.where = o->where;
        params.k = o->k;
        params.pcaComponents = o->pca;
        params.baselines = !o->noBaselines;
        params.tidalColumn = o->tidalColumn;
        params.tidalSeeds = o->tidalSeeds;
        params.progress = makeProgressBar(o->quiet || o->json);
        const auto report = analysis::evaluateModel(catalog, params);

        const auto plots = writeEvalPlots(report, o->out);
        const std::string markdown = analysis::evalMarkdown(report);
        {
            AtomicFile md(o->out + "/eval.md");
            md.write(markdown);
            md.commit();
        }
        const auto json = reportJson(report, plots);
        writeJsonAtomic(o->out + "/eval.json", json);
        if (o->json)
            printJson(json);
        else
            std::printf("%s\nwritten: %s/eval.md, eval.json and %zu figures\n", markdown.c_str(), o->out.c_str(),
                        plots.size());
        return 0;
    };
}

} // namespace astroclip::cli
