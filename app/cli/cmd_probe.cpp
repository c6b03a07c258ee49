// astroclip probe: how well one model's stored embeddings predict a catalog column on held-out
// objects (core/analysis/probe.h): zero-shot k-NN, the ridge linear probe or the MLP few-shot
// head, with every label or a few (--labels N).
#include "app/cli/cli_common.h"
#include "core/analysis/probe.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/catalog/model_lookup.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <thread>

namespace astroclip::cli {

namespace {

nlohmann::json resultJson(const analysis::ProbeResult& r, const std::string& model) {
    nlohmann::json j = {{"model", model},
                        {"modality", r.params.embeddings.modality},
                        {"space", r.params.embeddings.space},
                        {"target", r.params.target},
                        {"task", analysis::probeTaskName(r.params.task)},
                        {"method", analysis::probeMethodName(r.params.method)},
                        {"dim", r.dim},
                        {"candidates", r.candidates},
                        {"without_value", r.withoutValue},
                        {"labelled", r.labelled},
                        {"evaluated", r.evaluated},
                        {"metric", r.metric},
                        {"score", r.score},
                        {"baseline", r.baseline},
                        {"ids", r.ids},
                        {"truth", r.truth},
                        {"predicted", r.predicted}};
    if (r.params.method == analysis::ProbeMethod::Ridge) j["alpha"] = r.ridgeAlpha;
    if (r.params.method == analysis::ProbeMethod::Knn) j["k"] = r.neighbours;
    if (!r.classes.empty()) j["classes"] = r.classes;
    return j;
}

} // namespace

Runner addProbeCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, modality, space, target, method = "knn", task = "regression", where;
        int64_t labels = 0, k = 64;
        uint64_t seed = 0;
        double heldOut = 0.2;
        int threads = 0;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("probe", kProbeDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog holding the embeddings and the target column")->required();
    cmd->add_option("--model", o->model, "The model: its name in the catalog or its run folder")->required();
    cmd->add_option("--modality", o->modality, "image or spectrum")->required()->check(CLI::IsMember({"image", "spectrum"}));
    cmd->add_option("--space", o->space, "aligned or backbone (default: aligned for a clip model, else backbone)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    cmd->add_option("--target", o->target, "Catalog column to predict, e.g. truth_z, or log10(COLUMN) for a quantity spanning decades")->required();
    cmd->add_option("--method", o->method, "knn (zero-shot), ridge (linear probe) or mlp (few-shot head)")
        ->check(CLI::IsMember({"knn", "ridge", "mlp"}))
        ->capture_default_str();
    cmd->add_option("--task", o->task, "regression or classification")
        ->check(CLI::IsMember({"regression", "classification"}))
        ->capture_default_str();
    cmd->add_option("--labels", o->labels, "Label only N objects of the training side (few-shot); 0 = all")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--k", o->k, "Neighbours of the k-NN probe")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--held-out", o->heldOut, "Fraction of objects evaluated (hashed on id)")
        ->check(CLI::Range(0.01, 0.99))
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "Draws the labels and seeds the MLP");
    cmd->add_option("--where", o->where, "Probe only the objects matching this filter");
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Print the result as JSON (with every prediction)");
    return [o]() -> int {
        at::set_num_threads(o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency())));
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const ModelRecord model = findModel(catalog, o->model);
        analysis::ProbeParams params;
        params.embeddings = {model.id, o->modality,
                             o->space.empty() ? defaultEmbeddingSpace(model) : o->space};
        params.target = o->target;
        params.task = o->task == "classification" ? analysis::ProbeTask::Classification : analysis::ProbeTask::Regression;
        params.method = o->method == "ridge" ? analysis::ProbeMethod::Ridge
                        : o->method == "mlp" ? analysis::ProbeMethod::Mlp
                                             : analysis::ProbeMethod::Knn;
        params.where = o->where;
        params.heldOutFraction = o->heldOut;
        params.labels = o->labels;
        params.seed = o->seed;
        params.k = o->k;
        const auto r = analysis::runProbe(catalog, params);
        if (o->json) {
            printJson(resultJson(r, model.name));
            return 0;
        }
        std::printf("model       %s: %s %s vectors (%lld-d)\n", model.name.c_str(), params.embeddings.modality.c_str(),
                    params.embeddings.space.c_str(), (long long)r.dim);
        std::printf("probe       %s %s of %s", analysis::probeMethodName(params.method),
                    analysis::probeTaskName(params.task), params.target.c_str());
        if (params.method == analysis::ProbeMethod::Knn) std::printf(" (k = %lld, distance-weighted)", (long long)r.neighbours);
        if (params.method == analysis::ProbeMethod::Ridge) std::printf(" (alpha %g by leave-one-out)", r.ridgeAlpha);
        std::printf("\nobjects     %lld labelled, %lld held out (%lld with a vector, %lld without a value)\n",
                    (long long)r.labelled, (long long)r.evaluated, (long long)r.candidates, (long long)r.withoutValue);
        std::printf("%-11s %.4f  (%s: %.4f)\n", r.metric == "r2" ? "R²" : "accuracy", r.score,
                    r.metric == "r2" ? "predicting the labelled mean" : "the majority class", r.baseline);
        return 0;
    };
}

} // namespace astroclip::cli
