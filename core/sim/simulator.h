#pragma once
// The survey simulator's driver: draws n targets (BGS, LRG, ELG) with blends and tidal
// features, renders their g,r,z cutouts, simulates their DESI spectra and redshift fits, and
// writes the whole survey as real surveys would (see survey_files.h and render.h):
//   <outDir>/cutouts/cutout-<TARGETID>.fits
//   <outDir>/spectra/coadd-sim-<k>.fits, redrock-sim-<k>.fits   (≤ targetsPerFile each)
//   <outDir>/truth.fits
// Deterministic for a seed whatever the thread count: every object draws from its own streams.
#include "core/common/progress.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::sim {

struct SimParams {
    std::string outDir;
    int n = 2000;
    uint64_t seed = 1;
    int size = 152;                    // cutout side, pixels
    int threads = 0;                   // 0 = hardware concurrency
    double fractionBgs = 0.40;         // sample mix (normalised if they do not sum to 1)
    double fractionLrg = 0.25;
    double fractionElg = 0.35;
    double blendFraction = 0.15;       // cutouts with a neighbour at another redshift
    double tidalFraction = 0.03;       // mean share of centrals with a tidal feature
    double raCentreDeg = 150.0, decCentreDeg = 2.0, halfWidthDeg = 5.0;  // survey patch
    int targetsPerFile = 500;          // targets per coadd/redrock file
};

struct SimSummary {
    std::string outDir;
    int n = 0;
    std::array<int, 3> perSample{};    // BGS, LRG, ELG
    int blends = 0;
    int tidal = 0;
    std::vector<std::string> spectraFiles;  // coadd and redrock files, relative to outDir
    std::string truthFile;                  // relative to outDir
    double seconds = 0;
};

// Throws UsageError for bad parameters, FileError when the folder cannot be written, Cancelled
// when the progress callback asks to stop (files finished so far stay; none is half-written).
SimSummary simulateSurvey(const SimParams& params, const ProgressFn& progress = {});

} // namespace astroclip::sim
