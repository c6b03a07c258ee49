// astroclip: the command line. A thin layer over core/: parse options, call core, draw
// progress, print results (text or --json), exit non-zero with a one-line reason on failure.
#include "app/cli/cli_common.h"
#include "core/common/error.h"

#include <cstdio>
#include <map>

using namespace astroclip;

int main(int argc, char** argv) {
    CLI::App app{"AstroCLIP Studio: survey simulation, ingestion and the catalog (more to come)", "astroclip"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "astroclip 0.1.0");
    std::map<CLI::App*, cli::Runner> runners;
    auto add = [&](cli::Runner r) { runners[app.get_subcommands({}).back()] = std::move(r); };
    add(cli::addSimulateCommand(app));
    add(cli::addIngestCommand(app));
    add(cli::addInfoCommand(app));
    add(cli::addSelectCommand(app));
    add(cli::addReadersCommand(app));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    cli::installInterruptHandler();
    try {
        for (auto* sub : app.get_subcommands())
            if (auto it = runners.find(sub); it != runners.end()) return it->second();
    } catch (const Cancelled&) {
        std::fprintf(stderr, "\nastroclip: cancelled; what was finished is kept\n");
        return cli::kExitCancelled;
    } catch (const Error& e) {
        std::fprintf(stderr, "astroclip: %s\n", e.what());
        return cli::kExitError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "astroclip: internal error: %s\n", e.what());
        return cli::kExitError;
    }
    return cli::kExitError;
}
