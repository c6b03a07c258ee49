#pragma once
// Tensors as the checkpoint code sees them: a name, an element type, a row-major shape and
// the raw little-endian bytes. No LibTorch here; an adapter elsewhere maps these to
// torch::Tensor without copying (TensorView over a tensor's storage, or over a mapped file).
#include "core/checkpoint/dtype.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace astroclip {

// Non-owning: bytes point into memory someone else keeps alive (a SafetensorsFile's
// mapping, a TensorData, a framework tensor). bytes.size() == elementCount(shape) * dtypeSize.
struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;        // row-major (C order); {} is a scalar
    std::span<const uint8_t> bytes;
};

// Owning counterpart, for tensors built in memory (tests, converters, small heads).
struct TensorData {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    TensorView view() const { return {name, dtype, shape, bytes}; }

    // float32 values [prod(shape)] stored as `dtype`: F32 as is, F64 widened, F16/BF16
    // rounded to nearest-even. `dtype` must be floating (asserted).
    static TensorData fromFloats(std::string name, std::vector<int64_t> shape,
                                 std::span<const float> values, DType dtype = DType::F32);
    // Raw copy of values whose C++ type matches `dtype` in size (asserted): int64_t for I64,
    // uint8_t for U8 and BOOL, uint16_t bit patterns for F16/BF16, ...
    template <class T>
    static TensorData fromValues(std::string name, std::vector<int64_t> shape,
                                 std::span<const T> values, DType dtype);
};

// Product of the dims (1 for a scalar). Asserts that no dim is negative.
int64_t elementCount(const std::vector<int64_t>& shape);
// "[3, 4]" as used in messages.
std::string shapeText(const std::vector<int64_t>& shape);

// The values as float32 [elementCount(shape)]: floats widened or narrowed (F64 rounds to
// nearest), integers and BOOL converted by value. Reads unaligned bytes safely.
std::vector<float> toFloats(const TensorView& tensor);

TensorData makeTensorData(std::string name, std::vector<int64_t> shape, DType dtype,
                          const void* values, std::size_t valueSize, std::size_t count);

template <class T>
TensorData TensorData::fromValues(std::string name, std::vector<int64_t> shape,
                                  std::span<const T> values, DType dtype) {
    return makeTensorData(std::move(name), std::move(shape), dtype, values.data(), sizeof(T),
                          values.size());
}

} // namespace astroclip
