// A spectrum in a plain FITS binary table, as people write them by hand or with astropy:
// wavelength + flux + (ivar or 1-sigma error) columns, one row per pixel or one row of
// vector cells. Units come from TUNITn; redshift, position and id from columns or keywords.
#include "plugins/readers/spec_common.h"
#include "plugins/readers/spec_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <algorithm>
#include <cmath>
#include <regex>

namespace astroclip::spec {

namespace {

const char* const kWaveNames[] = {"WAVELENGTH", "WAVE", "LAMBDA", "LOGLAM"};
const char* const kIvarNames[] = {"IVAR", "FLUX_IVAR"};
const char* const kErrorNames[] = {"ERROR", "SIGMA", "ERR", "FLUX_ERR", "FLUX_ERROR"};

template <size_t N>
std::string firstPresent(const FileProbe& p, const FileProbe::Hdu& h, const char* const (&names)[N]) {
    for (const char* n : names)
        if (p.hasColumns(h, {n})) return n;
    return {};
}

// Multiplier from the wavelength column's unit to Å; nullopt for a unit that is no length.
std::optional<double> angstromsPer(const std::string& unitIn) {
    const std::string u = lower(trim(unitIn));
    if (u.empty() || u == "angstrom" || u == "angstroms" || u == "a" || u == "aa" || u == "ang" || u == "å")
        return 1.0;
    if (u == "nm" || u == "nanometer" || u == "nanometers") return 10.0;
    if (u == "um" || u == "micron" || u == "microns" || u == "micrometer") return 1e4;
    if (u == "m" || u == "meter") return 1e10;
    if (u == "cm") return 1e8;
    return std::nullopt;
}

// For a flux unit in erg/s/cm²/Å with an optional power-of-ten prefix ("1e-17 erg/s/cm2/A",
// "10**-17 erg/(s cm2 Angstrom)"), the factor to 1e-17 erg/s/cm²/Å; nullopt otherwise.
std::optional<double> factorTo1em17(const std::string& unitIn) {
    std::string u = lower(unitIn);
    u.erase(std::remove(u.begin(), u.end(), ' '), u.end());
    if (u.find("erg") == std::string::npos || u.find("hz") != std::string::npos) return std::nullopt;
    if (u.find("a") == std::string::npos) return std::nullopt;  // "erg/s/cm2" alone is no flux density
    static const std::regex prefix(R"(^(?:1(?:\.0*)?e|10\*\*|10\^)\(?([+-]?\d+)\)?\*?erg)");
    std::smatch m;
    if (std::regex_search(u, m, prefix)) return std::pow(10.0, std::stod(m[1]) + 17);
    if (u.rfind("erg", 0) == 0) return 1e17;
    return std::nullopt;
}

struct Arrays {
    std::vector<double> wave, flux, ivar;
};

class SpectrumTableReader final : public Reader {
public:
    std::string name() const override { return "spectrum-table"; }
    std::string description() const override {
        return "Generic spectrum table (wavelength, flux, ivar or error columns), resampled onto the 7781-pixel grid";
    }
    int score(const FileProbe& p) const override {
        if (!p.isFits) return 0;
        int best = 0;
        for (const auto& h : p.hdus) {
            if (h.type != FileProbe::Hdu::Type::Table || firstPresent(p, h, kWaveNames).empty() ||
                !p.hasColumns(h, {"FLUX"}))
                continue;
            // Without uncertainties it is a model or template (the KC96 and kcorrect templates),
            // not an observation: not ours.
            if (firstPresent(p, h, kIvarNames).empty() && firstPresent(p, h, kErrorNames).empty()) continue;
            best = kGenericSpectrumTableScore;
        }
        return best;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        const FileProbe::Hdu* hdu = nullptr;
        for (const auto& h : probe.hdus)
            if (h.type == FileProbe::Hdu::Type::Table && !firstPresent(probe, h, kWaveNames).empty() &&
                probe.hasColumns(h, {"FLUX"})) {
                hdu = &h;
                break;
            }
        if (!hdu) throw FileError(path, "no table with a wavelength (WAVELENGTH, WAVE, LAMBDA, LOGLAM) and a FLUX column");
        const std::string waveName = firstPresent(probe, *hdu, kWaveNames);
        const std::string ivarName = firstPresent(probe, *hdu, kIvarNames);
        const std::string errName = firstPresent(probe, *hdu, kErrorNames);
        const std::string hduName = hduLabel(*hdu);
        if (ivarName.empty() && errName.empty())
            throw FileError(path, hduName + " has no IVAR or ERROR/SIGMA/ERR column: the spectrum cannot be weighted");

        auto f = FitsFile::open(path);
        f.moveTo(hdu->index);
        ReadResult result;
        const TableColumn waveCol = describeColumn(f, requireColumn(path, *hdu, waveName));
        const TableColumn fluxCol = describeColumn(f, requireColumn(path, *hdu, "FLUX"));
        const TableColumn uncCol = describeColumn(f, requireColumn(path, *hdu, ivarName.empty() ? errName : ivarName));
        Arrays a = readArrays(f, hduName, waveCol, fluxCol, uncCol);

        // Wavelengths to vacuum Å.
        const std::string& waveUnit = waveCol.unit;
        if (waveName == "LOGLAM") {
            for (double& w : a.wave) w = std::pow(10.0, w);
        } else if (const auto scale = angstromsPer(waveUnit)) {
            for (double& w : a.wave) w *= *scale;
        } else {
            throw FileError(path, hduName + " " + waveName + " has unit '" + waveUnit + "', which is not a wavelength unit");
        }
        if (inAir(f)) {
            for (double& w : a.wave) w = airToVacuum(w);
        }

        // Uncertainty → inverse variance, in the flux column's units.
        if (ivarName.empty())
            for (double& s : a.ivar) s = (s > 0 && std::isfinite(s)) ? 1.0 / (s * s) : 0.0;

        // Flux to 1e-17 erg/s/cm²/Å when the unit says how; otherwise kept, unit recorded.
        const std::string& fluxUnit = fluxCol.unit;
        std::string recordUnit = SpectrumRecord().unit;
        if (fluxUnit.empty()) {
            result.warnings.push_back("FLUX has no unit (TUNIT): taken as 1e-17 erg/s/cm2/Angstrom");
        } else if (const auto factor = factorTo1em17(fluxUnit)) {
            for (double& v : a.flux) v *= *factor;
            for (double& v : a.ivar) v /= *factor * *factor;
        } else {
            recordUnit = fluxUnit;
            result.warnings.push_back("FLUX unit '" + fluxUnit + "' is not erg/s/cm2/Angstrom: values kept in that unit");
        }

        orderByWavelength(path, hduName, a);
        GridMerger merger;
        merger.addResampled(a.wave, a.flux, a.ivar);
        SpectrumRecord s = merger.finish(path, name(), hduName + " table (" + waveName + ", FLUX, " +
                                                           (ivarName.empty() ? errName : ivarName) + ")");
        s.unit = recordUnit;
        if (merger.invalidInputPixels() > 0)
            result.warnings.push_back(std::to_string(merger.invalidInputPixels()) +
                                      " native pixels masked (uncertainty <= 0 or values not finite)");

        ObjectRecord o;
        o.sourceFile = path;
        o.keys.push_back("file:" + baseName(path));
        describeObject(f, *hdu, o);
        o.spectra.push_back(std::move(s));
        result.objects.push_back(std::move(o));
        return result;
    }

private:
    static Arrays readArrays(FitsFile& f, const std::string& hduName, const TableColumn& waveCol,
                             const TableColumn& fluxCol, const TableColumn& uncCol) {
        const long nrows = f.numRows();
        const bool variable = fluxCol.kind == 'P' || fluxCol.kind == 'Q';
        Arrays a;
        if (fluxCol.repeat == 1 && !variable) {
            a.wave = f.readColumnDouble(waveCol.index);
            a.flux = f.readColumnDouble(fluxCol.index);
            a.ivar = f.readColumnDouble(uncCol.index);
        } else if (nrows == 1) {
            a.wave = f.readCellDouble(waveCol.index, 1);
            a.flux = f.readCellDouble(fluxCol.index, 1);
            a.ivar = f.readCellDouble(uncCol.index, 1);
        } else {
            throw FileError(f.path(), hduName + " holds " + std::to_string(nrows) +
                                          " rows of vector spectra; this reader takes one spectrum per file "
                                          "(one row of vector cells, or one row per pixel)");
        }
        if (a.wave.size() != a.flux.size() || a.ivar.size() != a.flux.size())
            throw FileError(f.path(), hduName + ": wavelength, flux and uncertainty have " +
                                          std::to_string(a.wave.size()) + ", " + std::to_string(a.flux.size()) +
                                          " and " + std::to_string(a.ivar.size()) + " elements; they must be equal");
        if (a.wave.size() < 2) throw FileError(f.path(), hduName + " has fewer than 2 spectral pixels");
        return a;
    }

