#pragma once
// The on-disk form of a VectorIndex (internal to core/index): PATH is a safetensors container
// holding the implementation's arrays, PATH.json the sidecar (see vector_index.h). Both files
// are written beside their targets and renamed into place together; reading checks the
// sidecar, the container's structure and the SHA-256 that ties the two.
#include "core/checkpoint/safetensors.h"
#include "core/index/vector_index.h"

#include <memory>
#include <string>
#include <vector>

namespace astroclip::index {

// Tensors to write, and whatever keeps their bytes alive until the write is done.
struct VectorIndex::Payload {
    std::vector<TensorView> tensors;
    std::vector<std::shared_ptr<const void>> owners;
};

// Container metadata key naming the format, and its value.
inline constexpr const char* kFormatKey = "format";
inline constexpr const char* kFormatName = "astroclip-vector-index";
inline constexpr int kFormatVersion = 1;

// Writes the tensors and the sidecar (factory, dim, count, provenance, SHA-256) atomically as
// a pair; FileError(path, ...) on I/O failure with nothing on disk changed.
void writeIndexFiles(const std::string& path, std::span<const TensorView> tensors, const IndexFileInfo& info);

// A saved index opened for an implementation's loader: the sidecar, and the container mapped
// and checked against it (structure, format tag, factory, SHA-256).
struct OpenedIndexFiles {
    IndexFileInfo info;
    SafetensorsFile container;
};
OpenedIndexFiles openIndexFiles(const std::string& path);

// The tensor `name` of `container`, checked to be `dtype` with `rank` dimensions; FileError
// naming the file otherwise.
const TensorView& indexTensor(const OpenedIndexFiles& files, const std::string& name, DType dtype, int rank);

} // namespace astroclip::index
