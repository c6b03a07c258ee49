// astroclip-torch: the commands of astroclip that run LibTorch models. Started by astroclip
// (which execs it with its own arguments, see main.cpp), or directly.
#include "app/cli/cli_common.h"

int main(int argc, char** argv) {
    using namespace astroclip::cli;
    return runCommandLine(argc, argv, [](CLI::App& app, const AddRunner& add) {
        add(addTrainCommand(app));
        add(addEmbedCommand(app));
        add(addProbeCommand(app));
        add(addSearchCommand(app));
        add(addEvalCommand(app));
        add(addPatchesCommand(app));
        add(addDenseCommand(app));
    });
}
