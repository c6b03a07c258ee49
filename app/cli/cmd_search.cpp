// astroclip search: the nearest neighbours of objects (by catalog id) or of the objects of a
// FITS file (embedded on the fly) among the catalog's stored embeddings, same-modal or
// cross-modal, optionally within a --where selection (core/search/search.h). The index over
// the searched vectors is kept beside the catalog and rebuilt when its vectors change.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/catalog/model_lookup.h"
#include "core/common/error.h"
#include "core/common/log.h"
#include "core/embed/embed_file.h"
#include "core/embed/embed_job.h"
#include "core/search/search.h"
#include "plugins/readers/builtin.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace astroclip::cli {

namespace {

std::vector<std::string> splitColumns(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream ss(list);
    for (std::string c; std::getline(ss, c, ',');)
        if (!c.empty()) out.push_back(c);
    return out;
}

// Refuses an unknown --columns name before any work, listing what there is.
void requireColumns(Catalog& catalog, const std::vector<std::string>& wanted) {
    const auto known = catalog.columns();
    for (const auto& c : wanted) {
        if (std::any_of(known.begin(), known.end(), [&](const ColumnInfo& k) { return k.name == c; })) continue;
        std::string names;
        for (const auto& k : known) names += (names.empty() ? "" : ", ") + k.name;
        throw UsageError(catalog.path() + ": no column '" + c + "' (columns: " + names + ")");
    }
}

// The query vectors of a file, embedded by the checkpoint that made the stored vectors (an
// embedding set's source is "<checkpoint> step <N>"), so queries and catalog share one model state.
search::SearchResult searchFile(Catalog& catalog, const ModelRecord& model, const search::SearchParams& params,
                                const std::string& file, const std::string& device, const ProgressFn& progress) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) throw FileError(file, "no such file");
    const auto set = catalog.embeddingSet(params.to);
    assert(set);  // searchKeys checked it
    const auto stepAt = set->source.rfind(" step ");
    if (stepAt == std::string::npos)
        throw UsageError(catalog.path() + ": the " + params.to.modality + " vectors of model '" + model.name +
                         "' were not made by a checkpoint (" + set->source + "), so a file cannot be embedded like them");
    const std::string checkpoint = set->source.substr(0, stepAt);
    auto encoders = runs::openTrainedEncoders(checkpoint, device);
    if (embed::embeddingSource(encoders) != set->source)
        throw UsageError(checkpoint + ": no longer the model state that made the stored " + params.to.modality +
                         " vectors (" + set->source + "); re-embed the catalog (astroclip embed) first");
    const auto modality = *parseModality(params.from.modality);
    const auto space = *runs::parseSpace(params.from.space);
    const auto readers = defaultReaderRegistry();
    const auto q = embed::embedFile(encoders, file, readers, modality, space);
    for (const auto& w : q.warnings) logWarning(file + ": " + w);
    return search::searchByVectors(catalog, params, q.labels, q.vectors, q.dim, progress);
}

nlohmann::json resultJson(Catalog& catalog, const ModelRecord& model, const search::SearchParams& params,
                          const search::SearchResult& r, const std::vector<std::string>& columns) {
    nlohmann::json queries = nlohmann::json::array();
    for (const auto& q : r.queries) {
        nlohmann::json hits = nlohmann::json::array();
        for (size_t i = 0; i < q.hits.size(); ++i) {
            const auto& h = q.hits[i];
            nlohmann::json hit = {{"rank", i + 1}, {"id", h.id}, {"score", h.score}};
            if (const auto pos = catalog.objectPosition(h.id)) hit["ra"] = pos->first, hit["dec"] = pos->second;
            for (const auto& c : columns) hit[c] = valueJson(catalog.value(h.id, c));
            hits.push_back(hit);
        }
        nlohmann::json jq = {{"query", q.query}, {"hits", hits}};
        if (q.objectId) jq["object_id"] = *q.objectId;
        queries.push_back(jq);
    }
    return {{"model", model.name},
            {"from", params.from.modality},
            {"to", params.to.modality},
            {"space", params.from.space},
            {"k", params.k},
            {"where", params.where},
            {"index", {{"factory", r.indexFactory}, {"path", r.indexPath}, {"vectors", r.indexed},
                       {"built", r.indexBuilt}, {"reason", r.indexReason}}},
            {"allowed", r.allowed},
            {"queries", queries}};
}

