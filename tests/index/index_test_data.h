#pragma once
// Seeded clustered vectors for the index tests: points scattered around random cluster
// centres (like embeddings of a survey with a few kinds of galaxies), queries drawn the same
// way, and ids that are not positions (1000 + 7·i) so a mix-up of the two shows.
#include <cstdint>
#include <random>
#include <vector>

namespace index_test {

struct Clustered {
    int64_t n = 0, nq = 0, d = 0;
    std::vector<float> vectors;  // [n, d]
    std::vector<int64_t> ids;    // [n]
    std::vector<float> queries;  // [nq, d]
};

inline int64_t idOf(int64_t row) { return 1000 + 7 * row; }

inline Clustered makeClustered(int64_t n, int64_t nq, int64_t d, int clusters, uint32_t seed, float spread = 0.35f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    std::vector<float> centres(size_t(clusters * d));
    for (auto& c : centres) c = normal(rng);
    auto draw = [&](std::vector<float>& out, int64_t rows) {
        out.resize(size_t(rows * d));
        for (int64_t r = 0; r < rows; ++r) {
            const int c = pick(rng);
            for (int64_t j = 0; j < d; ++j) out[size_t(r * d + j)] = centres[size_t(c * d + j)] + spread * normal(rng);
        }
    };
    Clustered data;
    data.n = n;
    data.nq = nq;
    data.d = d;
    draw(data.vectors, n);
    draw(data.queries, nq);
    for (int64_t i = 0; i < n; ++i) data.ids.push_back(idOf(i));
    return data;
}

} // namespace index_test
