#pragma once
// LibTorch side of the checkpoint code: TensorView/TensorData (core/checkpoint, framework
// free) ↔ torch::Tensor, and whole state dicts to and from *.safetensors files.
#include "core/checkpoint/safetensors.h"
#include "core/models/state_dict.h"

#include <string>

namespace astroclip::models {

// A CPU tensor owning a copy of the view's bytes, with the same dtype and shape (the view
// may point into a mapping that goes away). UsageError for the unsigned 16/32/64-bit types,
// which this LibTorch cannot hold.
torch::Tensor toTorch(const TensorView& view);

// The tensor's values as safetensors bytes (made contiguous and moved to the CPU first).
// UsageError for dtypes safetensors has no code for (complex, quantised).
TensorData fromTorch(const std::string& name, const torch::Tensor& tensor);

// Every tensor of a safetensors file, copied into CPU tensors. FileError(path, ...) for a
// file that cannot be read, is not valid safetensors, or holds a dtype LibTorch lacks.
StateDict readStateDict(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Writes the tensors (in their own dtypes) atomically; returns the file's SHA-256.
std::string writeStateDict(const std::string& path, const StateDict& weights,
                           const SafetensorsMetadata& metadata = {});

} // namespace astroclip::models
