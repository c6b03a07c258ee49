#include "core/sim/photometry.h"

#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/io/text_table.h"
#include "core/sim/cosmology.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

namespace {
constexpr double kAbZeroPointFnu = 3631e-23;  // erg/s/cm²/Hz

double interp(std::span<const double> x, std::span<const double> y, double at) {
    if (at <= x.front() || at >= x.back()) return (at == x.front()) ? y.front() : (at == x.back() ? y.back() : 0.0);
    const size_t i = size_t(std::upper_bound(x.begin(), x.end(), at) - x.begin());
    const double t = (at - x[i - 1]) / (x[i] - x[i - 1]);
    return y[i - 1] + t * (y[i] - y[i - 1]);
}
} // namespace

double FilterCurve::responseAt(double w) const { return interp(wave, response, w); }

FilterCurve loadFilterCurve(const std::string& path, const std::string& band) {
    const TextTable t = readTextTable(path);
    const int cw = t.columnIndex("wavelength"), cr = t.columnIndex("response");
    if (cw < 0 || cr < 0) throw FileError(path, "a filter curve needs 'wavelength' and 'response' columns");
    const std::string unit = t.columns[cw].unit;
    double scale = 0;
    if (unit == "nm") scale = 10.0;
    else if (unit == "Angstrom" || unit == "AA" || unit == "Angstroms") scale = 1.0;
    else if (unit == "um" || unit == "micron") scale = 1e4;
    else throw FileError(path, "wavelength unit '" + unit + "' is not one of nm, Angstrom, um");
    FilterCurve f;
    f.band = band;
    f.wave = t.numbers(cw);
    f.response = t.numbers(cr);
    for (double& w : f.wave) w *= scale;
    if (f.wave.size() < 3) throw FileError(path, "filter curve has fewer than 3 rows");
    for (size_t i = 1; i < f.wave.size(); ++i)
        if (!(f.wave[i] > f.wave[i - 1])) throw FileError(path, "filter wavelengths are not increasing");
    // Zero-magnitude integral: f_λ of a 3631 Jy source is 3631 Jy · c/λ².
    double norm = 0;
    for (size_t i = 1; i < f.wave.size(); ++i) {
        auto g = [&](size_t k) { return kAbZeroPointFnu * kSpeedOfLightAngstromPerS / f.wave[k] * f.response[k]; };
        norm += 0.5 * (g(i) + g(i - 1)) * (f.wave[i] - f.wave[i - 1]);
    }
    if (!(norm > 0)) throw FileError(path, "filter response integrates to zero");
    f.abNormalisation = norm;
    return f;
}

const std::array<FilterCurve, kBands>& decamFilters() {
    static const std::array<FilterCurve, kBands> filters = [] {
        std::array<FilterCurve, kBands> f;
        for (int b = 0; b < kBands; ++b)
            f[b] = loadFilterCurve(resourcePath(std::string("filters/decam2014-") + kBandNames[b] + ".ecsv").string(), kBandNames[b]);
        return f;
    }();
    return filters;
}

double synthNanomaggies(const FilterCurve& filter, std::span<const double> wave, std::span<const double> flux) {
    assert(wave.size() == flux.size() && wave.size() >= 2);
    const double lo = std::max(filter.wave.front(), wave.front()), hi = std::min(filter.wave.back(), wave.back());
    if (!(hi > lo)) return 0.0;
    // Walk the union of both grids: both functions are piecewise linear, so the trapezoid on the
    // union is exact for the product up to the curvature of λ·R·f within one interval.
    size_t i = size_t(std::upper_bound(wave.begin(), wave.end(), lo) - wave.begin());
    size_t j = size_t(std::upper_bound(filter.wave.begin(), filter.wave.end(), lo) - filter.wave.begin());
    double x0 = lo, y0 = interp(wave, flux, lo) * lo * filter.responseAt(lo), sum = 0;
    while (x0 < hi) {
        const double xw = i < wave.size() ? wave[i] : hi, xf = j < filter.wave.size() ? filter.wave[j] : hi;
        const double x1 = std::min({xw, xf, hi});
        if (x1 == xw) ++i;
        if (x1 == xf) ++j;
        if (x1 <= x0) continue;
        const double y1 = interp(wave, flux, x1) * x1 * filter.responseAt(x1);
        sum += 0.5 * (y0 + y1) * (x1 - x0);
        x0 = x1;
        y0 = y1;
    }
    return 1e9 * sum / filter.abNormalisation;
}

