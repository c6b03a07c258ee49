// astroclip: the command line. A thin layer over core/: parse options, call core, draw
// progress, print results (text or --json), exit non-zero with a one-line reason on failure.
#include "core/common/error.h"

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    CLI::App app{"AstroCLIP Studio command line"};
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const astroclip::Error& e) {
        std::fprintf(stderr, "astroclip: %s\n", e.what());
        return 1;
    }
    return 0;
}
