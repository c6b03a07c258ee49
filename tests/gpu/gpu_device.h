#pragma once
// The device the gpu-labelled tests exercise: CUDA device 0 when LibTorch sees a GPU. Without
// one they skip, unless ASTROCLIP_GPU_TESTS_ON_CPU=1 asks for a dry run on the CPU: the same
// test code against CPU "devices", so a machine without a GPU (CI, tools/gpu-check.sh
// --cpu-dry-run) still checks the tests' own logic. Checks only a GPU can make (running out of
// its memory) skip in a dry run.
#include <ATen/Context.h>
#include <QtGlobal>
#include <c10/core/Device.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace astroclip::gputest {

// The device, or nullopt (the caller skips with kNoGpuMessage). Switches TF32 off: the tests
// compare fp32 results with the CPU's, and fp32 must mean fp32.
inline std::optional<c10::Device> deviceUnderTest() {
    std::optional<c10::Device> device;
    const char* dryRun = std::getenv("ASTROCLIP_GPU_TESTS_ON_CPU");
    if (torch::cuda::is_available())
        device = c10::Device(c10::kCUDA, 0);
    else if (dryRun && std::string(dryRun) == "1")
        device = c10::Device(c10::kCPU);
    if (!device) return device;
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
    qInfo("device under test: %s", device->str().c_str());
    return device;
}

inline constexpr const char* kNoGpuMessage =
    "LibTorch sees no CUDA device (CPU-only build or no GPU): the gpu tests run on the GPU machine "
    "(tools/gpu-check.sh); ASTROCLIP_GPU_TESTS_ON_CPU=1 runs them on the CPU as a dry run";

} // namespace astroclip::gputest
