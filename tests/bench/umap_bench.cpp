// astroclip-umap-bench: wall time and trustworthiness of our UMAP on seeded clustered 512-d
// vectors (tests/maps/clustered_vectors.h), for packaging/bench/umap.sh, which runs umap-learn
// (packaging/bench/umap_peer.py) on the same vectors and scores its map here with the same
// trustworthiness code and the same query sample.
//   --write-data FILE   only write the vectors (raw float32, n × d) for the peer, and exit
//   --peer-map FILE     also score the peer's map (raw float32, n × dims)
// Prints one JSON object.
#include "core/common/error.h"
#include "core/maps/trustworthiness.h"
#include "core/maps/umap.h"
#include "tests/maps/clustered_vectors.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <sys/resource.h>

using namespace astroclip;

namespace {

// CPU time of all threads of this process: on a shared machine the wall time depends on the
// other load, the CPU time much less.
double processCpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"UMAP benchmark: our wall time and trustworthiness on seeded clustered vectors"};
    int64_t n = 10000, d = 512;
    int clusters = 20, threads = 2, dims = 2, trustQueries = 5000;
    uint64_t seed = 42;
    std::string writeData, peerMap, knn = "auto";
    app.add_option("--n", n, "points")->check(CLI::PositiveNumber);
    app.add_option("--d", d, "dimensions")->check(CLI::PositiveNumber);
    app.add_option("--clusters", clusters, "clusters")->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "data seed");
    app.add_option("--threads", threads, "threads")->check(CLI::PositiveNumber);
    app.add_option("--dims", dims, "map dimensions (2 or 3)");
    app.add_option("--trust-queries", trustQueries, "query points sampled for trustworthiness (0 = all)");
    app.add_option("--write-data", writeData, "write the vectors (raw float32) and exit");
    app.add_option("--peer-map", peerMap, "score this map (raw float32, n × dims) too");
    app.add_option("--knn", knn, "k-NN graph: auto, exact or approximate")->check(CLI::IsMember({"auto", "exact", "approximate"}));
    CLI11_PARSE(app, argc, argv);

    const auto x = testdata::clusteredVectors(n, d, clusters, seed);
    if (!writeData.empty()) {
        std::ofstream(writeData, std::ios::binary).write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * 4));
        return 0;
    }
    try {
        maps::UmapParams p;
        p.nComponents = dims;
        p.threads = threads;
        p.seed = seed;
        p.knn = knn == "exact" ? maps::UmapKnn::Exact : knn == "approximate" ? maps::UmapKnn::Approximate : maps::UmapKnn::Auto;
        maps::UmapInfo info;
        // Seconds from the start to the end of each phase, from the progress reports.
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = processCpuSeconds();
        nlohmann::json phases = nlohmann::json::object();
        const ProgressFn timePhases = [&](const Progress& pr) {
            phases[pr.stage] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return true;
        };
        const auto map = maps::Umap::fit(x.data(), n, d, p, timePhases, &info);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpuSeconds = processCpuSeconds() - cpu0;
        maps::TrustworthinessOptions o;
        o.maxQueries = trustQueries;
        o.seed = 1;
        o.threads = threads;
        nlohmann::json out{{"n", n}, {"d", d}, {"seconds", seconds}, {"cpu_seconds", cpuSeconds}, {"knn", info.knnMethod}, {"init", info.initUsed},
                           {"epochs", info.nEpochs}, {"phases_end_s", phases}, {"trust", maps::trustworthiness(x.data(), n, d, map.data(), dims, o)},
                           {"trust_queries", trustQueries > 0 && trustQueries < n ? trustQueries : n}};
        if (!peerMap.empty()) {
            std::vector<float> peer(n * dims);
            std::ifstream in(peerMap, std::ios::binary);
            if (!in.read(reinterpret_cast<char*>(peer.data()), std::streamsize(peer.size() * 4)))
                throw FileError(peerMap, "shorter than " + std::to_string(n) + " × " + std::to_string(dims) + " float32 values");
            out["peer_trust"] = maps::trustworthiness(x.data(), n, d, peer.data(), dims, o);
        }
        std::cout << out.dump() << std::endl;
    } catch (const Error& e) {
        std::fprintf(stderr, "astroclip-umap-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
