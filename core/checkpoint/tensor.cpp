#include "core/checkpoint/tensor.h"

#include <cassert>
#include <cstring>

namespace astroclip {

int64_t elementCount(const std::vector<int64_t>& shape) {
    int64_t count = 1;
    for (int64_t dim : shape) {
        assert(dim >= 0);
        count *= dim;
    }
    return count;
}

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

TensorData makeTensorData(std::string name, std::vector<int64_t> shape, DType dtype,
                          const void* values, std::size_t valueSize, std::size_t count) {
    assert(valueSize == dtypeSize(dtype));
    assert(int64_t(count) == elementCount(shape));
    TensorData tensor{std::move(name), dtype, std::move(shape), {}};
    tensor.bytes.resize(count * valueSize);
    if (count) std::memcpy(tensor.bytes.data(), values, tensor.bytes.size());
    return tensor;
}

TensorData TensorData::fromFloats(std::string name, std::vector<int64_t> shape,
                                  std::span<const float> values, DType dtype) {
    assert(isFloatingDType(dtype));
    assert(int64_t(values.size()) == elementCount(shape));
    TensorData tensor{std::move(name), dtype, std::move(shape), {}};
    tensor.bytes.resize(values.size() * dtypeSize(dtype));
    uint8_t* out = tensor.bytes.data();
    for (std::size_t i = 0; i < values.size(); ++i) {
        switch (dtype) {
        case DType::F32: std::memcpy(out + 4 * i, &values[i], 4); break;
        case DType::F64: {
            const double wide = values[i];
            std::memcpy(out + 8 * i, &wide, 8);
            break;
        }
        case DType::F16: {
            const uint16_t half = floatToF16(values[i]);
            std::memcpy(out + 2 * i, &half, 2);
            break;
        }
        case DType::BF16: {
            const uint16_t half = floatToBf16(values[i]);
            std::memcpy(out + 2 * i, &half, 2);
            break;
        }
        default: assert(false && "fromFloats needs a floating dtype");
        }
    }
    return tensor;
}

namespace {

template <class T>
T load(const uint8_t* at) {
    T value;
    std::memcpy(&value, at, sizeof(T));
    return value;
}

} // namespace

std::vector<float> toFloats(const TensorView& tensor) {
    const std::size_t count = std::size_t(elementCount(tensor.shape));
    const std::size_t size = dtypeSize(tensor.dtype);
    assert(tensor.bytes.size() == count * size);
    std::vector<float> values(count);
    const uint8_t* in = tensor.bytes.data();
    for (std::size_t i = 0; i < count; ++i) {
        const uint8_t* at = in + i * size;
        switch (tensor.dtype) {
        case DType::F64: values[i] = float(load<double>(at)); break;
        case DType::F32: values[i] = load<float>(at); break;
        case DType::F16: values[i] = f16ToFloat(load<uint16_t>(at)); break;
        case DType::BF16: values[i] = bf16ToFloat(load<uint16_t>(at)); break;
        case DType::I64: values[i] = float(load<int64_t>(at)); break;
        case DType::I32: values[i] = float(load<int32_t>(at)); break;
        case DType::I16: values[i] = float(load<int16_t>(at)); break;
        case DType::I8: values[i] = float(load<int8_t>(at)); break;
        case DType::U64: values[i] = float(load<uint64_t>(at)); break;
        case DType::U32: values[i] = float(load<uint32_t>(at)); break;
        case DType::U16: values[i] = float(load<uint16_t>(at)); break;
        case DType::U8: values[i] = float(load<uint8_t>(at)); break;
        case DType::Bool: values[i] = load<uint8_t>(at) ? 1.0f : 0.0f; break;
        }
    }
    return values;
}

} // namespace astroclip
