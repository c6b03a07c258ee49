#pragma once
// What DESI's spectrographs make of a galaxy's fibre spectrum: three arms (B, R, Z) on the
// coadd grid, each with its own throughput and its own noise (sky, object shot noise, read
// noise), so the arms disagree within their noise where they overlap, as in real coadds.
#include "core/sim/galaxy.h"

#include <array>
#include <cstdint>
#include <vector>

namespace astroclip::sim {

// Dark time (LRG, ELG: 1000 s effective) or bright time (BGS: 180 s effective, exposed longer under moonlit sky).
enum class Program { Dark = 0, Bright = 1 };
const char* programName(Program p);
double exposureSeconds(Program p);

struct DesiArm {
    char name;       // 'B', 'R', 'Z'
    double waveMin;  // Å, first pixel centre
    double waveMax;  // Å, last pixel centre
    int npix;
    int offset;      // index of the first pixel on the 7781-px coadd grid
};
const std::array<DesiArm, 3>& desiArms();

struct ArmSpectrum {
    std::vector<float> flux, ivar;   // 1e-17 erg/s/cm²/Å and its inverse variance
    std::vector<int32_t> mask;       // 0 = good
};
struct ObservedSpectrum {
    std::array<ArmSpectrum, 3> arms;
    double medianSnrR = 0;           // median per-pixel S/N of the model in the R arm
};

// Sky surface brightness on the coadd grid (1e-17 erg/s/cm²/Å/arcsec²): continuum plus bright
// emission lines ([OI] 5577/6300/6364, Na D, Hg, O2 and an OH-like forest whose bands sit where
// the OH Meinel bands are; the individual OH lines are not an atlas), at the LSF.
const std::vector<double>& skySpectrum(Program p);
// Throughput of one arm (0..1, incl. telescope, fibre, spectrograph, CCD) at a wavelength.
double armThroughput(int arm, double waveAngstrom);

// Per-pixel variance of the coadd flux for a noiseless fibre spectrum `model` (7781 px) in one arm.
std::vector<double> armVariance(int arm, const std::vector<double>& model, Program p);

// Adds independent Gaussian noise per arm and reports ivar = 1/variance.
ObservedSpectrum observeSpectrum(const std::vector<double>& model, Program p, Rng& rng);

} // namespace astroclip::sim
