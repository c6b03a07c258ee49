#include "app/cli/cli_common.h"
#include "core/ingest/ingest.h"
#include "plugins/readers/builtin.h"

#include <cstdio>
#include <sstream>

namespace astroclip::cli {

nlohmann::json summaryJson(const IngestSummary& s) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : s.files)
        files.push_back({{"path", f.path}, {"status", statusName(f.status)}, {"reader", f.reader},
                         {"message", f.message}, {"objects_created", f.objectsCreated}, {"objects_linked", f.objectsLinked}});
    return {{"ok", s.ok}, {"skipped", s.skipped}, {"failed", s.failed}, {"objects_created", s.objectsCreated},
            {"objects_linked", s.objectsLinked}, {"files", files}};
}

void printSummary(const IngestSummary& s) {
    for (const auto& f : s.files)
        if (f.status == FileOutcome::Status::Failed)
            std::fprintf(stderr, "failed:  %s: %s\n", f.path.c_str(), f.message.c_str());
    for (const auto& f : s.files)
        if (f.status == FileOutcome::Status::Skipped && f.message != "already ingested, unchanged")
            std::fprintf(stderr, "skipped: %s: %s\n", f.path.c_str(), f.message.c_str());
    std::printf("ingest: %lld ok, %lld skipped, %lld failed; %lld objects created, %lld records linked to existing objects\n",
                (long long)s.ok, (long long)s.skipped, (long long)s.failed, (long long)s.objectsCreated,
                (long long)s.objectsLinked);
}

std::vector<std::string> splitBands(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string b;
    while (std::getline(ss, b, ','))
        if (!b.empty()) out.push_back(b);
    return out;
}

Runner addIngestCommand(CLI::App& app) {
    auto* cmd = app.add_subcommand("ingest", "Read FITS files, tables and folders into the catalog");
    struct Opts {
        std::string catalog, cubeBands;
        std::vector<std::string> paths;
        double radius = 1.0;
        bool json = false, quiet = false, reingest = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--catalog", o->catalog, "Catalog file (created if absent)")->required();
    cmd->add_option("--match-radius", o->radius, "Link records of one object by sky position within this many arcsec")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--cube-bands", o->cubeBands, "Band order of image cubes without a BANDS keyword, e.g. g,r,i,z,y (HSC)");
    cmd->add_flag("--reingest", o->reingest, "Read files again even if already ingested unchanged");
    cmd->add_flag("--json", o->json, "Print the summary as JSON");
    cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
    cmd->add_option("paths", o->paths, "Files or folders (searched recursively)")->required();
    return [o]() {
        auto catalog = Catalog::open(o->catalog);
        auto readers = defaultReaderRegistry();
        IngestParams params;
        params.matchRadiusArcsec = o->radius;
        params.reader.cubeBands = splitBands(o->cubeBands);
        params.reingestUnchanged = o->reingest;
        const auto summary = ingestPaths(catalog, o->paths, readers, params, makeProgressBar(o->quiet || o->json));
        if (o->json) printJson(summaryJson(summary));
        else printSummary(summary);
        return summary.failed > 0 ? kExitPartial : 0;
    };
}

} // namespace astroclip::cli
