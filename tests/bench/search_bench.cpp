// Search latency of our VectorIndex (core/index) for packaging/bench/search.sh, beside the same
// searches in python3-faiss (packaging/bench/faiss_search.py) on the same vectors: raw float32
// files written once by faiss_search.py make, read by both sides. For each factory: build
// (train on the first `train` vectors where needed, add all), then single-query latency over
// the queries (k neighbours, one search() call per query, after a warm-up), reported as
// p50/p99 in milliseconds; approximate indices also report recall@k against the first exact
// ("Flat" or "torch...") factory of the same run. Prints one JSON object per factory, a line each.
#include "core/index/vector_index.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <vector>

using namespace astroclip;

namespace {

std::vector<float> readFloats(const std::string& path, int64_t rows, int64_t dim) {
    std::vector<float> values(size_t(rows * dim));
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(values.data()), std::streamsize(values.size() * sizeof(float)));
    if (!in) throw std::runtime_error(path + ": cannot read " + std::to_string(rows) + " × " + std::to_string(dim) + " floats");
    return values;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const double at = p * double(values.size() - 1);
    const auto lo = size_t(at);
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (at - double(lo)) * (values[hi] - values[lo]);
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Single-query search latency of AstroCLIP's VectorIndex"};
    std::string basePath, queryPath;
    int64_t n = 0, nq = 0, dim = 512, k = 16, train = 100000, warmup = 10;
    int threads = 0;
    std::vector<std::string> factories;
    app.add_option("--base", basePath, "float32 [n, dim] vectors")->required();
    app.add_option("--queries", queryPath, "float32 [nq, dim] queries")->required();
    app.add_option("--n", n)->required();
    app.add_option("--nq", nq)->required();
    app.add_option("--dim", dim);
    app.add_option("--k", k);
    app.add_option("--train", train, "training vectors for indices that need training");
    app.add_option("--warmup", warmup);
    app.add_option("--threads", threads);
    app.add_option("--factory", factories, "index factory strings, exact one first")->required();
    CLI11_PARSE(app, argc, argv);

    const auto base = readFloats(basePath, n, dim);
    const auto queries = readFloats(queryPath, nq, dim);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = i;

    std::vector<std::vector<int64_t>> exact;  // [nq][k] from the first exact factory
    for (const auto& factory : factories) {
        auto idx = index::makeIndex(factory, dim);
        idx->setThreads(threads);
        const auto t0 = std::chrono::steady_clock::now();
        if (!idx->isTrained()) idx->train(std::span(base).first(size_t(std::min(n, train) * dim)), std::min(n, train));
        idx->add(base, ids);
        const auto t1 = std::chrono::steady_clock::now();

        std::vector<double> latencies;
        std::vector<std::vector<int64_t>> found(static_cast<size_t>(nq));
        for (int64_t w = 0; w < std::min(warmup, nq); ++w)
            idx->search(std::span(queries).subspan(size_t(w * dim), size_t(dim)), 1, k);
        for (int64_t q = 0; q < nq; ++q) {
            const auto s0 = std::chrono::steady_clock::now();
            const auto result = idx->search(std::span(queries).subspan(size_t(q * dim), size_t(dim)), 1, k);
            const auto s1 = std::chrono::steady_clock::now();
            latencies.push_back(1000.0 * seconds(s0, s1));
            found[size_t(q)] = result.ids;
        }
        const bool isExact = factory == "Flat" || factory.rfind("torch", 0) == 0;
        nlohmann::json out{{"factory", factory}, {"n", n}, {"dim", dim}, {"k", k}, {"queries", nq},
                           {"build_s", seconds(t0, t1)}, {"p50_ms", percentile(latencies, 0.5)},
                           {"p99_ms", percentile(latencies, 0.99)}};
        if (isExact && exact.empty()) exact = found;
        if (!isExact && !exact.empty()) {
            double hits = 0;
            for (int64_t q = 0; q < nq; ++q) {
                const std::set<int64_t> truth(exact[size_t(q)].begin(), exact[size_t(q)].end());
                for (int64_t id : found[size_t(q)]) hits += truth.count(id);
            }
            out["recall"] = hits / double(nq * k);
        }
        std::cout << out.dump() << std::endl;
    }
    return 0;
}
