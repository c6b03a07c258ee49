// astroclip map: a UMAP or PCA map of one model's stored embeddings (core/maps/map_job.h),
// kept in the catalog per model so views reopen it; a current stored map is reused. --out
// writes the points with the objects' positions as CSV or ECSV.
#include "app/cli/cli_common.h"
#include "core/catalog/catalog.h"
#include "core/common/error.h"
#include "core/io/text_table.h"
#include "core/maps/map_job.h"

#include <cstdio>
#include <unordered_map>

namespace astroclip::cli {

namespace {

std::string number(double v, int digits) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
    return buffer;
}

// object_id, x, y[, z], ra, dec: float32 coordinates with the digits that round-trip them.
void writePoints(const std::string& path, Catalog& catalog, const MapPoints& points) {
    TextTable t;
    t.path = path;
    t.columns = {{"object_id", "int64", ""}, {"x", "float32", ""}, {"y", "float32", ""}};
    if (points.dims == 3) t.columns.push_back({"z", "float32", ""});
    t.columns.push_back({"ra", "float64", "deg"});
    t.columns.push_back({"dec", "float64", "deg"});
    std::unordered_map<int64_t, std::pair<double, double>> positions;
    for (const auto& p : catalog.objectPositions()) positions[p.id] = {p.ra, p.dec};
    t.rows.reserve(points.ids.size());
    for (size_t i = 0; i < points.ids.size(); ++i) {
        std::vector<std::string> row{std::to_string(points.ids[i])};
        for (int j = 0; j < points.dims; ++j) row.push_back(number(points.coords[i * size_t(points.dims) + size_t(j)], 9));
        const auto it = positions.find(points.ids[i]);
        row.push_back(it == positions.end() ? "" : number(it->second.first, 17));
        row.push_back(it == positions.end() ? "" : number(it->second.second, 17));
        t.rows.push_back(std::move(row));
    }
    writeTextTable(path, t);
}

nlohmann::json resultJson(const maps::MapJobResult& r, const std::string& out) {
    nlohmann::json j = {{"model", r.model.name},
                        {"model_id", r.model.id},
                        {"modality", r.set.key.modality},
                        {"space", r.set.key.space},
                        {"dim", r.set.dim},
                        {"method", r.map.method},
                        {"dims", r.map.dims},
                        {"params", nlohmann::json::parse(r.map.params)},
                        {"source", r.map.source},
                        {"map_id", r.map.id},
                        {"points", int64_t(r.points.ids.size())},
                        {"reused", r.reused},
                        {"stored", r.stored},
                        {"replaced", r.replaced}};
    if (!out.empty()) j["out"] = out;
    if (r.selected > 0) {
        j["selected"] = r.selected;
        j["without_vector"] = r.withoutVector;
    }
    if (!r.reused && r.map.method == "umap")
        j["umap"] = {{"knn", r.umap.knnMethod}, {"init", r.umap.initUsed}, {"epochs", r.umap.nEpochs},
                     {"a", r.umap.a},          {"b", r.umap.b},           {"edges", r.umap.edges},
                     {"graph_components", r.umap.graphComponents}};
    if (!r.reused && r.map.method == "pca") j["explained_variance_ratio"] = r.explainedVarianceRatio;
    return j;
}

const char* why(const std::string& replaced) {
    if (replaced == "stale") return " (replacing a stale map: the vectors changed since)";
    if (replaced == "objects") return " (replacing a map of other objects)";
    if (replaced == "params") return " (replacing a map made with other parameters)";
    if (replaced == "recompute") return " (recomputed)";
    return "";
}

} // namespace

Runner addMapCommand(CLI::App& app) {
    struct Options {
        maps::MapJobParams job;
        std::string catalog, space, out;
        bool json = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("map", "Map a model's stored embeddings to 2-D or 3-D (UMAP or PCA), kept in the catalog");
    cmd->add_option("--catalog", o->catalog, "Catalog holding the embeddings")->required();
    cmd->add_option("--model", o->job.model, "The model: its name in the catalog or its run folder")->required();
    cmd->add_option("--modality", o->job.modality, "image or spectrum")->required()->check(CLI::IsMember({"image", "spectrum"}));
    cmd->add_option("--space", o->space, "aligned or backbone (default: aligned for a clip model, else backbone)")
        ->check(CLI::IsMember({"aligned", "backbone"}));
    cmd->add_option("--method", o->job.method, "umap, or pca (fast, linear)")
        ->check(CLI::IsMember({"umap", "pca"}))
        ->capture_default_str();
    cmd->add_option("--dims", o->job.dims, "2 or 3")->check(CLI::IsMember({2, 3}))->capture_default_str();
    cmd->add_option("--neighbors", o->job.nNeighbors, "UMAP: neighbourhood size")->check(CLI::Range(2, 1000))->capture_default_str();
    cmd->add_option("--min-dist", o->job.minDist, "UMAP: how tightly points may pack")->check(CLI::Range(0.0, 10.0))->capture_default_str();
    cmd->add_option("--seed", o->job.seed, "UMAP: the random seed (the same seed gives the same map)")->capture_default_str();
    cmd->add_option("--where", o->job.where,
                    "Map only the objects matching this filter (that map is not stored: the stored map is the whole set's)");
    cmd->add_option("--threads", o->job.threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--recompute", o->job.recompute, "Remake the map even when the stored one is current");
    cmd->add_option("--out", o->out, "Also write the points (object_id, x, y[, z], ra, dec) to FILE.csv or FILE.ecsv");
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->add_flag("--quiet", o->quiet, "No progress bar");
    return [o]() -> int {
        if (!o->space.empty()) o->job.space = o->space;
        auto catalog = Catalog::open(o->catalog, /*create=*/false);
        const auto r = maps::makeMap(catalog, o->job, makeProgressBar(o->quiet || o->json));
        if (!o->out.empty()) writePoints(o->out, catalog, r.points);
        if (o->json) {
            printJson(resultJson(r, o->out));
            return 0;
        }
        std::printf("model       %s: %s %s vectors (%d-d)\n", r.model.name.c_str(), r.set.key.modality.c_str(),
                    r.set.key.space.c_str(), r.set.dim);
        std::printf("map         %d-D %s of %zu objects", r.map.dims, r.map.method.c_str(), r.points.ids.size());
        if (r.selected > 0)
            std::printf(" (%lld matched the filter, %lld of them without a vector)", (long long)r.selected,
                        (long long)r.withoutVector);
        std::printf("\n");
        if (r.reused) std::printf("stored      reused map %lld (current: same vectors and parameters)\n", (long long)r.map.id);
        else if (r.stored) std::printf("stored      as map %lld%s\n", (long long)r.map.id, why(r.replaced));
        else std::printf("stored      no: a map of a selection is not stored (the stored map is the whole set's)\n");
        if (!r.reused && r.map.method == "pca" && !r.explainedVarianceRatio.empty()) {
            std::printf("variance   ");
            for (const double v : r.explainedVarianceRatio) std::printf(" %.1f%%", 100 * v);
            std::printf(" of the total on the map's axes\n");
        }
        if (!o->out.empty()) std::printf("points      written to %s\n", o->out.c_str());
        return 0;
    };
}

} // namespace astroclip::cli
