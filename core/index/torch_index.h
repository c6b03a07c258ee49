#pragma once
// The exact LibTorch implementation of VectorIndex (internal to core/index; use makeIndex and
// loadIndex). Compiled only with ASTROCLIP_WITH_TORCH; this header has no LibTorch in it.
#include "core/index/index_files.h"
#include "core/index/vector_index.h"

#include <memory>
#include <string>

namespace astroclip::index {

// "torch", "torch:cpu" or "torch:cuda" (the caller has checked the prefix). UsageError for an
// unknown device, or "torch:cuda" when CUDA is not available.
std::unique_ptr<VectorIndex> makeTorchIndex(const std::string& factory, int64_t dim);
// FileError(path, ...) when the container does not hold a torch index consistent with its sidecar.
std::unique_ptr<VectorIndex> loadTorchIndex(const OpenedIndexFiles& files);

} // namespace astroclip::index
