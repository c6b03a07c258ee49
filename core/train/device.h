#pragma once
// Where LibTorch work runs, for every job that runs models (training, embedding, search):
// "auto" → CUDA device 0 when LibTorch sees a GPU, else the CPU; "cpu"; "cuda" or "cuda:N".
// Throws UsageError for an unknown name or a CUDA request without a usable GPU.
#include <c10/core/Device.h>

#include <string>

namespace astroclip::train {

c10::Device resolveDevice(const std::string& request);

} // namespace astroclip::train
