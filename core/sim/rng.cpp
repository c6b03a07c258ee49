#include "core/sim/galaxy.h"

namespace astroclip::sim {

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
} // namespace

Rng makeRng(uint64_t seed, uint64_t index, uint64_t purpose) {
    const uint64_t s = splitmix64(splitmix64(splitmix64(seed) ^ index) ^ (purpose * 0xD1B54A32D192ED03ull));
    std::seed_seq seq{uint32_t(s), uint32_t(s >> 32), uint32_t(index), uint32_t(purpose)};
    return Rng(seq);
}

} // namespace astroclip::sim
