#include "core/dataset/split.h"

#include "core/common/error.h"

#include <cmath>
#include <string>

namespace astroclip {

namespace {

uint64_t mix64(uint64_t x) {  // SplitMix64 finaliser: every input bit affects every output bit
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void checkFraction(double f) {
    if (!(f >= 0.0 && f <= 1.0))
        throw UsageError("held-out fraction must be between 0 and 1, not " + std::to_string(f));
}

} // namespace

bool isHeldOut(int64_t id, double heldOutFraction, uint64_t seed) {
    checkFraction(heldOutFraction);
    // Two rounds so that neighbouring seeds and neighbouring ids give unrelated streams.
    const uint64_t h = mix64(mix64(seed) ^ static_cast<uint64_t>(id));
    const double u = double(h >> 11) * 0x1.0p-53;  // 53 bits → [0, 1)
    return u < heldOutFraction;
}

SplitIndices splitHeldOut(const std::vector<int64_t>& ids, double heldOutFraction, uint64_t seed) {
    checkFraction(heldOutFraction);
    SplitIndices out;
    for (size_t i = 0; i < ids.size(); ++i)
        (isHeldOut(ids[i], heldOutFraction, seed) ? out.heldOut : out.train).push_back(i);
    return out;
}

} // namespace astroclip
