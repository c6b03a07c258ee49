#include "app/cli/cli_common.h"
#include "core/common/error.h"

#include <cstdio>
#include <map>

namespace astroclip::cli {

int runCommandLine(int argc, char** argv, const std::function<void(CLI::App&, const AddRunner&)>& addCommands) {
    CLI::App app{"AstroCLIP Studio: survey simulation, ingestion, the catalog and training", "astroclip"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "astroclip 0.1.0");
    std::map<CLI::App*, Runner> runners;
    addCommands(app, [&](Runner r) { runners[app.get_subcommands({}).back()] = std::move(r); });
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    installInterruptHandler();
    try {
        for (auto* sub : app.get_subcommands())
            if (auto it = runners.find(sub); it != runners.end()) return it->second();
    } catch (const Cancelled&) {
        std::fprintf(stderr, "\nastroclip: cancelled; what was finished is kept\n");
        return kExitCancelled;
    } catch (const Error& e) {
        std::fprintf(stderr, "astroclip: %s\n", e.what());
        return kExitError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "astroclip: internal error: %s\n", e.what());
        return kExitError;
    }
    return kExitError;
}

} // namespace astroclip::cli
