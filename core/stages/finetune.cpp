#include "core/stages/finetune.h"

#include "core/common/error.h"

#include <torch/nn/module.h>

#include <cassert>
#include <cmath>
#include <memory>
#include <string_view>
#include <utility>

namespace astroclip::stages {

namespace {

std::string freezeText(const FineTuneOptions& options) {
    switch (options.freeze) {
    case FreezeMode::None: return "none";
    case FreezeMode::All: return "all";
    case FreezeMode::LastBlocks: return "last:" + std::to_string(options.trainableBlocks);
    }
    assert(false && "unknown FreezeMode");
    return "none";
}

// Where a backbone parameter sits in the depth order that layer decay and freezing follow.
enum class Part { Embedding, Block, Top };

struct Placement {
    Part part = Part::Embedding;
    int64_t block = -1;  // for Part::Block
};

bool startsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// "blocks.<i>.<rest>" → i; -1 for other names.
int64_t blockIndex(std::string_view name) {
    if (!startsWith(name, "blocks.")) return -1;
    name.remove_prefix(7);
    const auto dot = name.find('.');
    if (dot == 0 || dot == std::string_view::npos) return -1;
    int64_t index = 0;
    for (char c : name.substr(0, dot)) {
        if (c < '0' || c > '9') return -1;
        index = index * 10 + (c - '0');
    }
    return index;
}

// `topPrefixes` name the parameters after the last block (final norm, and a pre-training head
// that trains with it); `embeddingPrefixes` those before the first.
Placement place(const std::string& name, std::initializer_list<std::string_view> embeddingPrefixes,
                std::initializer_list<std::string_view> topPrefixes) {
    if (const int64_t block = blockIndex(name); block >= 0) return {Part::Block, block};
    for (auto p : topPrefixes)
        if (startsWith(name, p)) return {Part::Top, -1};
    for (auto p : embeddingPrefixes)
        if (startsWith(name, p)) return {Part::Embedding, -1};
    // A parameter the grouping does not know would silently take the embeddings' (smallest)
    // rate; a new model parameter must be placed here deliberately.
    assert(false && "backbone parameter of unknown place in the depth order");
    return {Part::Embedding, -1};
}

bool isFrozen(const FineTuneOptions& options, int64_t depth, const Placement& at) {
    switch (options.freeze) {
    case FreezeMode::None: return false;
    case FreezeMode::All: return true;
    case FreezeMode::LastBlocks:
        if (at.part == Part::Top) return false;
        if (at.part == Part::Embedding) return true;
        return at.block < depth - options.trainableBlocks;
    }
    return false;
}

// d^(L + 1) for embeddings, d^(L − i) for block i, d^0 for the top.
double decayExponent(int64_t depth, const Placement& at) {
    switch (at.part) {
    case Part::Embedding: return double(depth + 1);
    case Part::Block: return double(depth - at.block);
    case Part::Top: return 0.0;
    }
    return 0.0;
}

std::vector<train::ParamGroup> groupByDepth(const std::string& prefix, const torch::nn::Module& backbone, int64_t depth,
                                            const FineTuneOptions& options, double baseMultiplier,
                                            std::initializer_list<std::string_view> embeddingPrefixes,
                                            std::initializer_list<std::string_view> topPrefixes,
                                            const std::string& topName) {
    options.validate(depth);
    // Group order follows depth (embeddings, blocks 0..L−1, top) so the checkpoint's optimizer
    // description reads from input to output.
    std::vector<train::ParamGroup> groups(size_t(depth + 2));
    auto slot = [&](const Placement& at) -> size_t {
        switch (at.part) {
        case Part::Embedding: return 0;
        case Part::Block: return size_t(1 + at.block);
        case Part::Top: return size_t(depth + 1);
        }
        return 0;
    };
    auto setUp = [&](const Placement& at, std::string name) {
        auto& g = groups[slot(at)];
        g.name = prefix + name;
        g.lrMultiplier = baseMultiplier * std::pow(options.layerDecay, decayExponent(depth, at));
        g.frozen = isFrozen(options, depth, at);
    };
    setUp({Part::Embedding, -1}, "embeddings");
    for (int64_t i = 0; i < depth; ++i) setUp({Part::Block, i}, "blocks." + std::to_string(i));
    setUp({Part::Top, -1}, topName);

    for (const auto& item : backbone.named_parameters(/*recurse=*/true)) {
        const auto at = place(item.key(), embeddingPrefixes, topPrefixes);
        assert(at.part != Part::Block || at.block < depth);
        groups[slot(at)].parameters.push_back({prefix + item.key(), item.value()});
    }
    std::vector<train::ParamGroup> nonEmpty;
    for (auto& g : groups)
        if (!g.parameters.empty()) nonEmpty.push_back(std::move(g));
    return nonEmpty;
}

} // namespace

FineTuneOptions FineTuneOptions::parseFreeze(const std::string& text) {
    FineTuneOptions options;
    if (text == "none") return options;
    if (text == "all") {
        options.freeze = FreezeMode::All;
        return options;
    }
    const auto bad = [&] {
        return UsageError("freeze '" + text +
                          "' is not understood: use 'none' (train everything), 'all' (train the head only) or "
                          "'last:N' (train the last N transformer blocks, N ≥ 1)");
    };
    if (!startsWith(text, "last:") || text.size() == 5 || text.size() > 5 + 6) throw bad();
    int blocks = 0;
    for (char c : text.substr(5)) {
        if (c < '0' || c > '9') throw bad();
        blocks = blocks * 10 + (c - '0');
    }
    if (blocks < 1) throw bad();
    options.freeze = FreezeMode::LastBlocks;
    options.trainableBlocks = blocks;
    return options;
}

void FineTuneOptions::validate(int64_t depth) const {
    assert(depth >= 1);
    if (!(layerDecay > 0.0 && layerDecay <= 1.0))
        throw UsageError("layer decay " + std::to_string(layerDecay) +
                         " is outside (0, 1]: 1 trains every layer at the same rate, smaller values slow the "
                         "layers near the input (0.65–0.9 is usual)");
    if (freeze == FreezeMode::LastBlocks) {
        if (trainableBlocks < 1)
            throw UsageError("freeze 'last:" + std::to_string(trainableBlocks) +
                             "' trains no block: use 'all' to train the head only, or N ≥ 1");
        if (trainableBlocks > depth)
            throw UsageError("freeze 'last:" + std::to_string(trainableBlocks) + "' asks for more blocks than the " +
                             std::to_string(depth) + " the backbone has: use N ≤ " + std::to_string(depth) +
                             ", or 'none' to train everything");
    }
}

nlohmann::json FineTuneOptions::toJson() const { return {{"freeze", freezeText(*this)}, {"layer_decay", layerDecay}}; }

FineTuneOptions FineTuneOptions::fromJson(const nlohmann::json& json) {
    if (!json.is_object() || !json.contains("freeze") || !json["freeze"].is_string() || !json.contains("layer_decay") ||
        !json["layer_decay"].is_number())
        throw UsageError("fine-tuning settings must be {\"freeze\": \"none|all|last:N\", \"layer_decay\": number}, not " +
                         json.dump());
    auto options = parseFreeze(json["freeze"].get<std::string>());
    options.layerDecay = json["layer_decay"].get<double>();
    return options;
}

std::vector<train::ParamGroup> backboneParamGroups(const std::string& prefix, const models::VisionTransformerImpl& vit,
                                                   const FineTuneOptions& options, double baseMultiplier) {
    return groupByDepth(prefix, vit, vit.config().depth, options, baseMultiplier,
                        {"patch_embed.", "cls_token", "pos_embed", "register_tokens", "mask_token"}, {"norm."}, "norm");
}

std::vector<train::ParamGroup> backboneParamGroups(const std::string& prefix, const models::SpecFormerImpl& specformer,
                                                   const FineTuneOptions& options, double baseMultiplier) {
    // The reconstruction head is SpecFormer's pre-training head: it sits on the final norm and
    // trains (or stays frozen) with it.
    return groupByDepth(prefix, specformer, specformer.config().depth, options, baseMultiplier,
                        {"data_embed.", "position_embed."}, {"final_layernorm.", "head."}, "final_layernorm+head");
}

void setFrozenPartsToEval(models::VisionTransformerImpl& vit, const FineTuneOptions& options) {
    const int64_t depth = vit.config().depth;
    if (options.freeze == FreezeMode::All) {
        vit.eval();
    } else if (options.freeze == FreezeMode::LastBlocks) {
        // Nothing before the blocks depends on the mode; the frozen blocks do (stochastic depth).
        for (int64_t i = 0; i < depth - options.trainableBlocks; ++i) vit.blocks[size_t(i)]->eval();
    }
}

void setFrozenPartsToEval(models::SpecFormerImpl& specformer, const FineTuneOptions& options) {
    const int64_t depth = specformer.config().depth;
    if (options.freeze == FreezeMode::All) {
        specformer.eval();
    } else if (options.freeze == FreezeMode::LastBlocks) {
        // The embedding dropout follows the model's own (top-level) flag, and eval() recurses:
        // note the trainable parts' modes, switch everything off, and put those modes back.
        std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> trainable;
        for (int64_t i = depth - options.trainableBlocks; i < depth; ++i) {
            auto block = specformer.blocks[size_t(i)];
            trainable.emplace_back(block, block->is_training());
        }
        trainable.emplace_back(specformer.final_layernorm.ptr(), specformer.final_layernorm->is_training());
        trainable.emplace_back(specformer.head.ptr(), specformer.head->is_training());
        specformer.eval();
        for (auto& [module, training] : trainable) module->train(training);
    }
}

} // namespace astroclip::stages
