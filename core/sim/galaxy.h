#pragma once
// The contract between the simulator's population/spectra half (population.*, spectrum_model.*)
// and its imaging half (render.*): everything the images need to know about one galaxy.
// Band order everywhere: g, r, z (DECam). Fluxes in nanomaggies (m_AB = 22.5 - 2.5 log10 f).
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace astroclip::sim {

using Rng = std::mt19937_64;
// Independent, reproducible stream per (seed, object index, purpose): results do not depend
// on thread count or order.
Rng makeRng(uint64_t seed, uint64_t index, uint64_t purpose);

constexpr int kBands = 3;
inline constexpr std::array<const char*, kBands> kBandNames = {"g", "r", "z"};

// A light component with a Sérsic profile, fluxes from the spectrum of its stellar
// population integrated through the DECam filters.
struct Component {
    double sersicN = 1.0;                 // 1 = exponential disk, 4 = de Vaucouleurs bulge
    double reArcsec = 0.0;                // half-light radius along the major axis
    double axisRatio = 1.0;               // b/a
    double positionAngleDeg = 0.0;        // east of north (counter-clockwise from +y)
    std::array<double, kBands> flux{};    // nanomaggies
};

struct Galaxy {
    int64_t id = 0;
    double z = 0;
    std::string sample;                   // "BGS", "LRG", "ELG", or "neighbour"
    double logMstar = 0;                  // log10 M*/Msun
    double reKpc = 0;                     // half-light radius of the whole galaxy (kpc)
    double reArcsec = 0;                  // same, angular
    Component bulge, disk;                // either may carry zero flux
    std::array<double, kBands> totalFlux() const {
        std::array<double, kBands> t{};
        for (int b = 0; b < kBands; ++b) t[b] = bulge.flux[b] + disk.flux[b];
        return t;
    }
};

} // namespace astroclip::sim

namespace astroclip::sim {

// A galaxy at another redshift that overlaps the cutout (a blend).
struct Neighbour {
    Galaxy galaxy;
    double dxPix = 0, dyPix = 0;          // offset of its centre from the stamp centre
};

enum class TidalKind { None = 0, Shells = 1, Stream = 2, Tail = 3 };
const char* tidalKindName(TidalKind k);   // "none", "shells", "stream", "tail"

// Everything one g,r,z cutout shows.
struct CutoutScene {
    Galaxy central;                       // centred in the stamp
    std::vector<Neighbour> neighbours;
    TidalKind tidal = TidalKind::None;
    double tidalMuR = 26.0;               // r-band surface brightness of the feature, mag/arcsec²
    int size = 152;                       // pixels (square)
};

} // namespace astroclip::sim