void printResult(Catalog& catalog, const ModelRecord& model, const search::SearchParams& params,
                 const search::SearchResult& r, const std::vector<std::string>& columns) {
    std::printf("model %s, %s → %s (%s space), %s index of %lld vectors%s\n", model.name.c_str(),
                params.from.modality.c_str(), params.to.modality.c_str(), params.from.space.c_str(),
                r.indexFactory.c_str(), (long long)r.indexed,
                r.indexBuilt ? (" (built: " + r.indexReason + ")").c_str() : "");
    if (r.allowed >= 0) std::printf("within %lld objects matching --where '%s'\n", (long long)r.allowed, params.where.c_str());
    for (const auto& q : r.queries) {
        std::printf("\nquery: %s\n  %4s  %10s  %8s  %11s  %11s", q.query.c_str(), "rank", "id", "score", "ra", "dec");
        for (const auto& c : columns) std::printf("  %14s", c.c_str());
        std::printf("\n");
        for (size_t i = 0; i < q.hits.size(); ++i) {
            const auto& h = q.hits[i];
            const auto pos = catalog.objectPosition(h.id);
            // In a cross-modal search the query object's own partner is the answer to look for.
            const bool partner = q.objectId && *q.objectId == h.id;
            std::printf("  %4zu  %10lld  %8.4f  %11.6f  %11.6f", i + 1, (long long)h.id, h.score, pos ? pos->first : 0.0,
                        pos ? pos->second : 0.0);
            for (const auto& c : columns) std::printf("  %14s", valueText(catalog.value(h.id, c)).c_str());
            std::printf("%s\n", partner ? "  (the query object)" : "");
        }
        if (q.hits.empty()) std::printf("  (no neighbour within the selection)\n");
    }
}

} // namespace

Runner addSearchCommand(CLI::App& app) {
    struct Options {
        std::string catalog, model, file, from, to, space, where, index = "Flat", columns, device = "auto";
        std::vector<int64_t> objects;
        std::vector<std::string> searchParams;
        int64_t k = 16;
        int threads = 0;
        bool rebuild = false, json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("search", kSearchDescription);
    cmd->add_option("--catalog", o->catalog, "Catalog holding the embeddings")->required();
    auto* byObject = cmd->add_option("--object", o->objects, "Query by catalog object id (repeatable)");
    auto* byFile = cmd->add_option("--file", o->file, "Query by the objects of a file (FITS ...), embedded on the fly");
    byObject->excludes(byFile);
    byFile->excludes(byObject);
    cmd->add_option("--from", o->from, "Modality of the query: image or spectrum")
        ->required()->check(CLI::IsMember({"image", "spectrum"}));
    cmd->add_option("--to", o->to, "Modality searched: image or spectrum (default: as --from)")
        ->check(CLI::IsMember({"image", "spectrum"}));
    cmd->add_option("--model", o->model, "Model (name or run folder); default: the one model with these embeddings");
    cmd->add_option("--space", o->space, "aligned or backbone (cross-modal search is always aligned)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    cmd->add_option("--k", o->k, "Neighbours per query")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--where", o->where, "Return only objects matching this filter, e.g. \"truth_z between 0.1 and 0.2\"");
    cmd->add_option("--index", o->index,
                    "Index: Flat (exact), HNSW32, IVF<n>,PQ<m> (any FAISS factory string), torch, torch:cuda (exact)")
        ->capture_default_str();
    cmd->add_option("--search-param", o->searchParams,
                    "Search setting NAME=VALUE (repeatable): nprobe=32 for IVF indices, efSearch=64 for HNSW");
    cmd->add_flag("--rebuild-index", o->rebuild, "Rebuild the stored index even if it is current");
    cmd->add_option("--columns", o->columns, "Comma-separated catalog columns to show for each neighbour");
    cmd->add_option("--device", o->device, "For --file: auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        if (o->objects.empty() && o->file.empty()) throw UsageError("give the query: --object ID or --file FILE");
        const int threads = o->threads > 0 ? o->threads : int(std::max(1u, std::thread::hardware_concurrency()));
        at::set_num_threads(threads);
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const std::string to = o->to.empty() ? o->from : o->to;
        const std::optional<std::string> space = o->space.empty() ? std::nullopt : std::optional(o->space);
        const ModelRecord model = o->model.empty() ? search::chooseSearchModel(catalog, o->from, to, space)
                                                   : findModel(catalog, o->model);
        search::SearchParams params;
        std::tie(params.from, params.to) = search::searchKeys(catalog, model, o->from, to, space);
        params.k = o->k;
        params.where = o->where;
        params.index.factory = o->index;
        params.index.threads = threads;
        params.index.rebuild = o->rebuild;
        for (const auto& p : o->searchParams) {
            const auto eq = p.find('=');
            char* end = nullptr;
            const double value = eq == std::string::npos ? 0 : std::strtod(p.c_str() + eq + 1, &end);
            if (eq == std::string::npos || eq == 0 || !end || *end != '\0' || end == p.c_str() + eq + 1)
                throw UsageError("--search-param '" + p + "': expected NAME=NUMBER, e.g. nprobe=32");
            params.index.searchParameters.emplace_back(p.substr(0, eq), value);
        }
        const auto columns = splitColumns(o->columns);
        requireColumns(catalog, columns);
        const auto progress = makeProgressBar(o->quiet || o->json);
        const auto r = o->file.empty() ? search::searchByObjects(catalog, params, o->objects, progress)
                                       : searchFile(catalog, model, params, o->file, o->device, progress);
        if (o->json)
            printJson(resultJson(catalog, model, params, r, columns));
        else
            printResult(catalog, model, params, r, columns);
        return 0;
    };
}

} // namespace astroclip::cli
