#pragma once
// Shared pieces of the command line: progress bar, JSON printing, exit codes.
#include "core/common/progress.h"
#include "core/data/records.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace astroclip {
class Catalog;
}

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
// True once SIGINT arrived (a second Ctrl-C ends the program at once).
bool interrupted();

void printJson(const nlohmann::json& j);

// A catalog value as JSON (null when absent) and as text ("null" when absent; reals to 8 digits).
nlohmann::json valueJson(const Value& v);
std::string valueText(const Value& v);

// Creates the output folder of a command (and its parents); FileError naming it when it cannot.
void createOutputFolder(const std::string& path);

// Each command adds itself to the app and returns the function that runs it.
using Runner = std::function<int()>;
Runner addSimulateCommand(CLI::App& app);
Runner addIngestCommand(CLI::App& app);
Runner addInfoCommand(CLI::App& app);
Runner addReadersCommand(CLI::App& app);
Runner addSelectCommand(CLI::App& app);
Runner addRunsCommand(CLI::App& app);
Runner addLabelCommand(CLI::App& app);  // cmd_label.cpp, cmd_label_discovery.cpp
inline constexpr const char* kLabelDescription =
    "Label sets for few-shot discovery: label objects, rank the rest, suggest what to label next, evaluate";
Runner addMapCommand(CLI::App& app);
Runner addImportEmbeddingsCommand(CLI::App& app);
Runner addTrainCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kTrainDescription =
    "Train a model: image (DINO), spectrum (masked modelling), clip (alignment) or supervised";
Runner addEmbedCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kEmbedDescription =
    "Embed the catalog's objects with a trained run's encoders (stored in the catalog, resumable)";
Runner addProbeCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kProbeDescription =
    "Score a model's stored embeddings at predicting a catalog column: k-NN, ridge or MLP probe";
Runner addSearchCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kSearchDescription =
    "Find the nearest neighbours of objects or of a file's objects, image or spectrum, by stored embeddings";
Runner addEvalCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kEvalDescription =
    "Evaluate a model AstroCLIP-style: probes, few-shot tidal search and retrieval against raw-data baselines";
Runner addPatchesCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kPatchesDescription =
    "Draw DINOv2-style patch-feature PCA views of galaxies (PNG images)";
Runner addDenseCommand(CLI::App& app);  // astroclip-torch only
inline constexpr const char* kDenseDescription =
    "Train linear segmentation and depth heads on frozen patch tokens against the simulator's truth maps";
// `name` of astroclip-torch, started with this process's arguments (cmd_forward.cpp).
Runner addForwardedCommand(CLI::App& app, const std::string& name, const std::string& description, int argc,
                           char** argv);

// The program: adds the commands, parses, runs the chosen one; errors become one line on
// stderr and the exit codes above (cli_main.cpp).
using AddRunner = std::function<void(Runner)>;
int runCommandLine(int argc, char** argv, const std::function<void(CLI::App&, const AddRunner&)>& addCommands);

// Training runs of a catalog with their final metrics (cmd_runs.cpp); `info` ends with them.
nlohmann::json trainingRunsJson(Catalog& catalog, std::optional<int64_t> modelId);
void printTrainingRuns(Catalog& catalog, std::optional<int64_t> modelId);

} // namespace astroclip::cli
