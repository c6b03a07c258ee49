#include "core/train/torch_compat.h"
#include "core/train/device.h"

#include "core/common/error.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#if ASTROCLIP_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <sys/resource.h>

#include <mutex>
#include <sstream>
#include <type_traits>

// LibTorch 2.4 replaced the CUDA-specific autocast calls by device-typed ones and deprecated
// the old names.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define ASTROCLIP_AUTOCAST_BY_DEVICE 1
#else
#define ASTROCLIP_AUTOCAST_BY_DEVICE 0
#endif

namespace astroclip::train::detail {

c10::Device resolveDevice(const std::string& request) {
    const bool haveCuda = torch::cuda::is_available();
    if (request == "auto") return haveCuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    if (request == "cpu") return c10::Device(c10::kCPU);
    if (request == "cuda" || request.rfind("cuda:", 0) == 0) {
        if (!haveCuda)
            throw UsageError("device '" + request +
                             "' was asked for, but LibTorch sees no CUDA GPU (no GPU visible, or a CPU-only "
                             "build of LibTorch); use --device cpu or auto");
        c10::Device device(c10::kCUDA, 0);
        if (request != "cuda") {
            try {
                device = c10::Device(request);
            } catch (const c10::Error&) {
                throw UsageError("device '" + request + "' is not a device name (cuda:0, cuda:1, ...)");
            }
        }
        if (device.index() >= static_cast<int>(torch::cuda::device_count()))
            throw UsageError("device '" + request + "' does not exist: LibTorch sees " +
                             std::to_string(torch::cuda::device_count()) + " GPU(s)");
        return device;
    }
    throw UsageError("unknown device '" + request + "': use auto, cpu, cuda or cuda:N");
}

std::string torchDescription() {
    return std::string("LibTorch ") + TORCH_VERSION + (torch::cuda::is_available() ? " (CUDA)" : " (CPU)");
}

AutocastScope::AutocastScope(bool enable) : active_(enable) {
    if (!active_) return;
#if ASTROCLIP_AUTOCAST_BY_DEVICE
    wasEnabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previousType_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    wasEnabled_ = at::autocast::is_enabled();
    previousType_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
}

AutocastScope::~AutocastScope() {
    if (!active_) return;
#if ASTROCLIP_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(at::kCUDA, wasEnabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, previousType_);
#else
    at::autocast::set_enabled(wasEnabled_);
    at::autocast::set_autocast_gpu_dtype(previousType_);
#endif
    // Casts of weights are cached for the duration of one autocast region only.
    if (!wasEnabled_) at::autocast::clear_cache();
}

namespace {

at::Generator defaultGenerator(c10::Device device) {
    if (device.is_cpu()) return at::detail::getDefaultCPUGenerator();
    return at::globalContext().defaultGenerator(device);
}

} // namespace

at::Tensor generatorState(c10::Device device) {
    auto generator = defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.get_state();
}

void setGeneratorState(c10::Device device, const at::Tensor& state) {
    auto generator = defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
}

int64_t peakMemoryBytes(c10::Device device, std::string* kind) {
    if (device.is_cuda()) {
        if (kind) *kind = "CUDA";
#if ASTROCLIP_TORCH_CUDA
        // Index 0 is the aggregate over both pools in every LibTorch version.
        return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak;
#else
        return 0;
#endif
    }
    if (kind) *kind = "RSS";
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void resetPeakMemory([[maybe_unused]] c10::Device device) {
#if ASTROCLIP_TORCH_CUDA
    if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
}

namespace {

// LibTorch 1.x keys the state by the parameter's TensorImpl address printed as text
// (c10::guts::to_string), 2.x by the address itself.
template <class Key>
Key stateKey(const at::Tensor& param) {
    if constexpr (std::is_same_v<Key, std::string>) {
        std::ostringstream text;
        text << static_cast<const void*>(param.unsafeGetTensorImpl());
        return text.str();
    } else {
        return static_cast<Key>(param.unsafeGetTensorImpl());
    }
}

using StateMap = std::remove_cvref_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;

} // namespace

torch::optim::OptimizerParamState* findParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param) {
    auto& states = optimizer.state();
    const auto it = states.find(stateKey<StateMap::key_type>(param));
    return it == states.end() ? nullptr : it->second.get();
}

void setParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param,
                   std::unique_ptr<torch::optim::OptimizerParamState> state) {
    optimizer.state()[stateKey<StateMap::key_type>(param)] = std::move(state);
}

} // namespace astroclip::train::detail

namespace astroclip::train {

c10::Device resolveDevice(const std::string& request) { return detail::resolveDevice(request); }

} // namespace astroclip::train
