#pragma once
// Shared pieces of the command line: progress bar, JSON printing, exit codes.
#include "core/common/progress.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace astroclip::cli {

// Exit codes: 0 success; 1 error (one line on stderr); 2 usage error (CLI11); 3 partial
// success (some input files failed, the rest was done); 130 cancelled (Ctrl-C).
constexpr int kExitError = 1;
constexpr int kExitPartial = 3;
constexpr int kExitCancelled = 130;

// Progress bar on stderr: redrawn in place on a terminal, a line every ~10 % otherwise
// (logs of cluster jobs). Returns false after SIGINT so core stops at a safe point.
ProgressFn makeProgressBar(bool quiet);
void installInterruptHandler();

void printJson(const nlohmann::json& j);

// Each command adds itself to the app and returns the function that runs it.
using Runner = std::function<int()>;
Runner addSimulateCommand(CLI::App& app);
Runner addIngestCommand(CLI::App& app);
Runner addInfoCommand(CLI::App& app);
Runner addReadersCommand(CLI::App& app);
Runner addSelectCommand(CLI::App& app);

} // namespace astroclip::cli
