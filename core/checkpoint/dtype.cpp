#include "core/checkpoint/dtype.h"

#include <array>
#include <bit>
#include <cassert>
#include <cmath>

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O copies little-endian bytes as they are; a big-endian host needs byte swaps");

namespace astroclip {

namespace {

struct DTypeInfo {
    DType type;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<DTypeInfo, 13> kDTypes{{
    {DType::F64, "F64", 8},  {DType::F32, "F32", 4},  {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},  {DType::I8, "I8", 1},    {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},  {DType::U16, "U16", 2},  {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
}};

const DTypeInfo& info(DType type) {
    for (const auto& entry : kDTypes)
        if (entry.type == type) return entry;
    assert(false && "every DType has an entry in kDTypes");
    __builtin_unreachable();
}

} // namespace

std::string_view dtypeName(DType type) { return info(type).name; }

std::size_t dtypeSize(DType type) { return info(type).size; }

std::optional<DType> parseDType(std::string_view name) {
    for (const auto& entry : kDTypes)
        if (entry.name == name) return entry.type;
    return std::nullopt;
}

bool isFloatingDType(DType type) {
    return type == DType::F64 || type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

uint16_t floatToBf16(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u)  // NaN: truncating could leave an infinity
        return uint16_t((bits >> 16) | 0x0040u);
    // Adding 0x7FFF (+1 when the kept part is odd) carries into bit 16 exactly when the
    // dropped half is above one half-ulp, or equal to it with an odd kept part.
    const uint32_t roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
    return uint16_t((bits + roundingBias) >> 16);
}

float bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }

uint16_t floatToF16(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7FFFFFFFu;

    if (magnitude >= 0x7F800000u) {  // infinity or NaN
        const bool isNan = magnitude > 0x7F800000u;
        return uint16_t(sign | 0x7C00u | (isNan ? 0x0200u | ((magnitude >> 13) & 0x03FFu) : 0u));
    }
    // 0x477FF000 = 65520, the midpoint between the largest half (65504) and 2^16; ties go to
    // the even neighbour, which is infinity.
    if (magnitude >= 0x477FF000u) return uint16_t(sign | 0x7C00u);

    auto roundShift = [](uint32_t mantissa, unsigned shift) {
        const uint32_t kept = mantissa >> shift;
        const uint32_t dropped = mantissa & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1);
        return kept + ((dropped > half || (dropped == half && (kept & 1u))) ? 1u : 0u);
    };

    if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
        const unsigned exponent = magnitude >> 23;
        // value / 2^-24 = mantissa * 2^(exponent - 126); shifts past 24 round to zero.
        const unsigned shift = 126u - exponent;
        if (shift > 24) return sign;
        const uint32_t mantissa = (magnitude & 0x007FFFFFu) | 0x00800000u;
        return uint16_t(sign | roundShift(mantissa, shift));  // 0x400 = smallest normal, correctly
    }
    // Normal: re-bias the exponent (127 -> 15) and drop 13 mantissa bits; a carry out of the
    // mantissa correctly bumps the exponent.
    const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
    return uint16_t(sign | roundShift(rebiased, 13));
}

float f16ToFloat(uint16_t bits) {
    const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1Fu;
    const uint32_t mantissa = bits & 0x03FFu;
    if (exponent == 0) {
        const float magnitude = std::ldexp(float(mantissa), -24);  // exact: subnormal or zero
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

} // namespace astroclip
