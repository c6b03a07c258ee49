#pragma once
// The kcorrect v4 NMF galaxy templates (Blanton & Roweis 2007), split into a stellar
// continuum and their nebular emission lines, and the Calzetti (2000) attenuation curve.
//
// The templates carry their emission lines sampled at ~3–6 Å, too coarse to put a line at its
// true wavelength on the 0.8 Å DESI grid. So each template's line part (template minus local
// continuum around known lines) is measured once as a flux per line; galaxies get the
// continuum mix plus those lines re-rendered at their exact vacuum wavelengths with the same
// flux. The lines are taken out of the template once and put back once, never added twice.
#include <array>
#include <string>
#include <vector>

namespace astroclip::sim {

constexpr int kTemplates = 5;

struct EmissionLine {
    const char* name;
    double restWave;   // Å, vacuum
};
// Every nebular line measured in (and rendered from) the templates.
const std::vector<EmissionLine>& nebularLines();

// The lines reported in the truth table. [OII] is the 3727+3729 doublet sum.
enum TruthLine { kOII3727 = 0, kHbeta, kOIII4959, kOIII5007, kHalpha, kNII6548, kNII6584, kSII6716, kSII6731, kTruthLines };
inline constexpr std::array<const char*, kTruthLines> kTruthLineNames = {
    "OII_3727", "HBETA", "OIII_4959", "OIII_5007", "HALPHA", "NII_6548", "NII_6584", "SII_6716", "SII_6731"};
// Indices into nebularLines() that make up each truth line.
const std::vector<int>& truthLineMembers(TruthLine t);

class KcorrectTemplates {
public:
    // Reads kcorrect's template file (FLUX table + MREMAIN, M300, METS images). Throws FileError.
    explicit KcorrectTemplates(const std::string& path);
    // The shipped copy (resources/templates/kcorrect-default-v4.fits), loaded once.
    static const KcorrectTemplates& shipped();

    const std::string& path() const { return path_; }
    // Rest-frame vacuum wavelengths (Å) of the template samples.
    const std::vector<double>& wave() const { return wave_; }
    // Full template t (erg/s/cm²/Å at 10 pc per solar mass formed), lines included.
    const std::vector<double>& full(int t) const { return full_[t]; }
    // Template t with its emission lines replaced by the local continuum.
    const std::vector<double>& continuum(int t) const { return continuum_[t]; }
    // Flux (erg/s/cm² at 10 pc per solar mass formed) of nebularLines()[l] in template t.
    double lineFlux(int t, int l) const { return lineFlux_[t][l]; }

    double massRemaining(int t) const { return mremain_[t]; }  // M⊙ in stars now per M⊙ formed
    double massFormed300Myr(int t) const { return m300_[t]; } // M⊙ formed in the last 300 Myr per M⊙ formed
    double metallicity(int t) const { return mets_[t]; }

private:
    void splitLines();
    std::string path_;
    std::vector<double> wave_;
    std::array<std::vector<double>, kTemplates> full_, continuum_;
    std::array<std::vector<double>, kTemplates> lineFlux_;
    std::array<double, kTemplates> mremain_{}, m300_{}, mets_{};
};

// Calzetti et al. (2000) starburst attenuation curve k(λ) = A_λ / E(B−V)_star, R_V = 4.05,
// λ in Å (rest). Extrapolated linearly in 1/λ below 1200 Å; zero beyond where it vanishes.
double calzettiK(double waveAngstrom);
// Ratio E(B−V)_star / E(B−V)_gas (Calzetti 2000): nebular lines see more dust than stars.
constexpr double kStellarToGasReddening = 0.44;

// Time over which kcorrect's M300 counts recently formed mass: SFR = Σ c_i M300_i / 3e8 yr.
constexpr double kSfrTimescaleYears = 3.0e8;

} // namespace astroclip::sim
