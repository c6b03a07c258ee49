#pragma once
// Seeded clustered vectors that look like embeddings, for the maps tests and the UMAP
// benchmark: each cluster is a random centre plus an 8-dimensional random linear manifold
// (so a map has structure inside clusters to preserve, not only between them) plus a little
// isotropic noise. The generator is written out (mt19937_64 + Box–Muller) so the same seed
// gives the same vectors on every platform; the peers read the vectors from a file.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace astroclip::testdata {

class SeededNormal {
public:
    explicit SeededNormal(uint64_t seed) : engine_(seed) {}
    double operator()() {
        const double u1 = (double(engine_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
        const double u2 = double(engine_() >> 11) * 0x1.0p-53;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    uint64_t integer(uint64_t bound) { return engine_() % bound; }
private:
    std::mt19937_64 engine_;
};

// n × d float32, row-major; labels (cluster of each row) if asked.
inline std::vector<float> clusteredVectors(int64_t n, int64_t d, int clusters, uint64_t seed,
                                           std::vector<int>* labels = nullptr) {
    constexpr int kManifoldDims = 8;
    constexpr double kNoise = 0.1;
    SeededNormal normal(seed);
    std::vector<double> centres(clusters * d), bases(int64_t(clusters) * d * kManifoldDims);
    for (auto& c : centres) c = normal();
    for (auto& b : bases) b = normal() / std::sqrt(double(kManifoldDims));
    std::vector<float> x(n * d);
    if (labels) labels->assign(n, 0);
    for (int64_t i = 0; i < n; ++i) {
        const int c = int(normal.integer(clusters));
        if (labels) (*labels)[i] = c;
        double z[kManifoldDims];
        for (double& v : z) v = normal();
        for (int64_t j = 0; j < d; ++j) {
            double v = centres[c * d + j] + kNoise * normal();
            for (int m = 0; m < kManifoldDims; ++m) v += bases[(int64_t(c) * d + j) * kManifoldDims + m] * z[m];
            x[i * d + j] = float(v);
        }
    }
    return x;
}

} // namespace astroclip::testdata
