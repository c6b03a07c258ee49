// astroclip: the command line. A thin layer over core/: parse options, call core, draw
// progress, print results (text or --json), exit non-zero with a one-line reason on failure.
//
// The commands that run models (train, embed, probe, search, eval, patches, dense) live in astroclip-torch beside this program, which
// `astroclip <command>` replaces itself with: loading LibTorch costs about a second per call,
// which the data commands (and scripts calling them by the thousand) should not pay.
#include "app/cli/cli_common.h"

int main(int argc, char** argv) {
    using namespace astroclip::cli;
    return runCommandLine(argc, argv, [&](CLI::App& app, const AddRunner& add) {
        add(addSimulateCommand(app));
        add(addIngestCommand(app));
        add(addInfoCommand(app));
        add(addSelectCommand(app));
        add(addReadersCommand(app));
        add(addRunsCommand(app));
        add(addMapCommand(app));
        add(addImportEmbeddingsCommand(app));
        add(addLabelCommand(app));
#ifdef ASTROCLIP_TORCH_COMMANDS
        add(addForwardedCommand(app, "train", kTrainDescription, argc, argv));
        add(addForwardedCommand(app, "embed", kEmbedDescription, argc, argv));
        add(addForwardedCommand(app, "probe", kProbeDescription, argc, argv));
        add(addForwardedCommand(app, "search", kSearchDescription, argc, argv));
        add(addForwardedCommand(app, "eval", kEvalDescription, argc, argv));
        add(addForwardedCommand(app, "patches", kPatchesDescription, argc, argv));
        add(addForwardedCommand(app, "dense", kDenseDescription, argc, argv));
#endif
    });
}
