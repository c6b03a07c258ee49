#pragma once
// The one place where the trainer depends on LibTorch's version or on a CUDA build: device
// choice, bf16 autocast, generator states, peak memory and the optimizer's state map (keyed
// by a string in LibTorch 1.x and by a pointer in 2.x). Internal to core/train.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>

namespace astroclip::train::detail {

// "auto" → CUDA device 0 when LibTorch sees a GPU, else CPU; "cpu"; "cuda" or "cuda:N".
// Throws UsageError for an unknown name or a CUDA request without a usable GPU.
c10::Device resolveDevice(const std::string& request);

// "LibTorch 1.13.0 (CPU)" / "LibTorch 2.4.1 (CUDA)" for checkpoint descriptions.
std::string torchDescription();

// bf16 autocast for CUDA ops while alive (when `enable`); restores the previous state.
class AutocastScope {
public:
    explicit AutocastScope(bool enable);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    bool active_ = false;
    bool wasEnabled_ = false;
    c10::ScalarType previousType_ = c10::ScalarType::Half;
};

// Default generator state of the device type (uint8 CPU tensor) and its inverse.
at::Tensor generatorState(c10::Device device);
void setGeneratorState(c10::Device device, const at::Tensor& state);

// Peak memory so far: the process's maximum resident set on CPU, the caching allocator's
// peak allocation on CUDA (0 when this LibTorch has no CUDA). `kind` gets "RSS" or "CUDA".
int64_t peakMemoryBytes(c10::Device device, std::string* kind = nullptr);
void resetPeakMemory(c10::Device device);

// Access to an optimizer's per-parameter state independent of how the map is keyed.
torch::optim::OptimizerParamState* findParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param);
void setParamState(torch::optim::Optimizer& optimizer, const at::Tensor& param,
                   std::unique_ptr<torch::optim::OptimizerParamState> state);

} // namespace astroclip::train::detail