double lineNanomaggies(const FilterCurve& filter, double observedWave, double lineFlux) {
    return 1e9 * lineFlux * observedWave * filter.responseAt(observedWave) / filter.abNormalisation;
}

ContinuumBandTable::ContinuumBandTable(const KcorrectTemplates& templates, const std::array<FilterCurve, kBands>& filters,
                                       double zMin, double zMax, double dz, double ebvMax, double debv)
    : zMin_(zMin), dz_(dz), debv_(debv), nz_(int(std::lround((zMax - zMin) / dz)) + 1), nebv_(int(std::lround(ebvMax / debv)) + 1) {
    // The table only pre-screens the selection (final magnitudes integrate the full spectrum),
    // so the smooth, line-free continuum is sampled at the filter's own points (1 nm): each
    // table entry is then a short weighted sum.
    const auto& cosmo = defaultCosmology();
    const auto& rest = templates.wave();
    logFlux_.assign(size_t(nz_) * nebv_ * kTemplates * kBands, 0.0);
    for (int b = 0; b < kBands; ++b) {
        const FilterCurve& f = filters[b];
        const size_t nk = f.wave.size();
        std::vector<double> weight(nk);
        for (size_t k = 0; k < nk; ++k) {
            const double lo = k > 0 ? f.wave[k - 1] : f.wave[k], hi = k + 1 < nk ? f.wave[k + 1] : f.wave[k];
            weight[k] = 0.5 * (hi - lo) * f.wave[k] * f.response[k] / f.abNormalisation * 1e9;
        }
        std::vector<size_t> idx(nk);
        std::vector<double> frac(nk), dust(nk);
        for (int iz = 0; iz < nz_; ++iz) {
            const double z = zMin_ + iz * dz_;
            const double dl = cosmo.luminosityDistanceMpc(z) * 3.0856775814913673e24;
            const double dimming = (kTenParsecCm / dl) * (kTenParsecCm / dl) / (1 + z);
            for (size_t k = 0; k < nk; ++k) {
                const double w = f.wave[k] / (1 + z);
                size_t i = size_t(std::upper_bound(rest.begin(), rest.end(), w) - rest.begin());
                i = std::clamp<size_t>(i, 1, rest.size() - 1);
                idx[k] = i;
                frac[k] = std::clamp((w - rest[i - 1]) / (rest[i] - rest[i - 1]), 0.0, 1.0);
                dust[k] = std::pow(10.0, -0.4 * calzettiK(w) * debv_);
            }
            for (int t = 0; t < kTemplates; ++t) {
                const auto& c = templates.continuum(t);
                std::vector<double> term(nk);
                for (size_t k = 0; k < nk; ++k)
                    term[k] = weight[k] * dimming * (c[idx[k] - 1] + frac[k] * (c[idx[k]] - c[idx[k] - 1]));
                for (int ie = 0; ie < nebv_; ++ie) {
                    double sum = 0;
                    for (size_t k = 0; k < nk; ++k) {
                        sum += term[k];
                        term[k] *= dust[k];  // one more step of E(B−V) for the next ie
                    }
                    logFlux_[((size_t(iz) * nebv_ + ie) * kTemplates + t) * kBands + b] = std::log(std::max(sum, 1e-300));
                }
            }
        }
    }
}

const ContinuumBandTable& ContinuumBandTable::shipped() {
    static const ContinuumBandTable table(KcorrectTemplates::shipped(), decamFilters());
    return table;
}

double ContinuumBandTable::nanomaggies(int templ, int band, double z, double ebv) const {
    assert(z >= zMin_ - 1e-9 && z <= zMax() + 1e-9 && ebv >= 0);
    const double tz = std::clamp((z - zMin_) / dz_, 0.0, double(nz_ - 1) - 1e-9);
    const double te = std::clamp(ebv / debv_, 0.0, double(nebv_ - 1) - 1e-9);
    const int iz = int(tz), ie = int(te);
    const double fz = tz - iz, fe = te - ie;
    auto at = [&](int a, int e) { return logFlux_[((size_t(a) * nebv_ + e) * kTemplates + templ) * kBands + band]; };
    // Log-flux is near linear in E(B−V); the redshift dependence is interpolated in log as well,
    // which follows the (1+z) and distance dimming smoothly.
    const double v = (1 - fz) * ((1 - fe) * at(iz, ie) + fe * at(iz, ie + 1)) + fz * ((1 - fe) * at(iz + 1, ie) + fe * at(iz + 1, ie + 1));
    return std::exp(v);
}

} // namespace astroclip::sim
