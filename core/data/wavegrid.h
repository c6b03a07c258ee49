#pragma once
// The canonical spectral grid: DESI's coadd grid, 3600–9824 Å in 0.8 Å steps (7781 pixels),
// vacuum wavelengths, flux in 1e-17 erg/s/cm²/Å.
#include <cstddef>
#include <span>
#include <vector>

namespace astroclip {

struct DesiGrid {
    static constexpr double kWaveMin = 3600.0;   // Å, centre of pixel 0
    static constexpr double kStep = 0.8;         // Å
    static constexpr int kSize = 7781;
    static constexpr double kWaveMax = kWaveMin + kStep * (kSize - 1);  // 9824 Å
    static double wave(int i) { return kWaveMin + kStep * i; }
    static std::vector<double> waves();
};

// Pixel edges of a grid given by increasing pixel centres (midpoints between centres; the
// outer edges mirror the first and last half-widths). size = centres.size() + 1.
std::vector<double> pixelEdges(std::span<const double> centres);

// Flux-conserving rebinning of a binned spectrum (flux density per Å) with inverse variance.
// Each output pixel gets the overlap-weighted mean of the input pixels it covers; ivar is
// propagated as for a weighted mean of independent pixels. Output pixels not fully covered
// by good input (ivar > 0, finite flux) get flux 0, ivar 0 and mask 1.
// inWave: pixel centres (increasing); outWave: pixel centres (increasing).
struct Rebinned {
    std::vector<float> flux, ivar;
    std::vector<unsigned char> mask;  // 1 = no valid data
};
Rebinned rebinSpectrum(std::span<const double> inWave, std::span<const double> inFlux,
                       std::span<const double> inIvar, std::span<const double> outWave);

// Same for a noiseless model sampled at points (templates): the mean of the linearly
// interpolated function over each output pixel. Outside [inWave.front(), inWave.back()] → 0.
std::vector<double> integrateMeanPerPixel(std::span<const double> inWave, std::span<const double> inValue,
                                          std::span<const double> outEdges);

} // namespace astroclip