    // AIRORVAC = 'air' or VACUUM = F in the table or primary header.
    static bool inAir(FitsFile& f) {
        const int here = f.currentHdu();
        bool air = false;
        for (int h : {here, 1}) {
            f.moveTo(h);
            if (auto v = f.keyString("AIRORVAC"); v && lower(trim(*v)).rfind("air", 0) == 0) air = true;
            if (auto v = f.keyString("VACUUM"); v && upper(trim(*v)) == "F") air = true;
        }
        f.moveTo(here);
        return air;
    }

    static void orderByWavelength(const std::string& path, const std::string& hduName, Arrays& a) {
        // Drop rows without a usable wavelength (padding), then demand a monotonic axis.
        size_t k = 0;
        for (size_t i = 0; i < a.wave.size(); ++i) {
            if (!(a.wave[i] > 0) || !std::isfinite(a.wave[i])) continue;
            a.wave[k] = a.wave[i];
            a.flux[k] = a.flux[i];
            a.ivar[k] = a.ivar[i];
            ++k;
        }
        a.wave.resize(k);
        a.flux.resize(k);
        a.ivar.resize(k);
        if (k < 2) throw FileError(path, hduName + " has fewer than 2 finite, positive wavelengths");
        if (a.wave[1] < a.wave[0]) {
            std::reverse(a.wave.begin(), a.wave.end());
            std::reverse(a.flux.begin(), a.flux.end());
            std::reverse(a.ivar.begin(), a.ivar.end());
        }
        for (size_t i = 1; i < k; ++i)
            if (!(a.wave[i] > a.wave[i - 1]))
                throw FileError(path, hduName + " wavelengths are not monotonic (at element " + std::to_string(i) + ")");
    }

