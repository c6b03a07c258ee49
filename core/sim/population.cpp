#include "core/sim/population.h"

#include "core/common/error.h"
#include "core/sim/cosmology.h"
#include "core/sim/photometry.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kArcsecPerRadian = 206264.80624709636;
constexpr double kFibreRadiusArcsec = 0.75;     // DESI fibres are 1.5″ across
constexpr double kDesiSeeingFwhm = 1.1;         // nominal DESI seeing
constexpr double kLegacyFibreSeeingFwhm = 1.0;  // the Legacy Surveys' FIBERFLUX convention
// L(Hα) = SFR · 10^41.27 erg/s (Kennicutt & Evans 2012, Kroupa/Chabrier IMF).
constexpr double kHalphaPerSfr = 1.8620871366628675e41;

double uniform(Rng& rng, double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
double gauss(Rng& rng, double mu, double sigma) { return std::normal_distribution<double>(mu, sigma)(rng); }

// Stellar mass functions per dex (Schechter, Chabrier IMF), roughly PRIMUS (Moustakas et al.
// 2013) at z < 1 continued smoothly: quiescent galaxies are rarer at higher z.
struct Schechter { double logMstar, alpha, logPhi; };
Schechter quiescentSmf(double z) { return {10.82, -0.5, -2.65 - 0.45 * z}; }
Schechter starFormingSmf(double z) { return {10.65 + 0.05 * z, -1.35, -2.95 - 0.05 * z}; }
double schechter(const Schechter& s, double logM) {
    const double x = std::pow(10.0, logM - s.logMstar);
    return std::pow(10.0, s.logPhi) * std::pow(x, s.alpha + 1) * std::exp(-x);
}

// Inverse CDF of the comoving volume between zMin and zMax.
struct VolumeSampler {
    std::vector<double> z, cdf;
    VolumeSampler(double zMin, double zMax) {
        const int n = 2000;
        const auto& c = defaultCosmology();
        z.resize(n + 1);
        cdf.assign(n + 1, 0.0);
        for (int i = 0; i <= n; ++i) z[i] = zMin + (zMax - zMin) * i / n;
        for (int i = 1; i <= n; ++i)
            cdf[i] = cdf[i - 1] + 0.5 * (c.differentialComovingVolume(z[i]) + c.differentialComovingVolume(z[i - 1])) * (z[i] - z[i - 1]);
        for (double& v : cdf) v /= cdf.back();
    }
    double draw(Rng& rng) const {
        const double u = uniform(rng, 0, 1);
        const size_t i = std::clamp<size_t>(size_t(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()), 1, cdf.size() - 1);
        return z[i - 1] + (u - cdf[i - 1]) / std::max(cdf[i] - cdf[i - 1], 1e-300) * (z[i] - z[i - 1]);
    }
};

const VolumeSampler& volumeSampler(Sample s) {
    static const std::array<VolumeSampler, 4> samplers = {
        VolumeSampler(sampleRange(Sample::BGS).zMin, sampleRange(Sample::BGS).zMax),
        VolumeSampler(sampleRange(Sample::LRG).zMin, sampleRange(Sample::LRG).zMax),
        VolumeSampler(sampleRange(Sample::ELG).zMin, sampleRange(Sample::ELG).zMax),
        VolumeSampler(sampleRange(Sample::Neighbour).zMin, sampleRange(Sample::Neighbour).zMax)};
    return samplers[int(s)];
}

// Draws log M from the total mass function at z, then the type with the quiescent share at that
// mass (so the quiescent fraction rises with mass, as observed).
void drawMassAndType(Rng& rng, double z, double logMMin, double& logM, bool& quenched) {
    constexpr double kLogMMax = 12.2, kStep = 0.02;
    const int n = int((kLogMMax - logMMin) / kStep) + 1;
    const Schechter q = quiescentSmf(z), sf = starFormingSmf(z);
    std::vector<double> cdf(n + 1, 0.0);
    for (int i = 0; i < n; ++i) {
        const double m = logMMin + (i + 0.5) * kStep;
        cdf[i + 1] = cdf[i] + schechter(q, m) + schechter(sf, m);
    }
    const double u = uniform(rng, 0, cdf.back());
    const int i = std::clamp(int(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()) - 1, 0, n - 1);
    logM = logMMin + (i + (u - cdf[i]) / std::max(cdf[i + 1] - cdf[i], 1e-300)) * kStep;
    const double pq = schechter(q, logM) / (schechter(q, logM) + schechter(sf, logM));
    quenched = uniform(rng, 0, 1) < pq;
}

// Star-forming main sequence of Whitaker et al. (2012): log SFR at log M and z.
double mainSequenceLogSfr(double logM, double z) {
    const double alpha = 0.70 - 0.13 * z, beta = 0.38 + 1.14 * z - 0.19 * z * z;
    return alpha * (logM - 10.5) + beta;
}

// Builds the template mix for a target stellar mass and sSFR. The youngest templates carry the
// recent star formation (kcorrect's M300), the intermediate ones their emission lines and
// colours, the oldest (template 3) the rest of the mass.
StellarPopulation buildMix(const KcorrectTemplates& kt, Rng& rng, double logM, double logSsfr, bool quenched) {
    StellarPopulation p;
    const double mass = std::pow(10.0, logM);
    const double recent = std::pow(10.0, logSsfr) * mass * kSfrTimescaleYears;  // M⊙ formed in 300 Myr
    // Share of recent star formation in the ~Myr-old burst template (1): a few percent, as its
    // light per unit mass is ~40 times that of the 300-Myr template (4).
    const double burstShare = quenched ? 0.0 : std::clamp(0.01 * std::pow(10.0, gauss(rng, 0.0, 0.3)), 0.002, 0.05);
    p.coeff[1] = burstShare * recent / kt.massFormed300Myr(1);
    p.coeff[4] = (1 - burstShare) * recent / kt.massFormed300Myr(4);
    p.coeff[2] = mass * (quenched ? uniform(rng, 0.0, 0.02) : uniform(rng, 0.0, 0.15)) / kt.massRemaining(2);
    // Template 0 is old and metal-rich (the reddest): a large share of quiescent galaxies' mass,
    // rising with mass (the red sequence's colour–magnitude slope). With it, the quiescent mix
    // follows the colour track of real ellipticals (Kinney–Calzetti) to ~0.1 mag at z = 0.1–0.5.
    const double oldRed = quenched ? std::clamp(0.25 + 0.25 * (logM - 10.0) / 1.5 + uniform(rng, -0.1, 0.1), 0.1, 0.65)
                                   : uniform(rng, 0.0, 0.2);
    p.coeff[0] = mass * oldRed / kt.massRemaining(0);
    double other = 0;
    for (int t : {0, 1, 2, 4}) other += p.coeff[t] * kt.massRemaining(t);
    // At least 5 % of the mass stays old; the younger parts shrink if the target is infeasible.
    if (other > 0.95 * mass) {
        const double f = 0.95 * mass / other;
        for (int t : {0, 1, 2, 4}) p.coeff[t] *= f;
        other *= f;
    }
    p.coeff[3] = (mass - other) / kt.massRemaining(3);
    return p;
}

double kcorrectHalphaFlux(const KcorrectTemplates& kt, const StellarPopulation& p) {
    static const int ha = truthLineMembers(kHalpha).front();
    double f = 0;
    for (int t = 0; t < kTemplates; ++t) f += p.coeff[t] * kt.lineFlux(t, ha);
    return f;
}

double enclosedSersic1(double x) { return 1 - std::exp(-x) * (1 + x); }  // x = b1 R/re
double enclosedSersic4(double x) {                                         // x = b4 (R/re)^(1/4)
    double term = 1, sum = 1;
    for (int k = 1; k < 8; ++k) sum += term *= x / k;
    return 1 - std::exp(-x) * sum;
}

} // namespace

