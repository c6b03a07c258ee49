#pragma once
// One galaxy's noiseless spectrum from its stellar population: the kcorrect continuum mix behind
// Calzetti dust, plus the templates' nebular lines (rescaled, behind more dust) at their exact
// vacuum wavelengths; redshifted and dimmed (f_λ,obs = L_λ,rest / (4π D_L² (1+z))), broadened
// by the velocity dispersion and DESI's line-spread function, averaged over DESI pixels.
#include "core/sim/galaxy.h"
#include "core/sim/photometry.h"
#include "core/sim/spectral_templates.h"

#include <array>
#include <vector>

namespace astroclip::sim {

struct StellarPopulation {
    std::array<double, kTemplates> coeff{};       // M⊙ formed, per template
    std::array<double, kTemplates> bulgeCoeff{};  // the part of coeff that sits in the bulge (old stars)
    double lineScale = 1.0;                       // factor on the templates' own line fluxes
    double ebvStar = 0.0;                         // extra Calzetti E(B−V) of the stars
    double vdispKms = 100.0;                      // line-of-sight velocity dispersion

    double stellarMass(const KcorrectTemplates& t) const;    // Σ c_i MREMAIN_i
    double sfrMsunPerYear(const KcorrectTemplates& t) const; // Σ c_i M300_i / 3e8 yr
    double ebvGas() const { return ebvStar / kStellarToGasReddening; }
};

// Observed frame, full template range, in erg/s/cm²/Å (continuum on the redshifted template
// grid) and erg/s/cm² (each nebular line, after dust): what the photometry integrates.
struct ObservedModel {
    double z = 0;
    std::vector<double> wave, continuum;               // continuum of the whole galaxy
    std::vector<double> bulgeContinuum;                // the bulge's share of it
    std::vector<double> lineWave, lineFlux;            // per nebularLines() entry
};
ObservedModel observedModel(const KcorrectTemplates& templates, const StellarPopulation& pop, double z);
// Only the lines of that model (cheap): observed wavelengths (Å) and fluxes (erg/s/cm²).
void observedLines(const KcorrectTemplates& templates, const StellarPopulation& pop, double z,
                   std::vector<double>& wave, std::vector<double>& flux);

// g,r,z nanomaggies of the whole galaxy and of its bulge (lines belong to the disk).
struct BandFluxes {
    std::array<double, kBands> total{}, bulge{};
};
BandFluxes bandFluxes(const ObservedModel& model, const std::array<FilterCurve, kBands>& filters);

// DESI's line-spread function: Gaussian, FWHM 1.8 Å in the observed frame.
constexpr double kDesiLsfFwhmAngstrom = 1.8;

// The noiseless spectrum on the DESI coadd grid (7781 px), in 1e-17 erg/s/cm²/Å, times
// `aperture` (the fraction of the total flux the fibre spectrum records).
std::vector<double> modelOnDesiGrid(const ObservedModel& model, double vdispKms, double aperture);

} // namespace astroclip::sim
