#include "core/models/out_of_memory.h"

#include <c10/util/Exception.h>

#if ASTROCLIP_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <new>

namespace astroclip::models {

bool isOutOfMemory(const std::exception& error) {
    if (dynamic_cast<const c10::OutOfMemoryError*>(&error) || dynamic_cast<const std::bad_alloc*>(&error))
        return true;
    // LibTorch 1.x reports CUDA and CPU allocation failures as plain c10::Error in places.
    if (!dynamic_cast<const c10::Error*>(&error)) return false;
    const std::string text = error.what();
    return text.find("out of memory") != std::string::npos || text.find("not enough memory") != std::string::npos;
}

void releaseCachedMemory([[maybe_unused]] c10::Device device) {
#if ASTROCLIP_TORCH_CUDA
    if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

OutOfMemoryError outOfMemoryError(const std::string& job, c10::Device device, const std::exception& cause,
                                  const std::string& advice) {
    releaseCachedMemory(device);
    // c10::Error::what() appends a C++ backtrace; its first line is LibTorch's message, e.g.
    // "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.19 GiB total capacity; ...)".
    const auto* c10Error = dynamic_cast<const c10::Error*>(&cause);
    std::string reason = c10Error ? c10Error->what_without_backtrace() : cause.what();
    if (const auto end = reason.find('\n'); end != std::string::npos) reason.resize(end);
    if (!reason.empty() && reason.back() == '.') reason.pop_back();
    return OutOfMemoryError(job + " ran out of memory on " + device.str() + ": " + reason + ". " + advice);
}

} // namespace astroclip::models
