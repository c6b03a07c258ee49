#include "core/models/state_dict.h"

#include "core/models/vit.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace astroclip::models {

namespace {

// Long lists (a file for a different model) are cut so the message stays readable.
std::string joinNames(const std::vector<std::string>& names, size_t shown = 8) {
    std::string text;
    for (size_t i = 0; i < names.size() && i < shown; ++i) text += (i ? ", " : "") + names[i];
    if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
    return text;
}

std::string mismatchMessage(const std::string& modelName, const std::vector<std::string>& missing,
                            const std::vector<std::string>& unexpected,
                            const std::vector<std::string>& wrongShape) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing " + joinNames(missing));
    if (!unexpected.empty()) parts.push_back("unexpected " + joinNames(unexpected));
    for (size_t i = 0; i < wrongShape.size() && i < 8; ++i) parts.push_back(wrongShape[i]);
    if (wrongShape.size() > 8)
        parts.push_back("and " + std::to_string(wrongShape.size() - 8) + " more of other shape");
    std::string text = "weights do not fit " + modelName + ": ";
    for (size_t i = 0; i < parts.size(); ++i) text += (i ? "; " : "") + parts[i];
    return text;
}

// A DINOv2 position table of a square grid: [1, 1 + m², D]. Returns m, or 0 otherwise.
int64_t squareGridSide(const torch::Tensor& t) {
    if (t.dim() != 3 || t.size(0) != 1 || t.size(1) < 2) return 0;
    const int64_t cells = t.size(1) - 1;
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cells))));
    return side * side == cells ? side : 0;
}

bool endsWith(const std::string& text, const std::string& tail) {
    return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

WeightsMismatch::WeightsMismatch(const std::string& modelName, std::vector<std::string> missing,
                                 std::vector<std::string> unexpected, std::vector<std::string> wrongShape)
    : UsageError(mismatchMessage(modelName, missing, unexpected, wrongShape)),
      missing_(std::move(missing)), unexpected_(std::move(unexpected)), wrongShape_(std::move(wrongShape)) {}

std::string shapeString(const torch::Tensor& tensor) {
    std::string text = "[";
    for (int64_t i = 0; i < tensor.dim(); ++i) text += (i ? "," : "") + std::to_string(tensor.size(i));
    return text + "]";
}

StateDict exportStateDict(const torch::nn::Module& module) {
    StateDict out;
    for (const auto& item : module.named_parameters(/*recurse=*/true)) out[item.key()] = item.value().detach();
    for (const auto& item : module.named_buffers(/*recurse=*/true)) out[item.key()] = item.value().detach();
    return out;
}

void importStateDict(torch::nn::Module& module, const StateDict& weights, const std::string& modelName,
                     const ImportOptions& options) {
    std::map<std::string, torch::Tensor> targets;
    for (const auto& item : module.named_parameters(true)) targets[item.key()] = item.value();
    for (const auto& item : module.named_buffers(true)) targets[item.key()] = item.value();

    std::vector<std::string> missing, unexpected, wrongShape;
    StateDict sources;  // what will be copied, after any resampling
    for (const auto& [name, target] : targets) {
        const auto found = weights.find(name);
        if (found == weights.end()) {
            const auto& optional = options.mayBeMissing;
            if (std::find(optional.begin(), optional.end(), name) == optional.end()) missing.push_back(name);
            continue;
        }
        torch::Tensor source = found->second;
        if (!source.defined()) {
            missing.push_back(name);
            continue;
        }
        if (source.is_floating_point() && !target.is_floating_point()) {
            wrongShape.push_back("dtype of " + name + " is floating in the file but integer here");
            continue;
        }
        if (source.sizes() != target.sizes()) {
            const int64_t fileSide = squareGridSide(source), hereSide = squareGridSide(target);
            if (options.resizePosEmbed && endsWith(name, "pos_embed") && fileSide > 0 && hereSide > 0 &&
                source.size(2) == target.size(2)) {
                source = interpolatePosEmbed(source, hereSide, hereSide, /*offset=*/0.0, false);
            } else {
                wrongShape.push_back("shape of " + name + " is " + shapeString(source) +
                                     " in the file but " + shapeString(target) + " here");
                continue;
            }
        }
        sources[name] = source;
    }
    for (const auto& item : weights)
        if (!targets.count(item.first)) unexpected.push_back(item.first);
    if (!missing.empty() || !unexpected.empty() || !wrongShape.empty())
        throw WeightsMismatch(modelName, std::move(missing), std::move(unexpected), std::move(wrongShape));

    torch::NoGradGuard noGrad;
    for (auto& [name, source] : sources) targets.at(name).copy_(source);
}

StateDict selectPrefix(const StateDict& weights, const std::string& prefix) {
    StateDict out;
    for (const auto& [name, tensor] : weights)
        if (name.compare(0, prefix.size(), prefix) == 0) out[name.substr(prefix.size())] = tensor;
    return out;
}

} // namespace astroclip::models