    // Redshift, position and identifiers from the table's columns (row 1) or keywords of
    // the table or primary header.
    static void describeObject(FitsFile& f, const FileProbe::Hdu& table, ObjectRecord& o) {
        const int tableHdu = table.index;
        f.moveTo(tableHdu);
        for (auto& c : readScalarColumns(f, table, {"Z", "REDSHIFT", "RA", "DEC"}, 1)) {
            const auto* d = std::get_if<double>(&c.values[0]);
            if (!d) continue;
            if ((c.name == "z" || c.name == "redshift") && !o.columns.count("z")) o.columns["z"] = *d;
            if (c.name == "ra") o.ra = *d;
            if (c.name == "dec") o.dec = *d;
        }
        for (int h : {tableHdu, 1}) {
            f.moveTo(h);
            for (const char* key : {"Z", "REDSHIFT"})
                if (auto z = f.keyDouble(key); z && std::isfinite(*z) && !o.columns.count("z")) o.columns["z"] = *z;
            if (!o.ra || !o.dec) {
                const auto ra = f.keyString("RA"), dec = f.keyString("DEC");
                if (ra && dec) {
                    // Sexagesimal RA is in hours; a plain number is degrees.
                    const bool raHours = ra->find(':') != std::string::npos || ra->find('h') != std::string::npos;
                    const auto raDeg = parseSexagesimal(*ra, raHours), decDeg = parseSexagesimal(*dec, false);
                    if (raDeg && decDeg && *raDeg >= 0 && *raDeg < 360 && std::abs(*decDeg) <= 90) {
                        o.ra = *raDeg;
                        o.dec = *decDeg;
                    }
                }
            }
            for (const char* key : {"OBJID", "ID"})
                if (auto id = f.keyString(key); id && !trim(*id).empty() && !o.columns.count("id")) {
                    o.columns["id"] = trim(*id);
                    o.keys.push_back("spectrum-table:" + trim(*id));
                }
            if (auto t = f.keyInt("TARGETID"); t && !o.columns.count("targetid")) {
                o.columns["targetid"] = *t;
                o.keys.push_back("desi:targetid:" + std::to_string(*t));
            }
        }
    }
};

} // namespace

std::unique_ptr<Reader> makeSpectrumTableReader() { return std::make_unique<SpectrumTableReader>(); }

} // namespace astroclip::spec
