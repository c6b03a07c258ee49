#pragma once
// Held-out split by hashing (seed, object id): an object's side depends on nothing else, so
// it does not change when the catalog grows, objects are reordered or a selection narrows.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace astroclip {

struct SplitIndices {
    std::vector<size_t> train;    // indices into the ids passed in, ascending
    std::vector<size_t> heldOut;  // idem
};

// True when the object falls on the held-out side: a 64-bit mix (SplitMix64 finaliser) of
// seed and id, read as a uniform number u in [0, 1), is below heldOutFraction.
bool isHeldOut(int64_t id, double heldOutFraction, uint64_t seed);

// Each index once, on one side. The held-out share is heldOutFraction in expectation
// (binomial scatter). Throws UsageError for a fraction outside [0, 1].
SplitIndices splitHeldOut(const std::vector<int64_t>& ids, double heldOutFraction, uint64_t seed);

} // namespace astroclip
