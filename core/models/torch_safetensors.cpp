#include "core/models/torch_safetensors.h"

#include <torch/torch.h>

#include <cassert>
#include <cstring>
#include <optional>

namespace astroclip::models {

namespace {

std::optional<torch::ScalarType> torchType(DType type) {
    switch (type) {
    case DType::F64: return torch::kDouble;
    case DType::F32: return torch::kFloat;
    case DType::F16: return torch::kHalf;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kLong;
    case DType::I32: return torch::kInt;
    case DType::I16: return torch::kShort;
    case DType::I8: return torch::kChar;
    case DType::U8: return torch::kByte;
    case DType::Bool: return torch::kBool;
    case DType::U16:
    case DType::U32:
    case DType::U64: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<DType> safetensorsType(torch::ScalarType type) {
    switch (type) {
    case torch::kDouble: return DType::F64;
    case torch::kFloat: return DType::F32;
    case torch::kHalf: return DType::F16;
    case torch::kBFloat16: return DType::BF16;
    case torch::kLong: return DType::I64;
    case torch::kInt: return DType::I32;
    case torch::kShort: return DType::I16;
    case torch::kChar: return DType::I8;
    case torch::kByte: return DType::U8;
    case torch::kBool: return DType::Bool;
    default: return std::nullopt;
    }
}

} // namespace

torch::Tensor toTorch(const TensorView& view) {
    const auto type = torchType(view.dtype);
    if (!type)
        throw UsageError("tensor '" + view.name + "' has dtype " + std::string(dtypeName(view.dtype)) +
                         ", which LibTorch cannot hold");
    auto tensor = torch::empty(view.shape, torch::TensorOptions().dtype(*type));
    // memcpy copes with unaligned bytes in a mapped file.
    assert(view.bytes.size() == static_cast<size_t>(tensor.numel()) * tensor.element_size());
    if (!view.bytes.empty()) std::memcpy(tensor.data_ptr(), view.bytes.data(), view.bytes.size());
    return tensor;
}

TensorData fromTorch(const std::string& name, const torch::Tensor& tensor) {
    const auto type = safetensorsType(tensor.scalar_type());
    if (!type)
        throw UsageError("tensor '" + name + "' has a dtype (" +
                         std::string(c10::toString(tensor.scalar_type())) + ") safetensors cannot store");
    const auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    TensorData data;
    data.name = name;
    data.dtype = *type;
    data.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
    data.bytes.resize(static_cast<size_t>(cpu.numel()) * cpu.element_size());
    if (!data.bytes.empty()) std::memcpy(data.bytes.data(), cpu.data_ptr(), data.bytes.size());
    return data;
}

StateDict readStateDict(const std::string& path, SafetensorsMetadata* metadata) {
    const auto file = readSafetensors(path);
    StateDict out;
    for (const auto& view : file.tensors()) {
        try {
            out[view.name] = toTorch(view);
        } catch (const UsageError& e) {
            throw FileError(path, e.what());
        }
    }
    if (metadata) *metadata = file.metadata();
    return out;
}

std::string writeStateDict(const std::string& path, const StateDict& weights,
                           const SafetensorsMetadata& metadata) {
    std::vector<TensorData> tensors;
    tensors.reserve(weights.size());
    for (const auto& [name, tensor] : weights) tensors.push_back(fromTorch(name, tensor));
    return writeSafetensors(path, std::span<const TensorData>(tensors), metadata);
}

} // namespace astroclip::models
