#pragma once
// Fine-tuning a pre-trained backbone: which of its parameters train, and at what rate.
//   none     every parameter trains at the stage's learning rate (× layer decay, see below)
//   all      the backbone is frozen (eval mode, no gradient, no optimizer state): only heads train
//   last:N   the last N transformer blocks and the final norm train; embeddings and earlier
//            blocks are frozen
// Layer-wise learning-rate decay (BEiT/DINOv2 fine-tuning): with decay d < 1 and depth L, the
// trainable parameters of block i get lr × d^(L − i), the final norm (and heads) d^0 = 1, the
// embeddings (patch/data embedding, position table, class/register/mask tokens) d^(L + 1).
// One ParamGroup per block keeps the checkpoint's optimizer description readable.
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/train/stage.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace astroclip::stages {

enum class FreezeMode { None, All, LastBlocks };

struct FineTuneOptions {
    FreezeMode freeze = FreezeMode::None;
    int trainableBlocks = 0;   // N of last:N
    double layerDecay = 1.0;   // in (0, 1]; 1 = the same rate everywhere

    // "none", "all", "last:N" (N ≥ 1); UsageError quoting the text otherwise. The decay is
    // left as it is.
    static FineTuneOptions parseFreeze(const std::string& text);
    // UsageError when N exceeds `depth`, N < 1 with last:N, or the decay is outside (0, 1].
    void validate(int64_t depth) const;
    nlohmann::json toJson() const;  // {"freeze": "last:2", "layer_decay": 0.75}
    static FineTuneOptions fromJson(const nlohmann::json& json);
};

// Parameter groups for a backbone whose tensors are named "<prefix><parameter name>"
// (e.g. prefix "student.backbone."). Every parameter of the backbone is in exactly one group;
// frozen ones in groups with frozen = true. `baseMultiplier` scales every group's rate.
std::vector<train::ParamGroup> backboneParamGroups(const std::string& prefix, const models::VisionTransformerImpl& vit,
                                                   const FineTuneOptions& options, double baseMultiplier = 1.0);
std::vector<train::ParamGroup> backboneParamGroups(const std::string& prefix, const models::SpecFormerImpl& specformer,
                                                   const FineTuneOptions& options, double baseMultiplier = 1.0);

// Puts the frozen parts of the backbone into eval mode (no dropout or stochastic depth in a
// feature extractor that does not learn) and leaves the trainable parts as they are. Call it
// at the start of each step: the trainer switches every module to training mode once.
void setFrozenPartsToEval(models::VisionTransformerImpl& vit, const FineTuneOptions& options);
void setFrozenPartsToEval(models::SpecFormerImpl& specformer, const FineTuneOptions& options);

} // namespace astroclip::stages
