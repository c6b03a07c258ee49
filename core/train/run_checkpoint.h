#pragma once
// Writing and reading the trainer's checkpoints (layout in trainer.h), and initialising a
// stage's weights from a checkpoint or a plain safetensors file (`--init`).
#include "core/train/stage.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace astroclip::train {

// "<dir>/<name>" → (dir, name); a path ending in ".json" or ".safetensors" has it removed.
std::pair<std::string, std::string> splitCheckpointPath(const std::string& path);

// True for the names a trainer checkpoint keeps for its own state ("optim.", "rng.",
// "extra."): never model weights.
bool isReservedTensorName(const std::string& name);

// Every parameter and buffer of the modules as "<prefix><name>", in module order. Throws
// UsageError for a duplicate name or one in the trainer's reserved namespaces.
std::vector<NamedTensor> stageTensors(const std::vector<NamedModule>& modules);

// Writes <dir>/<name> (tensors moved to the CPU) and then refreshes <dir>/last to the same
// content: a hard link to the new weights where possible, else a copy.
void writeRunCheckpoint(const std::string& dir, const std::string& name, const std::vector<NamedTensor>& tensors,
                        const nlohmann::json& info);

struct LoadedRunCheckpoint {
    std::string path;   // "<dir>/<name>"
    nlohmann::json info;
    std::map<std::string, torch::Tensor> tensors; // CPU copies
};
// Loads and checks a trainer checkpoint (checksums via core/checkpoint; "kind" and "step").
LoadedRunCheckpoint readRunCheckpoint(const std::string& path);

// Copies `values` into `targets` by name (no autograd, converting dtype and device).
// Strict: every target present with its shape and no other model tensor (names outside the
// reserved namespaces) in `values`. Throws models::WeightsMismatch listing every problem.
void copyModelTensors(const std::vector<NamedTensor>& targets, const std::map<std::string, torch::Tensor>& values,
                      const std::string& what);

struct InitOptions {
    // false: the file must hold exactly the stage's tensors. true (fine-tuning): tensors the
    // stage has and the file lacks keep their values, tensors the file has and the stage
    // lacks are ignored; shapes must still agree and at least one tensor must load.
    bool allowSubset = false;
    // Only file tensors named "<filePrefix>X" are used, as stage tensor "<stagePrefix>X"
    // (e.g. filePrefix "" and stagePrefix "image.backbone." to start an alignment stage from
    // an image encoder's checkpoint).
    std::string filePrefix;
    std::string stagePrefix;
};

struct InitReport {
    std::vector<std::string> loaded;   // stage names
    std::vector<std::string> kept;     // stage tensors left as they were (subset mode)
    std::vector<std::string> ignored;  // file tensors not used (subset mode)
};

// `--init`: loads model weights only (no optimizer, RNG or data state) from a trainer
// checkpoint ("<dir>/<name>", checked) or a *.safetensors file. Throws FileError for a file
// that cannot be read and models::WeightsMismatch when the weights do not fit.
InitReport initWeights(Stage& stage, const std::string& source, const InitOptions& options = {});

} // namespace astroclip::train