const char* sampleName(Sample s) {
    switch (s) {
    case Sample::BGS: return "BGS";
    case Sample::LRG: return "LRG";
    case Sample::ELG: return "ELG";
    case Sample::Neighbour: break;
    }
    return "neighbour";
}

SampleRange sampleRange(Sample s) {
    switch (s) {
    case Sample::BGS: return {0.01, 0.6, 8.0};
    case Sample::LRG: return {0.4, 1.0, 10.3};
    case Sample::ELG: return {0.6, 1.6, 8.8};
    case Sample::Neighbour: break;
    }
    return {0.02, 1.5, 8.5};
}

double pointSourceFibreFraction(double seeingFwhm) {
    const double sp = seeingFwhm / 2.3548200450309493;
    return 1 - std::exp(-kFibreRadiusArcsec * kFibreRadiusArcsec / (2 * sp * sp));
}

double fibreFraction(double reArcsec, double sersicN, double seeingFwhm) {
    assert(sersicN == 1.0 || sersicN == 4.0);
    if (reArcsec <= 0) return pointSourceFibreFraction(seeingFwhm);
    const double reEff = std::sqrt(reArcsec * reArcsec + 0.25 * seeingFwhm * seeingFwhm);
    const double x = kFibreRadiusArcsec / reEff;
    return sersicN == 1.0 ? enclosedSersic1(1.6783469900166608 * x) : enclosedSersic4(7.669249443477822 * std::pow(x, 0.25));
}

