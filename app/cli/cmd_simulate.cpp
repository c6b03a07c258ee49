#include "app/cli/cli_common.h"
#include "core/common/error.h"
#include "core/ingest/ingest.h"
#include "plugins/readers/builtin.h"
#include "core/sim/simulator.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace astroclip::cli {

nlohmann::json summaryJson(const IngestSummary& s);
void printSummary(const IngestSummary& s);

namespace {
namespace fs = std::filesystem;

// The survey's own record of how it was made; a second run with the same parameters finds it
// and does not simulate again (the demo is cached after its first run).
nlohmann::json simulationStamp(const sim::SimParams& p) {
    return {{"n", p.n}, {"seed", p.seed}, {"size", p.size}, {"generator", "astroclip-sim 1"}};
}
bool stampMatches(const fs::path& file, const nlohmann::json& want) {
    std::ifstream in(file);
    if (!in) return false;
    try {
        const auto have = nlohmann::json::parse(in);
        return have.value("complete", false) && have["parameters"] == want;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}
} // namespace

Runner addSimulateCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("simulate",
                                   "Simulate a DESI + Legacy Surveys-like survey (g,r,z cutouts, spectra, truth) and ingest it");
    struct Opts {
        sim::SimParams params;
        std::string catalog;
        bool json = false, quiet = false, force = false, noIngest = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--out", o->params.outDir, "Folder for the survey files and catalog.sqlite")->required();
    cmd->add_option("--n", o->params.n, "Number of target galaxies")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--seed", o->params.seed, "Random seed (same seed, same survey)")->capture_default_str();
    cmd->add_option("--size", o->params.size, "Cutout size in pixels (0.262″/px)")->check(CLI::Range(16, 1024))->capture_default_str();
    cmd->add_option("--threads", o->params.threads, "Worker threads (0 = all cores)")->capture_default_str();
    cmd->add_option("--catalog", o->catalog, "Catalog to ingest into (default OUT/catalog.sqlite)");
    cmd->add_flag("--force", o->force, "Simulate again even if OUT already holds this survey");
    cmd->add_flag("--no-ingest", o->noIngest, "Only write the survey files (ingest later with `astroclip ingest`)");
    cmd->add_flag("--json", o->json, "Print the summary as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    return [o]() {
        const fs::path out = o->params.outDir;
        const fs::path stampFile = out / "simulation.json";
        const auto stamp = simulationStamp(o->params);
        const bool cached = !o->force && stampMatches(stampFile, stamp);
        auto progress = makeProgressBar(o->quiet || o->json);
        nlohmann::json result{{"out", out.string()}, {"cached", cached}, {"parameters", stamp}};
        if (!cached) {
            fs::create_directories(out);
            std::error_code ec;
            fs::remove(stampFile, ec);
            const auto s = sim::simulateSurvey(o->params, progress);
            result["simulated"] = {{"galaxies", s.n}, {"bgs", s.perSample[0]}, {"lrg", s.perSample[1]}, {"elg", s.perSample[2]},
                                   {"blends", s.blends}, {"tidal", s.tidal}, {"seconds", s.seconds}};
            std::ofstream(stampFile) << nlohmann::json{{"parameters", stamp}, {"complete", true}, {"summary", result["simulated"]}}.dump(2);
            if (!o->json)
                std::printf("simulate: %d galaxies (BGS %d, LRG %d, ELG %d; %d blends, %d tidal) in %.1f s -> %s\n", s.n,
                            s.perSample[0], s.perSample[1], s.perSample[2], s.blends, s.tidal, s.seconds, out.c_str());
        } else if (!o->json) {
            std::printf("simulate: %s already holds this survey (n=%d, seed=%llu, size=%d); use --force to redo\n",
                        out.c_str(), o->params.n, (unsigned long long)o->params.seed, o->params.size);
        }
        if (o->noIngest) {
            if (o->json) printJson(result);
            return 0;
        }
        const std::string catalogPath = o->catalog.empty() ? (out / "catalog.sqlite").string() : o->catalog;
        auto catalog = Catalog::open(catalogPath);
        auto readers = defaultReaderRegistry();
        IngestParams ip;
        const auto summary = ingestPaths(catalog, {out.string()}, readers, ip, progress);
        result["catalog"] = catalogPath;
        result["ingest"] = summaryJson(summary);
        if (o->json) printJson(result);
        else printSummary(summary);
        return summary.failed > 0 ? kExitPartial : 0;
    };
}

} // namespace astroclip::cli
