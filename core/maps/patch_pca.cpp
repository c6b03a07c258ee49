#include "core/maps/patch_pca.h"

#include "core/common/error.h"
#include "core/maps/pca.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace astroclip::maps {

namespace {

// Whether patch (y, x) of a grid lies in its central quarter (the middle half in each axis).
bool central(int64_t y, int64_t x, int64_t grid) {
    const int64_t lo = grid / 4, hi = grid - grid / 4;
    return y >= lo && y < hi && x >= lo && x < hi;
}

} // namespace

PatchPcaResult patchPca(const float* patches, int64_t n, int64_t grid, int64_t d, const PatchPcaParams& params,
                        const ProgressFn& progress) {
    if (n < 1 || grid < 2 || d < 3)
        throw UsageError("patch PCA needs at least one image of 2 × 2 patches of 3 or more features (got " +
                         std::to_string(n) + " images, grid " + std::to_string(grid) + ", " + std::to_string(d) +
                         " features)");
    const int64_t per = grid * grid, total = n * per;
    PatchPcaResult r;
    r.images = n;
    r.grid = grid;

    // 1. The first component over every patch of the set.
    PcaModel first;
    const auto pc1 = pcaMap(patches, total, d, 1, progress, &first);
    r.firstComponentShare = first.explainedVarianceRatio.at(0);
    const auto [lo, hi] = std::minmax_element(pc1.begin(), pc1.end());
    const double span = std::max(double(*hi - *lo), 1e-30);
    std::vector<double> scaled(static_cast<size_t>(total));
    for (int64_t i = 0; i < total; ++i) scaled[size_t(i)] = (pc1[size_t(i)] - *lo) / span;
    // Sign: the central patches are the target's, so they should be foreground.
    int64_t centralAbove = 0, centralCount = 0;
    for (int64_t k = 0; k < n; ++k)
        for (int64_t y = 0; y < grid; ++y)
            for (int64_t x = 0; x < grid; ++x)
                if (central(y, x, grid)) {
                    ++centralCount;
                    centralAbove += scaled[size_t(k * per + y * grid + x)] > params.threshold;
                }
    const bool flip = 2 * centralAbove < centralCount;
    r.foreground.resize(size_t(total));
    std::vector<int64_t> fg;
    for (int64_t i = 0; i < total; ++i) {
        const double s = flip ? 1.0 - scaled[size_t(i)] : scaled[size_t(i)];
        r.foreground[size_t(i)] = s > params.threshold;
        if (r.foreground[size_t(i)]) fg.push_back(i);
    }
    if (fg.size() < 4)
        throw UsageError("patch PCA found " + std::to_string(fg.size()) +
                         " foreground patches in the set: too few for three colour components");

    // 2. Three components over the foreground patches only.
    std::vector<float> fgPatches(fg.size() * size_t(d));
    for (size_t j = 0; j < fg.size(); ++j)
        std::copy_n(patches + fg[j] * d, d, fgPatches.data() + j * size_t(d));
    const int k = int(std::min<int64_t>({3, int64_t(fg.size()) - 1, d}));
    PcaModel colours;
    const auto c = pcaMap(fgPatches.data(), int64_t(fg.size()), d, k, progress, &colours);
    r.colourShares = colours.explainedVarianceRatio;
    r.rgb.assign(size_t(total) * 3, 0.f);
    for (int ch = 0; ch < k; ++ch) {
        float cmin = c[size_t(ch)], cmax = c[size_t(ch)];
        for (size_t j = 0; j < fg.size(); ++j) {
            cmin = std::min(cmin, c[j * size_t(k) + size_t(ch)]);
            cmax = std::max(cmax, c[j * size_t(k) + size_t(ch)]);
        }
        const float cspan = std::max(cmax - cmin, 1e-30f);
        for (size_t j = 0; j < fg.size(); ++j)
            r.rgb[size_t(fg[j]) * 3 + size_t(ch)] = (c[j * size_t(k) + size_t(ch)] - cmin) / cspan;
    }
    return r;
}

} // namespace astroclip::maps
