#include "core/dataset/spectrum_arrays.h"

#include "core/common/error.h"
#include "core/data/wavegrid.h"

#include <cmath>

namespace astroclip {

namespace {

void checkFactor(int factor) {
    if (factor < 1 || factor > DesiGrid::kSize)
        throw UsageError("spectrum downsampling factor must be between 1 and " + std::to_string(DesiGrid::kSize) +
                         ", not " + std::to_string(factor));
}

void checkRecord(const SpectrumRecord& s) {
    const size_t n = DesiGrid::kSize;
    if (s.flux.size() != n || s.ivar.size() != n || (!s.mask.empty() && s.mask.size() != n))
        throw UsageError(s.path + ": the catalog's spectrum has " + std::to_string(s.flux.size()) +
                         " pixels, not the canonical " + std::to_string(n) + "; ingest the file again with this build");
}

bool validPixel(const SpectrumRecord& s, size_t i) {
    return (s.mask.empty() || s.mask[i] == 0) && std::isfinite(s.flux[i]) && std::isfinite(s.ivar[i]) && s.ivar[i] > 0;
}

} // namespace

int downsampledLength(int factor) {
    checkFactor(factor);
    return DesiGrid::kSize / factor;
}

double downsampledWave(int k, int factor) {
    return DesiGrid::kWaveMin + DesiGrid::kStep * (double(k) * factor + (factor - 1) / 2.0);
}

int validSpectrumPixels(const SpectrumRecord& spectrum) {
    checkRecord(spectrum);
    int n = 0;
    for (size_t i = 0; i < spectrum.flux.size(); ++i) n += validPixel(spectrum, i);
    return n;
}

SpectrumArrays spectrumArrays(const SpectrumRecord& spectrum, int factor) {
    checkRecord(spectrum);
    const int length = downsampledLength(factor);
    SpectrumArrays out;
    out.flux.assign(size_t(length), 0.0f);
    out.ivar.assign(size_t(length), 0.0f);
    for (int k = 0; k < length; ++k) {
        // Sums in double: up to thousands of terms with ivar spanning orders of magnitude.
        double weight = 0, weighted = 0;
        for (int j = 0; j < factor; ++j) {
            const size_t i = size_t(k) * size_t(factor) + size_t(j);
            if (!validPixel(spectrum, i)) continue;
            weight += spectrum.ivar[i];
            weighted += double(spectrum.ivar[i]) * spectrum.flux[i];
        }
        if (weight <= 0) continue;
        if (factor == 1) {  // exact copy, no rounding through double division
            out.flux[size_t(k)] = spectrum.flux[size_t(k)];
            out.ivar[size_t(k)] = spectrum.ivar[size_t(k)];
        } else {
            out.flux[size_t(k)] = float(weighted / weight);
            out.ivar[size_t(k)] = float(weight);
        }
    }
    return out;
}

} // namespace astroclip
