#pragma once
// The galaxy population behind the survey: redshifts from the comoving volume, stellar masses
// from type-dependent Schechter functions, star formation on (or off) the main sequence, dust,
// sizes and bulge/disk structure, each drawn physically and then selected like DESI's BGS,
// LRG and ELG targets (rejection sampling on their magnitude, colour and [OII] cuts).
#include "core/sim/galaxy.h"
#include "core/sim/spectral_templates.h"
#include "core/sim/spectrum_model.h"

#include <array>
#include <string>

namespace astroclip::sim {

enum class Sample { BGS = 0, LRG = 1, ELG = 2, Neighbour = 3 };
const char* sampleName(Sample s);

// Redshift range each sample is drawn in.
struct SampleRange { double zMin, zMax, logMMin; };
SampleRange sampleRange(Sample s);

// Everything the simulator knows about one galaxy.
struct GalaxyTruth {
    Sample sample = Sample::BGS;
    double z = 0;
    bool quenched = false;
    StellarPopulation pop;
    double logMstar = 0;                         // from the template mix (Σ c_i MREMAIN_i)
    double sfr = 0;                              // M⊙/yr, from the mix (Σ c_i M300_i / 3e8 yr)
    std::array<double, kBands> flux{};           // total g,r,z nanomaggies
    std::array<double, kBands> fibreFlux{};      // in a 1.5″ fibre under 1″ seeing (Legacy Surveys FIBERFLUX)
    std::array<double, kTruthLines> lineFlux{};  // in the spectrum, 1e-17 erg/s/cm² (aperture included)
    double specAperture = 1;                     // spectrum flux / total flux (fibre loss beyond a point source's)
    double bulgeFracR = 0;                       // bulge share of the r-band flux
    double axisRatio = 1;                        // of the dominant component
    Galaxy galaxy;                               // structure for the imaging half (id/sample filled by the caller)
    ObservedModel model;                         // observed-frame model, for the spectrum
    int tries = 0;                               // draws the selection rejected before this one
};

// Draws one galaxy of the sample (rejection sampling until it passes the sample's cuts).
// `avoidZ` > 0 keeps a neighbour at least 0.05 away in redshift from the central.
GalaxyTruth drawGalaxy(Sample sample, Rng& rng, double avoidZ = -1);

// Does this galaxy pass the sample's target selection? (Used by drawGalaxy and by tests.)
bool passesSelection(Sample sample, const std::array<double, kBands>& flux, const std::array<double, kBands>& fibreFlux,
                     double oiiFluxCgs);

// Fraction of a Sérsic (n = 1 or 4) galaxy's light inside a 1.5″-diameter fibre under Gaussian
// seeing of the given FWHM; the seeing is folded in by widening the half-light radius in
// quadrature with the seeing's own (FWHM/2). A point source (re = 0) is treated exactly.
double fibreFraction(double reArcsec, double sersicN, double seeingFwhmArcsec);
double pointSourceFibreFraction(double seeingFwhmArcsec);

// Half-light radius (in units of the disk's) of a bulge (n = 4) + disk (n = 1) system whose bulge
// has `bulgeFrac` of the light and radius `bulgeToDiskRe` times the disk's.
double compositeHalfLightRadius(double bulgeFrac, double bulgeToDiskRe);

} // namespace astroclip::sim
