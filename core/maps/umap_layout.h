#pragma once
// UMAP's low-dimensional side, internal to core/maps: initial layouts and the SGD that
// optimises the map against the fuzzy graph (umap-learn 0.5.3's spectral_layout,
// simplicial_set_embedding and optimize_layout_euclidean).
#include "core/common/progress.h"
#include "core/maps/umap.h"
#include "core/maps/umap_graph.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astroclip::maps::detail {

// The eigenvectors of the normalised Laplacian I - D^-½ W D^-½ for its 2nd..(dim+1)th smallest
// eigenvalues (n × dim, row-major), or nullopt with the reason when the graph is not connected
// or the Lanczos iteration does not converge.
std::optional<std::vector<double>> spectralLayout(const SparseGraph& graph, int dim, std::string* whyNot);

// Scales a layout so its largest |coordinate| is 10 and adds N(0, 1e-4) noise (umap-learn's
// treatment of the spectral layout), as float32.
std::vector<float> noisyScale(const std::vector<double>& layout, uint64_t seed);

// Uniform in [-10, 10) per coordinate.
std::vector<float> randomLayout(int64_t n, int dim, uint64_t seed);

// Each column mapped linearly onto [0, 10] (a constant column becomes 0).
void rescaleColumns(std::vector<float>& layout, int64_t n, int dim);

struct SgdSettings {
    int dim = 2;
    int epochs = 200;
    double a = 0, b = 0;
    float learningRate = 1.0f;
    float repulsionStrength = 1.0f;
    int negativeSampleRate = 5;
    uint64_t seed = 0;
};

// Optimises `layout` (n × dim, in place) against the graph; reports "umap: optimise" per epoch.
void optimizeLayout(const SparseGraph& graph, std::vector<float>& layout, const SgdSettings& s,
                    const ProgressFn& progress);

// A counter-based random stream (splitmix64): the same key gives the same numbers whichever
// thread draws them.
class KeyedRandom {
public:
    KeyedRandom(uint64_t seed, uint64_t key1, uint64_t key2 = 0)
        : state_(mix(seed ^ mix(key1 + 0x632BE59BD9B4E019ull) ^ mix(key2 + 0x8CB92BA72F3D8DD7ull))) {}
    uint64_t next() { return mix(state_ += 0x9E3779B97F4A7C15ull); }
    // Uniform integer in [0, bound), bound < 2^32.
    uint32_t below(uint32_t bound) { return uint32_t(((next() >> 32) * uint64_t(bound)) >> 32); }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double normal();  // Box–Muller
private:
    static uint64_t mix(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint64_t state_;
};

} // namespace astroclip::maps::detail
