#include "core/analysis/baselines.h"

#include "core/common/error.h"
#include "core/dataset/snapshot.h"
#include "core/maps/pca.h"

#include <algorithm>

namespace astroclip::analysis {

namespace {

constexpr int kPixelCrop = 64;        // central pixels kept (smaller cutouts are refused by the snapshot)
constexpr int kPixelBin = 2;          // binned to 32 × 32 per band: 3,072 values
constexpr int kFluxDownsample = 8;    // 7781 → 972 values

DatasetSnapshot load(Catalog& catalog, const std::vector<int64_t>& ids, Modality modality, const ProgressFn& progress) {
    SnapshotParams p;
    p.modality = modality;
    p.cropSize = kPixelCrop;
    p.spectrumDownsample = kFluxDownsample;
    p.ids = ids;
    return buildSnapshot(catalog, p, progress);
}

} // namespace

BaselineFeatures pixelFeatures(Catalog& catalog, const std::vector<int64_t>& ids, const ProgressFn& progress) {
    const auto snap = load(catalog, ids, Modality::Image, progress);
    const int s = snap.cropSize, b = s / kPixelBin;
    BaselineFeatures out;
    out.name = "pixels";
    out.unreadable = snap.counts.failed;
    out.features.ids = snap.ids;
    out.features.dim = 3 * b * b;
    out.features.values.assign(snap.size() * size_t(out.features.dim), 0.f);
    for (size_t n = 0; n < snap.size(); ++n)
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < b * kPixelBin; ++y)
                for (int x = 0; x < b * kPixelBin; ++x) {
                    const size_t src = ((n * 3 + size_t(c)) * size_t(s) + size_t(y)) * size_t(s) + size_t(x);
                    const size_t dst = n * size_t(out.features.dim) + (size_t(c) * size_t(b) + size_t(y / kPixelBin)) * size_t(b) +
                                       size_t(x / kPixelBin);
                    out.features.values[dst] += snap.images[src] / float(kPixelBin * kPixelBin);
                }
    return out;
}

BaselineFeatures fluxFeatures(Catalog& catalog, const std::vector<int64_t>& ids, const ProgressFn& progress) {
    const auto snap = load(catalog, ids, Modality::Spectrum, progress);
    BaselineFeatures out;
    out.name = "flux";
    out.unreadable = snap.counts.failed;
    out.features.ids = snap.ids;
    out.features.dim = snap.spectrumLength;
    out.features.values = snap.spectrumFlux;
    return out;
}

BaselineFeatures pcaFeatures(const BaselineFeatures& raw, int k) {
    const auto& f = raw.features;
    const int64_t n = int64_t(f.ids.size());
    k = int(std::min<int64_t>({int64_t(k), n - 1, int64_t(f.dim)}));
    if (k < 1) throw UsageError("too few objects (" + std::to_string(n) + ") for a PCA baseline");
    BaselineFeatures out;
    out.name = "pca" + std::to_string(k) + "(" + raw.name + ")";
    out.unreadable = raw.unreadable;
    out.features.ids = f.ids;
    out.features.dim = k;
    out.features.values = maps::pcaMap(f.values.data(), n, f.dim, k);
    return out;
}

} // namespace astroclip::analysis
