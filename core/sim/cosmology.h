#pragma once
// Flat ΛCDM distances (no radiation term, as astropy's FlatLambdaCDM with Tcmb0 = 0), by
// numerical integration of 1/E(z). Defaults: H0 = 70 km/s/Mpc, Ωm = 0.3.
#include <vector>

namespace astroclip::sim {

class FlatLambdaCdm {
public:
    explicit FlatLambdaCdm(double h0 = 70.0, double omegaM = 0.3, double zMax = 10.0);

    double hubbleDistanceMpc() const { return hubbleDistance_; }  // c / H0
    double efunc(double z) const;                                 // H(z)/H0
    double comovingDistanceMpc(double z) const;                   // line of sight = transverse (flat)
    double luminosityDistanceMpc(double z) const { return (1 + z) * comovingDistanceMpc(z); }
    double angularDiameterDistanceMpc(double z) const { return comovingDistanceMpc(z) / (1 + z); }
    // dV_c/dz/dΩ in Mpc³ per steradian.
    double differentialComovingVolume(double z) const;
    // Distance modulus 5 log10(D_L / 10 pc).
    double distanceModulus(double z) const;

private:
    double h0_, omegaM_, hubbleDistance_, zMax_, step_;
    std::vector<double> table_;  // D_C / D_H at z = i·step_
};

// The simulator's cosmology, built once.
const FlatLambdaCdm& defaultCosmology();

} // namespace astroclip::sim
