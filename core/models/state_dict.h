#pragma once
// Parameters and buffers of a module by name ("blocks.0.attn.qkv.weight"), for checkpoints
// and for loading weights trained elsewhere (DINOv2, AstroCLIP). Loading is strict: every
// name must be present with its shape, and nothing else may be in the file; all problems
// are reported together in one message.
#include "core/common/error.h"

#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

namespace astroclip::models {

using StateDict = std::map<std::string, torch::Tensor>;

// Weights that do not fit a model. what() lists every problem, e.g. "weights do not fit
// ViT-small: missing blocks.11.ls2.gamma; shape of pos_embed is [1,145,384] in the file but
// [1,197,384] here"; the lists are kept for callers that show them otherwise.
class WeightsMismatch : public UsageError {
public:
    WeightsMismatch(const std::string& modelName, std::vector<std::string> missing,
                    std::vector<std::string> unexpected, std::vector<std::string> wrongShape);
    const std::vector<std::string>& missing() const { return missing_; }
    const std::vector<std::string>& unexpected() const { return unexpected_; }
    // "shape of NAME is [..] in the file but [..] here" (or "dtype of NAME ...") per entry.
    const std::vector<std::string>& wrongShape() const { return wrongShape_; }

private:
    std::vector<std::string> missing_, unexpected_, wrongShape_;
};

// Every parameter and buffer, detached; the tensors share storage with the module (copy or
// write them out before the module changes them).
StateDict exportStateDict(const torch::nn::Module& module);

struct ImportOptions {
    // A DINOv2 position table ("…pos_embed", [1, 1 + m·m, D]) of another square grid is
    // resampled (bicubic, no antialias) to this model's grid instead of being refused.
    bool resizePosEmbed = false;
    // Names the file may lack; those keep the module's current values. For weights from
    // elsewhere that have no use for a training-only tensor, e.g. a timm ViT without DINOv2's
    // iBOT "mask_token". Any other missing name is still an error.
    std::vector<std::string> mayBeMissing;
};

// Copies `weights` into the module's parameters and buffers, converting dtype and device
// (bf16/f16 files load into f32 models). Throws WeightsMismatch naming `modelName` when a
// name is missing or unexpected, a shape differs, or a floating value would load into an
// integer tensor; nothing is copied then.
void importStateDict(torch::nn::Module& module, const StateDict& weights,
                     const std::string& modelName, const ImportOptions& options = {});

// The entries under `prefix` ("teacher.backbone." in a DINOv2 training checkpoint), with the
// prefix removed.
StateDict selectPrefix(const StateDict& weights, const std::string& prefix);

// "[1,197,384]"
std::string shapeString(const torch::Tensor& tensor);

} // namespace astroclip::models
