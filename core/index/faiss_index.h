#pragma once
// The FAISS implementation of VectorIndex (internal to core/index; use makeIndex/loadIndex).
#include "core/index/index_files.h"
#include "core/index/vector_index.h"

#include <memory>
#include <string>

namespace astroclip::index {

// UsageError for a factory string FAISS rejects or one that wraps ids itself (IDMap).
std::unique_ptr<VectorIndex> makeFaissIndex(const std::string& factory, int64_t dim);
// FileError(path, ...) when the container does not hold a FAISS index consistent with its sidecar.
std::unique_ptr<VectorIndex> loadFaissIndex(const OpenedIndexFiles& files);

} // namespace astroclip::index
