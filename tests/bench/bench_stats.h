#pragma once
// What the benchmark programs report besides their own figures: the median of the timed
// repetitions (robust to a stray slow one on a shared machine) and the process's RSS
// high-water mark.
#include <sys/resource.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

namespace astroclip::bench {

inline double median(std::vector<double> values) {
    assert(!values.empty());
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

inline int64_t peakRssBytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return int64_t(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

} // namespace astroclip::bench
