#include "core/sim/psf.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <numbers>

namespace astroclip::sim {

namespace {
// Three-Gaussian fit to a Moffat β = 3.5 of unit FWHM (weights sum to 1; σ in FWHM units,
// rescaled so that the mixture's own FWHM is exactly 1).
constexpr std::array<double, 3> kMixtureWeights = {0.43018646, 0.53954469, 0.03026886};
constexpr std::array<double, 3> kMixtureSigmaPerFwhm = {0.36912316, 0.64717225, 1.58398883};
constexpr double kKernelHalfWidthSigmas = 3.5;

// Four floats processed together (GCC/Clang vector extension, SSE2 on baseline x86-64); two
// of them per step so that the additions form two independent chains.
typedef float Float4 __attribute__((vector_size(16)));
inline Float4 load4(const float* p) { Float4 v; std::memcpy(&v, p, sizeof v); return v; }
inline void store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof v); }

// out[y][x] = Σ_j k[j] in[y][x + j - r], zero outside the row.
void convolveRows(const float* in, float* out, int width, int height, const std::vector<float>& k,
                  std::vector<float>& padded) {
    const int taps = int(k.size()), r = taps / 2;
    padded.assign(size_t(width + 2 * r + 8), 0.0f);
    for (int y = 0; y < height; ++y) {
        std::copy(in + size_t(y) * width, in + size_t(y + 1) * width, padded.begin() + r);
        float* o = out + size_t(y) * width;
        int x = 0;
        for (; x + 8 <= width; x += 8) {
            Float4 lo = {}, hi = {};
            for (int j = 0; j < taps; ++j) {
                const float* p = padded.data() + x + j;
                lo += k[size_t(j)] * load4(p);
                hi += k[size_t(j)] * load4(p + 4);
            }
            store4(o + x, lo);
            store4(o + x + 4, hi);
        }
        for (; x < width; ++x) {
            float acc = 0;
            for (int j = 0; j < taps; ++j) acc += k[size_t(j)] * padded[size_t(x + j)];
            o[x] = acc;
        }
    }
}

// out[y][x] += weight Σ_j k[j] in[y + j - r][x], zero outside the column.
void addConvolvedColumns(const float* in, float* out, int width, int height, const std::vector<float>& k, float weight) {
    const int r = int(k.size() / 2);
    for (int y = 0; y < height; ++y) {
        float* o = out + size_t(y) * width;
        const int jLo = std::max(0, r - y), jHi = std::min(int(k.size()) - 1, r + height - 1 - y);
        int x = 0;
        for (; x + 8 <= width; x += 8) {
            Float4 lo = {}, hi = {};
            for (int j = jLo; j <= jHi; ++j) {
                const float* p = in + size_t(y + j - r) * width + x;
                lo += k[size_t(j)] * load4(p);
                hi += k[size_t(j)] * load4(p + 4);
            }
            store4(o + x, load4(o + x) + weight * lo);
            store4(o + x + 4, load4(o + x + 4) + weight * hi);
        }
        for (; x < width; ++x) {
            float acc = 0;
            for (int j = jLo; j <= jHi; ++j) acc += k[size_t(j)] * in[size_t(y + j - r) * width + x];
            o[x] += weight * acc;
        }
    }
}
} // namespace

GaussianMixturePsf::GaussianMixturePsf(double fwhmArcsec, double pixelScaleArcsec) : fwhmArcsec_(fwhmArcsec) {
    assert(fwhmArcsec > 0 && pixelScaleArcsec > 0);
    const double fwhmPix = fwhmArcsec / pixelScaleArcsec;
    for (int i = 0; i < kComponents; ++i) {
        weights_[i] = kMixtureWeights[i];
        sigmasPix_[i] = kMixtureSigmaPerFwhm[i] * fwhmPix;
        const int r = std::max(1, int(std::ceil(kKernelHalfWidthSigmas * sigmasPix_[i])));
        std::vector<float> k(size_t(2 * r + 1));
        double sum = 0;
        for (int j = -r; j <= r; ++j) sum += k[size_t(j + r)] = float(std::exp(-0.5 * j * j / (sigmasPix_[i] * sigmasPix_[i])));
        for (float& v : k) v = float(v / sum);
        kernels_[i] = std::move(k);
    }
}

double GaussianMixturePsf::value(double rPix) const {
    double v = 0;
    for (int i = 0; i < kComponents; ++i) {
        const double s2 = sigmasPix_[i] * sigmasPix_[i];
        v += weights_[i] / (2.0 * std::numbers::pi * s2) * std::exp(-0.5 * rPix * rPix / s2);
    }
    return v;
}

void GaussianMixturePsf::convolve(float* image, int width, int height) const {
    const size_t npix = size_t(width) * height;
    std::vector<float> result(npix, 0.0f), rows(npix), padded;
    for (int i = 0; i < kComponents; ++i) {
        convolveRows(image, rows.data(), width, height, kernels_[i], padded);
        addConvolvedColumns(rows.data(), result.data(), width, height, kernels_[i], float(weights_[i]));
    }
    std::copy(result.begin(), result.end(), image);
}

void GaussianMixturePsf::convolveFootprint(float* image, int width, int height) const {
    int x0 = width, x1 = -1, y0 = height, y1 = -1;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            if (image[size_t(y) * width + x] != 0.0f) {
                x0 = std::min(x0, x); x1 = std::max(x1, x);
                y0 = std::min(y0, y); y1 = std::max(y1, y);
            }
    if (x1 < 0) return;   // nothing to spread
    const int reach = int(kernels_[kComponents - 1].size() / 2);   // the widest kernel
    x0 = std::max(0, x0 - reach); x1 = std::min(width - 1, x1 + reach);
    y0 = std::max(0, y0 - reach); y1 = std::min(height - 1, y1 + reach);
    if (x0 == 0 && y0 == 0 && x1 == width - 1 && y1 == height - 1) return convolve(image, width, height);
    const int w = x1 - x0 + 1, h = y1 - y0 + 1;
    std::vector<float> box(size_t(w) * h);
    for (int y = 0; y < h; ++y) std::copy_n(image + size_t(y + y0) * width + x0, w, box.begin() + size_t(y) * w);
    convolve(box.data(), w, h);
    for (int y = 0; y < h; ++y) std::copy_n(box.begin() + size_t(y) * w, w, image + size_t(y + y0) * width + x0);
}

} // namespace astroclip::sim
