// astroclip label rank | suggest | evaluate: the few-shot head (core/discovery) over a model's
// stored embeddings. rank and suggest train it on a label set (one class against every other
// label); evaluate draws k positives and k negatives from a catalog truth column over seeds
// and reports average precision beside the prevalence.
#include "app/cli/cmd_label.h"

#include "core/catalog/model_lookup.h"
#include "core/common/error.h"
#include "core/discovery/catalog_candidates.h"

#include <chrono>
#include <cstdio>

namespace astroclip::cli::label {

namespace {

struct Options {
    std::string catalog, name, positive, model, modality, space, truthColumn;
    size_t top = 20, n = 10;
    std::vector<int> ks = {5, 10, 20};
    int seeds = 10;
    uint64_t seed = 0;
    double C = 1.0;
    bool json = false, quiet = false;
};

// The embeddings the head works on, checked to exist.
struct Embeddings {
    ModelRecord model;
    EmbeddingSet set;
};

Embeddings requireEmbeddings(Catalog& catalog, const Options& o) {
    Embeddings e{findModel(catalog, o.model), {}};
    e.set = requireEmbeddingSet(catalog, e.model, o.modality,
                                o.space.empty() ? std::nullopt : std::optional<std::string>(o.space));
    return e;
}

nlohmann::json headerJson(const Embeddings& e, const Options& o) {
    return {{"model", e.model.name}, {"modality", e.set.key.modality}, {"space", e.set.key.space},
            {"dim", e.set.dim}, {"positive", o.positive}};
}

// Trains on the set's labels; what rank and suggest share.
struct Trained {
    Embeddings embeddings;
    LabelSetRecord set;
    discovery::CandidateSet candidates;
    discovery::SetLabels labels;
    discovery::FewShotHead head;
    std::vector<discovery::ScoredObject> ranked;
    double seconds = 0;
};

Trained train(const Options& o) {
    auto catalog = openCatalog(o.catalog);
    const LabelSetRecord set = requireSet(catalog, o.name);
    Embeddings e = requireEmbeddings(catalog, o);
    auto candidates = discovery::loadCandidates(catalog, e.set.key);
    auto labels = discovery::labelsOf(catalog, set, o.positive, candidates);
    const auto start = std::chrono::steady_clock::now();
    discovery::LogisticParams params;
    params.C = o.C;
    auto head = discovery::trainHead(candidates, labels.labels, params);
    auto ranked = discovery::rank(candidates, head, labels.labels);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {std::move(e), set, std::move(candidates), std::move(labels), std::move(head), std::move(ranked), seconds};
}

nlohmann::json trainedJson(const Trained& t, const Options& o) {
    auto j = headerJson(t.embeddings, o);
    j["label_set"] = t.set.name;
    j["candidates"] = t.candidates.size();
    j["positives"] = t.labels.positives;
    j["negatives"] = t.labels.negatives;
    j["labelled_without_vector"] = t.labels.withoutVector;
    j["unlabelled"] = t.ranked.size();
    j["head"] = {{"method", "logistic"}, {"C", o.C}, {"iterations", t.head.fit.iterations},
                 {"converged", t.head.fit.converged}, {"seconds", t.seconds}};
    return j;
}

void printTrained(const Trained& t, const Options& o) {
    std::printf("label set '%s': %lld positive ('%s'), %lld negative", t.set.name.c_str(), (long long)t.labels.positives,
                o.positive.c_str(), (long long)t.labels.negatives);
    if (t.labels.withoutVector) std::printf(", %lld labelled without a vector (left out)", (long long)t.labels.withoutVector);
    std::printf("\nhead on %s %s %s embeddings (%d-d): %zu unlabelled objects scored in %.3f s\n",
                t.embeddings.model.name.c_str(), t.embeddings.set.key.modality.c_str(),
                t.embeddings.set.key.space.c_str(), t.embeddings.set.dim, t.ranked.size(), t.seconds);
}

void addEmbeddingOptions(CLI::App* s, Options& o) {
    s->add_option("--catalog", o.catalog, "Catalog holding the labels and the embeddings")->required();
    s->add_option("--model", o.model, "The model: its name in the catalog or its run folder")->required();
    s->add_option("--modality", o.modality, "image or spectrum")->required()->check(CLI::IsMember({"image", "spectrum"}));
    s->add_option("--space", o.space, "aligned or backbone (default: aligned for a clip model, else backbone)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    s->add_option("--positive", o.positive, "The class sought (a value set: the number)")->required();
    s->add_option("--C", o.C, "Inverse L2 regularisation of the logistic head (scikit-learn's C)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    s->add_flag("--json", o.json, "Print the result as JSON");
}

} // namespace

void addDiscoveryCommands(CLI::App& label, Runners& runners) {
    auto o = std::make_shared<Options>();

    auto* rankCmd = label.add_subcommand("rank", "Rank the unlabelled objects by a head trained on the set's labels");
    rankCmd->add_option("name", o->name, "The label set")->required();
    addEmbeddingOptions(rankCmd, *o);
    rankCmd->add_option("--top", o->top, "Objects to print (0 = all)")->capture_default_str();
    runners[rankCmd] = [o] {
        const Trained t = train(*o);
        const size_t shown = o->top > 0 ? std::min(o->top, t.ranked.size()) : t.ranked.size();
        if (o->json) {
            auto j = trainedJson(t, *o);
            nlohmann::json ranked = nlohmann::json::array();
            for (size_t i = 0; i < shown; ++i)
                ranked.push_back({{"rank", i + 1}, {"id", t.ranked[i].id}, {"probability", t.ranked[i].probability}});
            j["ranked"] = ranked;
            printJson(j);
            return 0;
        }
        printTrained(t, *o);
        std::printf("%6s  %10s  %s\n", "rank", "object", "probability");
        for (size_t i = 0; i < shown; ++i)
            std::printf("%6zu  %10lld  %.4f\n", i + 1, (long long)t.ranked[i].id, t.ranked[i].probability);
        return 0;
    };

    auto* suggestCmd = label.add_subcommand("suggest", "Suggest what to label next: uncertain and unlike each other");
    suggestCmd->add_option("name", o->name, "The label set")->required();
    addEmbeddingOptions(suggestCmd, *o);
    suggestCmd->add_option("--n", o->n, "Suggestions")->check(CLI::PositiveNumber)->capture_default_str();
    runners[suggestCmd] = [o] {
        const Trained t = train(*o);
        const auto suggestions = discovery::suggest(t.candidates, t.ranked, o->n);
        if (o->json) {
            auto j = trainedJson(t, *o);
            nlohmann::json out = nlohmann::json::array();
            for (const auto& s : suggestions)
                out.push_back({{"id", s.id}, {"probability", s.probability}, {"distance", s.distance}});
            j["suggestions"] = out;
            printJson(j);
            return 0;
        }
        printTrained(t, *o);
        std::printf("%10s  %11s  %s\n", "object", "probability", "cosine distance to earlier suggestions");
        for (const auto& s : suggestions) std::printf("%10lld  %11.4f  %.4f\n", (long long)s.id, s.probability, s.distance);
        return 0;
    };

    auto* evaluate = label.add_subcommand(
        "evaluate", "Few-shot average precision against a truth column: k positives + k negatives, over seeds");
    addEmbeddingOptions(evaluate, *o);
    evaluate->add_option("--truth-column", o->truthColumn, "Catalog column holding the truth, e.g. truth_tidal")
        ->required();
    evaluate->add_option("--k", o->ks, "Labelled positives (and negatives) per draw, e.g. 5,10,20")
        ->delimiter(',')
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    evaluate->add_option("--seeds", o->seeds, "Draws per k")->check(CLI::PositiveNumber)->capture_default_str();
    evaluate->add_option("--seed", o->seed, "Seeds the draws")->capture_default_str();
    evaluate->add_flag("-q,--quiet", o->quiet, "No progress bar");
    runners[evaluate] = [o] {
        auto catalog = openCatalog(o->catalog);
        const Embeddings e = requireEmbeddings(catalog, *o);
        const auto data = discovery::candidatesWithTruth(catalog, e.set.key, o->truthColumn, o->positive);
        discovery::FewShotEvalParams params;
        params.ks = o->ks;
        params.seeds = o->seeds;
        params.seed = o->seed;
        params.head.C = o->C;
        const auto result = discovery::evaluateFewShot(data.candidates, data.truth, params, makeProgressBar(o->quiet || o->json));
        if (o->json) {
            auto j = headerJson(e, *o);
            j["truth_column"] = o->truthColumn;
            j["candidates"] = result.candidates;
            j["positives"] = result.positives;
            j["without_value"] = data.withoutValue;
            j["seeds"] = o->seeds;
            j["seed"] = o->seed;
            j["C"] = o->C;
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& r : result.rows)
                rows.push_back({{"k", r.k}, {"mean_ap", r.mean}, {"std_ap", r.std}, {"prevalence", r.prevalence},
                                {"ranked", r.ranked}, {"ap", r.ap}});
            j["rows"] = rows;
            printJson(j);
            return 0;
        }
        std::printf("few-shot AP of %s %s %s embeddings (%d-d) for %s = %s: %lld candidates, %lld positive, %d draws per k\n\n",
                    e.model.name.c_str(), e.set.key.modality.c_str(), e.set.key.space.c_str(), e.set.dim,
                    o->truthColumn.c_str(), o->positive.c_str(), (long long)result.candidates,
                    (long long)result.positives, o->seeds);
        std::printf("| k | AP (mean ± std) | prevalence |\n|---|---|---|\n");
        for (const auto& r : result.rows) std::printf("| %d | %.3f ± %.3f | %.3f |\n", r.k, r.mean, r.std, r.prevalence);
        return 0;
    };
}

} // namespace astroclip::cli::label
