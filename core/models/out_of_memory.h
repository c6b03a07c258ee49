#pragma once
// Running out of memory on a device is something a user fixes (a smaller batch, accumulation,
// bf16, a smaller model), not a crash. Every job that runs models (training, embedding, exact
// search) turns LibTorch's allocation failure into OutOfMemoryError naming the job, the device
// and what to change, after giving the CUDA caching allocator's unused blocks back so the
// process (the desktop app, a sweep on a cluster node) can go on with the next job.
#include "core/common/error.h"

#include <c10/core/Device.h>

#include <exception>
#include <string>

namespace astroclip::models {

// True when `error` is LibTorch's report of a failed allocation: c10::OutOfMemoryError (CUDA's
// caching allocator), the CPU allocator's "not enough memory", or std::bad_alloc.
bool isOutOfMemory(const std::exception& error);

// Frees the blocks LibTorch's CUDA allocator caches but no tensor uses; nothing on the CPU or
// in a LibTorch without CUDA.
void releaseCachedMemory(c10::Device device);

// Releases the cache and returns
//   "<job> ran out of memory on <device>: <LibTorch's first line>. <advice>"
OutOfMemoryError outOfMemoryError(const std::string& job, c10::Device device, const std::exception& cause,
                                  const std::string& advice);

// Runs `work`; an allocation failure inside it becomes outOfMemoryError(job(), device, ...,
// advice()) — job and advice are computed only then — and every other exception passes
// through unchanged.
template <class Work, class Job, class Advice>
decltype(auto) reportingOutOfMemory(c10::Device device, Job&& job, Advice&& advice, Work&& work) {
    try {
        return work();
    } catch (const OutOfMemoryError&) {
        throw;
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e)) throw;
        throw outOfMemoryError(job(), device, e, advice());
    }
}

} // namespace astroclip::models
