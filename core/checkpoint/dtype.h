#pragma once
// Element types of the safetensors format and the scalar conversions between the 16-bit
// floating formats and float32. Values are stored little-endian; this code assumes a
// little-endian host (checked at compile time in dtype.cpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace astroclip {

// The safetensors dtype codes this build reads and writes. The 8-bit float formats of the
// spec (F8_E4M3, F8_E5M2) are refused on read with a message saying so.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, Bool };

// The code as written in a safetensors header ("F32", "BF16", "BOOL", ...).
std::string_view dtypeName(DType type);
// Parses a header code; nullopt for a code this build does not know.
std::optional<DType> parseDType(std::string_view name);
// Bytes per element.
std::size_t dtypeSize(DType type);
bool isFloatingDType(DType type);

// bfloat16 = the upper 16 bits of a float32. Rounds to nearest, ties to even; NaN stays a
// (quiet) NaN with its sign, infinities stay infinities.
uint16_t floatToBf16(float value);
float bf16ToFloat(uint16_t bits);

// IEEE 754 binary16. Rounds to nearest, ties to even, including into the subnormal range;
// magnitudes from 65520 up become infinity; NaN stays a quiet NaN.
uint16_t floatToF16(float value);
float f16ToFloat(uint16_t bits);

} // namespace astroclip
