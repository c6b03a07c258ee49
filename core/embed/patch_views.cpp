#include "core/embed/patch_views.h"

#include "core/common/error.h"
#include "core/dataset/snapshot.h"
#include "core/embed/encode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace astroclip::embed {

namespace {

uint8_t toByte(double v) { return uint8_t(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

// Lupton et al. (2004) asinh colour composite: one stretch for all bands so colours stay true,
// the object's 99th-percentile intensity near white.
RgbImage composite(const float* gri, int s) {
    const size_t plane = size_t(s) * size_t(s);
    std::vector<float> intensity(plane);
    for (size_t i = 0; i < plane; ++i) intensity[i] = std::max(0.f, (gri[i] + gri[plane + i] + gri[2 * plane + i]) / 3.f);
    auto sorted = intensity;
    std::nth_element(sorted.begin(), sorted.begin() + long(plane * 99 / 100), sorted.end());
    const double top = std::max(double(sorted[plane * 99 / 100]), 1e-6);
    constexpr double kQ = 8.0;
    RgbImage img(s, s);
    for (int y = 0; y < s; ++y)
        for (int x = 0; x < s; ++x) {
            const size_t i = size_t(y) * size_t(s) + size_t(x);
            const double in = intensity[i] / top;
            const double f = in > 0 ? std::asinh(kQ * in) / (std::asinh(kQ) * in) : 0.0;
            uint8_t* px = img.at(x, s - 1 - y);  // FITS rows run bottom to top
            px[0] = toByte(gri[2 * plane + i] / top * f);
            px[1] = toByte(gri[plane + i] / top * f);
            px[2] = toByte(gri[i] / top * f);
        }
    return img;
}

RgbImage featureImage(const maps::PatchPcaResult& r, int64_t object, int patchSize) {
    const int g = int(r.grid), s = g * patchSize;
    RgbImage img(s, s);
    for (int py = 0; py < g; ++py)
        for (int px = 0; px < g; ++px) {
            const float* c = r.rgb.data() + (size_t(object) * size_t(g * g) + size_t(py * g + px)) * 3;
            for (int y = 0; y < patchSize; ++y)
                for (int x = 0; x < patchSize; ++x) {
                    uint8_t* p = img.at(px * patchSize + x, s - 1 - (py * patchSize + y));  // as the composite
                    p[0] = toByte(c[0]);
                    p[1] = toByte(c[1]);
                    p[2] = toByte(c[2]);
                }
        }
    return img;
}

} // namespace

PatchViews makePatchViews(Catalog& catalog, runs::TrainedEncoders& encoders, const PatchViewParams& params) {
    runs::requireEncoder(encoders, Modality::Image, runs::EmbeddingSpace::Backbone);
    if (params.ids.empty()) throw UsageError("no object to draw patch features of");
    SnapshotParams sp = encoders.snapshotParams(Modality::Image);
    sp.ids = params.ids;
    std::sort(sp.ids->begin(), sp.ids->end());
    sp.ids->erase(std::unique(sp.ids->begin(), sp.ids->end()), sp.ids->end());
    const auto snap = buildSnapshot(catalog, sp, params.progress);

    PatchViews v;
    v.cropSize = snap.cropSize;
    v.patchSize = int((*encoders.vit)->config().patchSize);
    std::unordered_map<int64_t, int64_t> row;
    for (size_t i = 0; i < snap.ids.size(); ++i) row[snap.ids[i]] = int64_t(i);
    std::vector<int64_t> order;  // snapshot rows in the order asked
    for (const int64_t id : params.ids) {
        const auto it = row.find(id);
        if (it == row.end()) {
            v.skipped.push_back(id);
        } else if (std::find(v.ids.begin(), v.ids.end(), id) == v.ids.end()) {
            v.ids.push_back(id);
            order.push_back(it->second);
        }
    }
    const int64_t n = int64_t(snap.size()), s = snap.cropSize;
    const auto images = torch::from_blob(const_cast<float*>(snap.images.data()), {n, 3, s, s}, torch::kFloat)
                            .index_select(0, torch::tensor(order, torch::kLong));
    EncodeOptions options;
    options.batchSize = params.batchSize;
    options.device = encoders.device;
    options.progress = params.progress;
    const auto patches = encodeImagePatches(**encoders.vit, images, encoders.imageNormalization, options).contiguous();
    const int64_t grid = s / v.patchSize;
    v.pca = maps::patchPca(patches.data_ptr<float>(), patches.size(0), grid, patches.size(2), params.pca, params.progress);
    for (size_t k = 0; k < order.size(); ++k) {
        v.galaxies.push_back(composite(snap.images.data() + size_t(order[k]) * size_t(3 * s * s), int(s)));
        v.features.push_back(featureImage(v.pca, int64_t(k), v.patchSize));
    }
    return v;
}

RgbImage patchMontage(const PatchViews& views, int columns) {
    const int n = int(views.ids.size());
    if (n == 0) return {};
    const int cell = views.galaxies.front().width, gap = 4;
    const int cols = std::min(columns, n), rows = (n + cols - 1) / cols;
    RgbImage m(cols * (cell + gap) + gap, rows * (2 * cell + 3 * gap));
    std::fill(m.rgb.begin(), m.rgb.end(), uint8_t(40));  // dark grey frame
    for (int k = 0; k < n; ++k) {
        const int ox = gap + (k % cols) * (cell + gap), oy = gap + (k / cols) * (2 * cell + 3 * gap);
        for (int part = 0; part < 2; ++part) {
            const RgbImage& src = part == 0 ? views.galaxies[size_t(k)] : views.features[size_t(k)];
            for (int y = 0; y < std::min(cell, src.height); ++y)
                for (int x = 0; x < std::min(cell, src.width); ++x)
                    std::copy_n(src.rgb.data() + (size_t(y) * size_t(src.width) + size_t(x)) * 3, 3,
                                m.at(ox + x, oy + part * (cell + gap) + y));
        }
    }
    return m;
}

} // namespace astroclip::embed
