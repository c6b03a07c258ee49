// A command of astroclip-torch, reached through astroclip: the arguments go over unparsed
// and astroclip-torch replaces this process, so exit codes, Ctrl-C and output are its own.
#include "app/cli/cli_common.h"
#include "core/common/error.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <vector>

namespace astroclip::cli {

Runner addForwardedCommand(CLI::App& app, const std::string& name, const std::string& description, int argc,
                           char** argv) {
    auto* cmd = app.add_subcommand(name, description);
    cmd->prefix_command();   // everything after the name is astroclip-torch's to parse
    cmd->set_help_flag();    // --help too
    return [name, argc, argv]() -> int {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        const std::string program = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / "astroclip-torch";
        std::vector<char*> args{const_cast<char*>(program.c_str())};
        // argv as given from the command's name on (options before it belong to astroclip).
        int first = 1;
        while (first < argc && name != argv[first]) ++first;
        for (int i = first; i < argc; ++i) args.push_back(argv[i]);
        args.push_back(nullptr);
        // OpenMP threads that spin while waiting for work starve each other as soon as another
        // process shares the cores (measured: a tiny SpecFormer step 10× slower with 2 threads
        // on 2 busy cores); waiting passively costs next to nothing on an idle machine. Read
        // by the OpenMP runtime when it loads, so it is set here, before LibTorch starts.
        setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
        execv(program.c_str(), args.data());
        throw FileError(program, std::string("cannot run it for 'astroclip ") + name + "': " + std::strerror(errno) +
                                     " (it is built with LibTorch, beside astroclip)");
    };
}

} // namespace astroclip::cli
