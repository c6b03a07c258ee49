#pragma once
// Spectra as the spectrum encoder takes them: flux and inverse variance on the canonical grid
// (DesiGrid, 7781 px), optionally downsampled by an integer factor for small CPU models.
#include "core/data/records.h"

#include <vector>

namespace astroclip {

struct SpectrumArrays {
    std::vector<float> flux;  // [L]; 0 where ivar == 0
    std::vector<float> ivar;  // [L]; 0 = no valid data
};

// Pixels after downsampling the canonical grid by `factor` (≥ 1): floor(7781 / factor).
// The remainder (7781 mod factor pixels at the red end, e.g. 1 px at 9824 Å for factor 4)
// is dropped, so every output pixel spans exactly `factor` input pixels and the output grid
// stays regular.
int downsampledLength(int factor);
// Centre wavelength (Å) of output pixel k: the mean of its input pixels' centres,
// 3600 + 0.8 · (k·factor + (factor − 1)/2).
double downsampledWave(int k, int factor);

// Valid input pixels: mask == 0, ivar > 0 and both values finite. Everything else gets zero
// weight. Output pixel k = inverse-variance-weighted mean of its group,
//   flux_k = Σ ivar_i flux_i / Σ ivar_i,   ivar_k = Σ ivar_i   (the variance of that mean),
// and flux 0, ivar 0 for a group without a valid pixel. factor 1 returns the canonical
// arrays with invalid pixels zeroed. Throws UsageError for factor < 1 or a record whose arrays
// are not 7781 long (a catalog from another build).
SpectrumArrays spectrumArrays(const SpectrumRecord& spectrum, int factor = 1);

// Number of valid canonical pixels (as defined above).
int validSpectrumPixels(const SpectrumRecord& spectrum);

} // namespace astroclip
