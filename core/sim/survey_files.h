#pragma once
// The files the simulated survey writes, in the formats real surveys use: DESI coadd and
// redrock files for the spectra, and a truth table. Each is written to a temporary name and
// renamed, so a reader never sees half a file.
#include "core/sim/galaxy.h"
#include "core/sim/population.h"
#include "core/sim/spectrograph.h"

#include <string>
#include <vector>

namespace astroclip::sim {

// One simulated target with everything that goes into the files (the cutout pixels excepted).
struct SimObject {
    int64_t index = 0;
    int64_t targetId = 0;
    double ra = 0, dec = 0;
    Program program = Program::Dark;
    GalaxyTruth truth;                   // truth.model is released once the spectrum exists
    bool hasNeighbour = false;
    Neighbour neighbour;
    double neighbourMagR = 0;
    TidalKind tidal = TidalKind::None;
    double tidalMuR = 0;
    std::vector<float> trueFlux;         // noiseless fibre spectrum on the 7781-px grid
    ObservedSpectrum spectrum;
    double zRedrock = 0, zErr = 0, deltaChi2 = 0;
    int64_t zwarn = 0;
    std::string cutoutFile;              // relative to the output folder
    std::string specFile;                // relative to the output folder
    int specRow = 0;                     // 0-based row in the coadd / redrock file
};

// spectra/coadd-sim-<k>.fits: FIBERMAP, B/R/Z _WAVELENGTH/_FLUX/_IVAR/_MASK, TRUEFLUX.
void writeCoaddFile(const std::string& path, const std::vector<const SimObject*>& objects);
// spectra/redrock-sim-<k>.fits: REDSHIFTS.
void writeRedrockFile(const std::string& path, const std::vector<const SimObject*>& objects);
// truth.fits: TRUTH table (TRUTHTAB = T), one row per object.
void writeTruthFile(const std::string& path, const std::vector<SimObject>& objects, uint64_t seed);

} // namespace astroclip::sim
