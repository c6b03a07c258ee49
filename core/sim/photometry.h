#pragma once
// AB synthetic photometry through real filter curves (photon-counting convention):
//   maggies = ∫ f_λ λ R dλ / ∫ (3631 Jy) c/λ² λ R dλ ,   nanomaggies = 1e9 maggies,
// and the per-template band-flux table the population draw uses to select galaxies quickly.
#include "core/sim/galaxy.h"
#include "core/sim/spectral_templates.h"

#include <array>
#include <span>
#include <string>
#include <vector>

namespace astroclip::sim {

constexpr double kSpeedOfLightAngstromPerS = 2.99792458e18;
constexpr double kTenParsecCm = 3.0856775814913673e19;

struct FilterCurve {
    std::string band;
    std::vector<double> wave;      // Å
    std::vector<double> response;  // photon-counting throughput
    double abNormalisation = 0;    // ∫ 3631 Jy · c/λ² · λ R dλ (erg/s/cm²), the zero-magnitude integral
    double responseAt(double waveAngstrom) const;  // linear interpolation, 0 outside
};

// Reads an ECSV throughput curve (columns wavelength, response); the wavelength unit (nm,
// Angstrom, um) comes from the header. Throws FileError.
FilterCurve loadFilterCurve(const std::string& path, const std::string& band);
// DECam g, r, z from resources/filters (decam2014-*.ecsv), loaded once.
const std::array<FilterCurve, kBands>& decamFilters();

// Nanomaggies of a spectrum f_λ (erg/s/cm²/Å) given at increasing wavelengths (Å), linearly
// interpolated between samples; integrated exactly over the union of both grids.
double synthNanomaggies(const FilterCurve& filter, std::span<const double> wave, std::span<const double> flux);
// Nanomaggies of an unresolved line of flux F (erg/s/cm²) at observed wavelength λ.
double lineNanomaggies(const FilterCurve& filter, double observedWave, double lineFlux);
inline double nanomaggiesToMag(double nmgy) { return 22.5 - 2.5 * std::log10(nmgy); }

// Observed-frame g,r,z nanomaggies of each template's continuum (per M⊙ formed) at redshift z
// behind stellar E(B−V), on a grid in z and E(B−V), interpolated linearly (in log flux for
// E(B−V)). Lines are not in it: they are added exactly by the caller (lineNanomaggies).
class ContinuumBandTable {
public:
    ContinuumBandTable(const KcorrectTemplates& templates, const std::array<FilterCurve, kBands>& filters,
                       double zMin = 0.005, double zMax = 2.0, double dz = 0.005, double ebvMax = 1.0, double debv = 0.05);
    static const ContinuumBandTable& shipped();
    double nanomaggies(int templ, int band, double z, double ebv) const;
    double zMin() const { return zMin_; }
    double zMax() const { return zMin_ + dz_ * (nz_ - 1); }
private:
    double zMin_, dz_, debv_;
    int nz_, nebv_;
    std::vector<double> logFlux_;  // [z][ebv][templ][band]
};

} // namespace astroclip::sim