double compositeHalfLightRadius(double bulgeFrac, double bulgeToDiskRe) {
    constexpr double b1 = 1.6783469900166608, b4 = 7.669249443477822;
    auto enclosed = [&](double r) {
        const double disk = enclosedSersic1(b1 * r);
        const double bulge = enclosedSersic4(b4 * std::pow(r / bulgeToDiskRe, 0.25));
        return bulgeFrac * bulge + (1 - bulgeFrac) * disk;
    };
    double lo = 0, hi = 50;
    for (int i = 0; i < 80; ++i) {
        const double mid = 0.5 * (lo + hi);
        (enclosed(mid) < 0.5 ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

bool passesSelection(Sample sample, const std::array<double, kBands>& flux, const std::array<double, kBands>& fibreFlux,
                     double oiiFluxCgs) {
    for (int b = 0; b < kBands; ++b)
        if (!(flux[b] > 0)) return false;
    const double g = nanomaggiesToMag(flux[0]), r = nanomaggiesToMag(flux[1]), zm = nanomaggiesToMag(flux[2]);
    switch (sample) {
    case Sample::BGS:  // BGS Bright
        return r < 19.5;
    case Sample::LRG:  // fibre-magnitude limit; red in g−r and r−z, and a sliding colour–magnitude cut
                       // that keeps the luminous ones (the optical variant of DESI's LRG cuts, after
                       // Zhou et al. 2020, standing in for the W1-based ones)
        return nanomaggiesToMag(fibreFlux[2]) < 21.6 && r - zm > 0.9 && g - r > 1.3 && r - zm > 0.45 * (zm - 16.83);
    case Sample::ELG:  // DESI ELG_LOP colour box, g < 23.4, and [OII] bright enough for a redshift
        return g > 20.0 && g < 23.4 && nanomaggiesToMag(fibreFlux[0]) < 24.1 && r - zm > 0.15 &&
               g - r < 0.5 * (r - zm) + 0.1 && g - r < -1.2 * (r - zm) + 1.3 && oiiFluxCgs > 5e-17;
    case Sample::Neighbour:
        return r < 23.5;
    }
    return false;
}

GalaxyTruth drawGalaxy(Sample sample, Rng& rng, double avoidZ) {
    const KcorrectTemplates& kt = KcorrectTemplates::shipped();
    const ContinuumBandTable& table = ContinuumBandTable::shipped();
    const auto& filters = decamFilters();
    const SampleRange range = sampleRange(sample);
    const VolumeSampler& volume = volumeSampler(sample);
    std::vector<double> lineWave, lineFlux;
    static const int oii[2] = {truthLineMembers(kOII3727)[0], truthLineMembers(kOII3727)[1]};

    for (int tries = 0; tries < 2000000; ++tries) {
        GalaxyTruth g;
        g.sample = sample;
        g.tries = tries;
        const double z = volume.draw(rng);
        if (avoidZ > 0 && std::abs(z - avoidZ) < 0.05) continue;
        g.z = z;
        double logM;
        drawMassAndType(rng, z, range.logMMin, logM, g.quenched);
        // Star formation: on the main sequence (0.3 dex scatter) or ~1.5–2 dex below it.
        const double ms = mainSequenceLogSfr(logM, z) - logM;
        double logSsfr = g.quenched ? std::min(gauss(rng, -11.9 + 0.6 * z, 0.4), ms - 1.0) : gauss(rng, ms, 0.3);
        logSsfr = std::min(logSsfr, -8.7);  // the youngest mix the templates allow
        StellarPopulation& p = g.pop;
        p = buildMix(kt, rng, logM, logSsfr, g.quenched);
        const double mstar = p.stellarMass(kt);
        g.logMstar = std::log10(mstar);
        g.sfr = p.sfrMsunPerYear(kt);
        // Nebular lines: the mix's own line ratios, scaled so Hα follows the SFR (0.1 dex scatter).
        const double haTarget = g.sfr * kHalphaPerSfr / (4 * kPi * kTenParsecCm * kTenParsecCm);
        const double haMix = kcorrectHalphaFlux(kt, p);
        p.lineScale = haMix > 0 ? std::clamp(haTarget / haMix * std::pow(10.0, gauss(rng, 0.0, 0.1)), 0.02, 50.0) : 1.0;
        // Dust: Hα attenuation rising with mass for star formers (Garn & Best 2010), little in
        // quiescent galaxies.
        if (g.quenched) {
            p.ebvStar = std::abs(gauss(rng, 0.0, 0.03));
        } else {
            const double x = g.logMstar - 10.0;
            const double aHa = std::max(0.0, 0.91 + 0.77 * x + 0.11 * x * x - 0.09 * x * x * x + gauss(rng, 0.0, 0.28));
            p.ebvStar = std::min(0.9, kStellarToGasReddening * aHa / calzettiK(6564.61));
        }
        // Velocity dispersion from mass (Zahid et al. 2016-like for quiescent; gas-like for star formers).
        const double logSigma = g.quenched ? 2.30 + 0.29 * (g.logMstar - 11.0) + gauss(rng, 0.0, 0.05)
                                           : 1.90 + 0.25 * (g.logMstar - 10.0) + gauss(rng, 0.0, 0.07);
        p.vdispKms = std::clamp(std::pow(10.0, logSigma), 30.0, 450.0);

        // Size: van der Wel et al. (2014) mass–size relations with their redshift evolution.
        const double logA = g.quenched ? 0.60 - 1.48 * std::log10((1 + z) / 1.25) : 0.86 - 0.75 * std::log10((1 + z) / 1.25);
        const double slope = g.quenched ? 0.75 : 0.22, scatter = g.quenched ? 0.11 : 0.16;
        const double reKpc = std::pow(10.0, logA + slope * (g.logMstar - std::log10(5e10)) + gauss(rng, 0.0, scatter));
        const double daKpc = defaultCosmology().angularDiameterDistanceMpc(z) * 1e3;
        const double reArcsec = reKpc / daKpc * kArcsecPerRadian;

        // Cheap pre-screen: tabulated continuum + exact lines.
        observedLines(kt, p, z, lineWave, lineFlux);
        std::array<double, kBands> flux{}, fib{};
        for (int b = 0; b < kBands; ++b) {
            for (int t = 0; t < kTemplates; ++t) flux[b] += p.coeff[t] * table.nanomaggies(t, b, z, p.ebvStar);
            for (size_t l = 0; l < lineWave.size(); ++l) flux[b] += lineNanomaggies(filters[b], lineWave[l], lineFlux[l]);
            fib[b] = flux[b] * fibreFraction(reArcsec, g.quenched ? 4.0 : 1.0, kLegacyFibreSeeingFwhm);
        }
        const double oiiFlux = lineFlux[oii[0]] + lineFlux[oii[1]];
        if (!passesSelection(sample, flux, fib, oiiFlux)) continue;

        // Bulge: the oldest stars, a share of the mass set by type.
        const double bt = g.quenched ? uniform(rng, 0.55, 0.95)
                                     : std::clamp(0.05 + 0.125 * (g.logMstar - 9.5) + uniform(rng, -0.05, 0.15), 0.0, 0.6);
        double bulgeMass = bt * mstar;
        p.bulgeCoeff = {};
        p.bulgeCoeff[3] = std::min(p.coeff[3], bulgeMass / kt.massRemaining(3));
        bulgeMass -= p.bulgeCoeff[3] * kt.massRemaining(3);
        p.bulgeCoeff[0] = std::clamp(bulgeMass / kt.massRemaining(0), 0.0, p.coeff[0]);

        // Exact photometry of the full spectrum; the cut is applied again on it.
        g.model = observedModel(kt, p, z);
        const BandFluxes bf = bandFluxes(g.model, filters);
        g.flux = bf.total;
        g.bulgeFracR = std::clamp(bf.bulge[1] / bf.total[1], 0.0, 1.0);
        const double rhoBD = g.quenched ? 0.6 : 0.3;  // bulge half-light radius / disk's
        const double diskReArcsec = reArcsec / compositeHalfLightRadius(g.bulgeFracR, rhoBD);
        const double fibFrac = g.bulgeFracR * fibreFraction(rhoBD * diskReArcsec, 4.0, kLegacyFibreSeeingFwhm) +
                               (1 - g.bulgeFracR) * fibreFraction(diskReArcsec, 1.0, kLegacyFibreSeeingFwhm);
        for (int b = 0; b < kBands; ++b) g.fibreFlux[b] = g.flux[b] * fibFrac;
        if (!passesSelection(sample, g.flux, g.fibreFlux, oiiFlux)) continue;

        // The DESI spectrum is calibrated for point sources: an extended galaxy loses more light.
        g.specAperture = (g.bulgeFracR * fibreFraction(rhoBD * diskReArcsec, 4.0, kDesiSeeingFwhm) +
                          (1 - g.bulgeFracR) * fibreFraction(diskReArcsec, 1.0, kDesiSeeingFwhm)) /
                         pointSourceFibreFraction(kDesiSeeingFwhm);
        for (int t = 0; t < kTruthLines; ++t) {
            double f = 0;
            for (int l : truthLineMembers(TruthLine(t))) f += g.model.lineFlux[l];
            g.lineFlux[t] = f * 1e17 * g.specAperture;
        }

        // Shapes: thin disks seen at random inclination (intrinsic thickness 0.2), rounder bulges.
        const double cosi = uniform(rng, 0, 1);
        const double qDisk = std::sqrt(cosi * cosi + 0.04 * (1 - cosi * cosi));
        const double qBulge = std::clamp(gauss(rng, 0.75, 0.15), 0.35, 1.0);
        const double pa = uniform(rng, 0, 180);
        Galaxy& gal = g.galaxy;
        gal.z = z;
        gal.sample = sampleName(sample);
        gal.logMstar = g.logMstar;
        gal.reKpc = reKpc;
        gal.reArcsec = reArcsec;
        gal.bulge = {4.0, rhoBD * diskReArcsec, qBulge, std::fmod(pa + gauss(rng, 0.0, 5.0) + 180.0, 180.0), bf.bulge};
        gal.disk = {1.0, diskReArcsec, qDisk, pa, {}};
        for (int b = 0; b < kBands; ++b) gal.disk.flux[b] = std::max(0.0, bf.total[b] - bf.bulge[b]);
        g.axisRatio = g.bulgeFracR > 0.5 ? qBulge : qDisk;
        return g;
    }
    throw Error(std::string("simulator: could not draw a galaxy passing the ") + sampleName(sample) + " selection");
}

} // namespace astroclip::sim
