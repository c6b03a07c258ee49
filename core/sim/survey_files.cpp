#include "core/sim/survey_files.h"

#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/io/fits.h"
#include "core/sim/photometry.h"

#include <filesystem>
#include <functional>

namespace astroclip::sim {

namespace {

const char* kFluxUnit = "10**-17 erg/(s cm2 Angstrom)";
const char* kIvarUnit = "10**+34 (s2 cm4 Angstrom2) / erg2";

// A table assembled column by column, then written in one go.
class TableBuilder {
public:
    void add(const std::string& name, const std::string& tform, const std::string& unit,
             std::function<void(FitsFile&, int)> write) {
        specs_.push_back({name, tform, unit});
        writers_.push_back(std::move(write));
    }
    template <typename T>
    void addValues(const std::string& name, const std::string& tform, const std::string& unit, std::vector<T> values) {
        add(name, tform, unit, [v = std::move(values)](FitsFile& f, int col) { f.writeColumn(col, 1, v); });
    }
    void write(FitsFile& f, const std::string& extname, long nrows) {
        f.createTable(extname, specs_, nrows);
        for (size_t i = 0; i < writers_.size(); ++i) writers_[i](f, int(i) + 1);
    }
private:
    std::vector<FitsFile::ColumnSpec> specs_;
    std::vector<std::function<void(FitsFile&, int)>> writers_;
};

template <typename T, typename F>
std::vector<T> collect(const std::vector<const SimObject*>& objs, F get) {
    std::vector<T> v;
    v.reserve(objs.size());
    for (const SimObject* o : objs) v.push_back(T(get(*o)));
    return v;
}

// Writes through a temporary file renamed into place; removes the temporary on failure.
void writeAtomically(const std::string& path, const std::function<void(FitsFile&)>& body) {
    const std::string tmp = path + ".tmp";
    try {
        FitsFile f = FitsFile::create(tmp);
        body(f);
        f.close();
        std::error_code ec;
        std::filesystem::rename(tmp, path, ec);
        if (ec) throw FileError(path, "cannot move the finished file into place: " + ec.message());
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
    }
}

void writeProvenance(FitsFile& f) {
    f.writeKey("ORIGIN", "AstroCLIP Studio", "simulated survey");
    f.writeKey("SIMULATD", true, "simulated data, not observed");
    f.writeKey("COSMO", "FlatLambdaCDM H0=70 Om0=0.3", "cosmology of the simulation");
}

std::vector<const SimObject*> pointers(const std::vector<SimObject>& objects) {
    std::vector<const SimObject*> p;
    for (const SimObject& o : objects) p.push_back(&o);
    return p;
}

} // namespace

void writeCoaddFile(const std::string& path, const std::vector<const SimObject*>& objs) {
    const long n = long(objs.size());
    writeAtomically(path, [&](FitsFile& f) {
        f.writeEmptyPrimary();
        writeProvenance(f);
        f.writeKey("SPGRP", "sim", "spectra grouping");
        f.writeKey("LONGSTRN", "OGIP 1.0");
        f.writeChecksums();

        TableBuilder fm;
        fm.addValues("TARGETID", "K", "", collect<int64_t>(objs, [](const SimObject& o) { return o.targetId; }));
        fm.addValues("PETAL_LOC", "I", "", collect<int16_t>(objs, [](const SimObject& o) { return o.specRow / 50 % 10; }));
        fm.addValues("FIBER", "J", "", collect<int32_t>(objs, [](const SimObject& o) { return o.specRow; }));
        fm.addValues("COADD_FIBERSTATUS", "J", "", std::vector<int32_t>(n, 0));
        fm.addValues("TARGET_RA", "D", "deg", collect<double>(objs, [](const SimObject& o) { return o.ra; }));
        fm.addValues("TARGET_DEC", "D", "deg", collect<double>(objs, [](const SimObject& o) { return o.dec; }));
        fm.addValues("OBJTYPE", "3A", "", std::vector<std::string>(n, "TGT"));
        fm.addValues("MORPHTYPE", "4A", "", collect<std::string>(objs, [](const SimObject& o) {
            return o.truth.bulgeFracR > 0.5 ? std::string("DEV") : std::string("EXP"); }));
        fm.addValues("EBV", "E", "mag", std::vector<float>(n, 0.0f));  // no Milky Way dust in the simulation
        for (int b = 0; b < kBands; ++b) {
            const std::string band = std::string(kBandNames[b]) == "g" ? "G" : std::string(kBandNames[b]) == "r" ? "R" : "Z";
            fm.addValues("FLUX_" + band, "E", "nanomaggy", collect<float>(objs, [b](const SimObject& o) { return o.truth.flux[b]; }));
            fm.addValues("FIBERFLUX_" + band, "E", "nanomaggy", collect<float>(objs, [b](const SimObject& o) { return o.truth.fibreFlux[b]; }));
        }
        fm.addValues("SERSIC", "E", "", collect<float>(objs, [](const SimObject& o) { return o.truth.bulgeFracR > 0.5 ? 4.0 : 1.0; }));
        fm.addValues("SHAPE_R", "E", "arcsec", collect<float>(objs, [](const SimObject& o) { return o.truth.galaxy.reArcsec; }));
        // DESI targeting bits: LRG = 2^0, ELG = 2^1, BGS_ANY = 2^60; BGS_BRIGHT = 2^1 of BGS_TARGET.
        fm.addValues("DESI_TARGET", "K", "", collect<int64_t>(objs, [](const SimObject& o) {
            switch (o.truth.sample) {
            case Sample::LRG: return int64_t(1);
            case Sample::ELG: return int64_t(2);
            default: return int64_t(1) << 60;
            }
        }));
        fm.addValues("BGS_TARGET", "K", "", collect<int64_t>(objs, [](const SimObject& o) { return o.truth.sample == Sample::BGS ? 2 : 0; }));
        fm.addValues("COADD_NUMEXP", "I", "", std::vector<int16_t>(n, 1));
        fm.addValues("COADD_EXPTIME", "E", "s", collect<float>(objs, [](const SimObject& o) { return exposureSeconds(o.program); }));
        fm.addValues("PROGRAM", "6A", "", collect<std::string>(objs, [](const SimObject& o) { return std::string(programName(o.program)); }));
        fm.write(f, "FIBERMAP", n);
        f.writeChecksums();

        for (int arm = 0; arm < 3; ++arm) {
            const DesiArm& a = desiArms()[arm];
            const std::string p(1, a.name);
            std::vector<double> wave(a.npix);
            for (int i = 0; i < a.npix; ++i) wave[i] = DesiGrid::wave(a.offset + i);
            f.writeImage({long(a.npix)}, wave.data(), p + "_WAVELENGTH");
            f.writeKey("BUNIT", "Angstrom");
            f.writeChecksums();
            std::vector<float> flux(size_t(n) * a.npix), ivar(size_t(n) * a.npix);
            std::vector<int32_t> mask(size_t(n) * a.npix);
            for (long r = 0; r < n; ++r) {
                const ArmSpectrum& s = objs[r]->spectrum.arms[arm];
                std::copy(s.flux.begin(), s.flux.end(), flux.begin() + r * a.npix);
                std::copy(s.ivar.begin(), s.ivar.end(), ivar.begin() + r * a.npix);
                std::copy(s.mask.begin(), s.mask.end(), mask.begin() + r * a.npix);
            }
            f.writeImage({n, long(a.npix)}, flux.data(), p + "_FLUX");
            f.writeKey("BUNIT", kFluxUnit);
            f.writeChecksums();
            f.writeImage({n, long(a.npix)}, ivar.data(), p + "_IVAR");
            f.writeKey("BUNIT", kIvarUnit);
            f.writeChecksums();
            f.writeImage({n, long(a.npix)}, mask.data(), p + "_MASK");
            f.writeChecksums();
        }
        std::vector<float> truth(size_t(n) * DesiGrid::kSize);
        for (long r = 0; r < n; ++r) std::copy(objs[r]->trueFlux.begin(), objs[r]->trueFlux.end(), truth.begin() + r * DesiGrid::kSize);
        f.writeImage({n, long(DesiGrid::kSize)}, truth.data(), "TRUEFLUX");
        f.writeKey("BUNIT", kFluxUnit);
        f.writeKey("CRVAL1", DesiGrid::kWaveMin, "wavelength of the first pixel [Angstrom]");
        f.writeKey("CDELT1", DesiGrid::kStep, "pixel step [Angstrom]");
        f.writeKey("CRPIX1", 1.0);
        f.writeKey("CTYPE1", "WAVE", "vacuum wavelength, linear");
        f.writeKey("CUNIT1", "Angstrom");
        f.writeComment("Noiseless fibre spectra the B/R/Z arms were drawn from, on the merged coadd grid.");
        f.writeChecksums();
    });
}

void writeRedrockFile(const std::string& path, const std::vector<const SimObject*>& objs) {
    const long n = long(objs.size());
    writeAtomically(path, [&](FitsFile& f) {
        f.writeEmptyPrimary();
        writeProvenance(f);
        f.writeKey("SPGRP", "sim", "spectra grouping");
        f.writeChecksums();
        TableBuilder t;
        t.addValues("TARGETID", "K", "", collect<int64_t>(objs, [](const SimObject& o) { return o.targetId; }));
        t.addValues("Z", "D", "", collect<double>(objs, [](const SimObject& o) { return o.zRedrock; }));
        t.addValues("ZERR", "D", "", collect<double>(objs, [](const SimObject& o) { return o.zErr; }));
        t.addValues("ZWARN", "K", "", collect<int64_t>(objs, [](const SimObject& o) { return o.zwarn; }));
        t.addValues("NPIXELS", "K", "", std::vector<int64_t>(n, int64_t(desiArms()[0].npix + desiArms()[1].npix + desiArms()[2].npix)));
        t.addValues("SPECTYPE", "6A", "", std::vector<std::string>(n, "GALAXY"));
        t.addValues("SUBTYPE", "20A", "", std::vector<std::string>(n, ""));
        t.addValues("DELTACHI2", "D", "", collect<double>(objs, [](const SimObject& o) { return o.deltaChi2; }));
        t.write(f, "REDSHIFTS", n);
        f.writeChecksums();
    });
}

void writeTruthFile(const std::string& path, const std::vector<SimObject>& objects, uint64_t seed) {
    const auto objs = pointers(objects);
    const long n = long(objs.size());
    auto d = [&](auto get) { return collect<double>(objs, get); };
    writeAtomically(path, [&](FitsFile& f) {
        f.writeEmptyPrimary();
        writeProvenance(f);
        f.writeKey("SIMSEED", int64_t(seed), "seed of the simulation");
        f.writeChecksums();
        TableBuilder t;
        t.addValues("TARGETID", "K", "", collect<int64_t>(objs, [](const SimObject& o) { return o.targetId; }));
        t.addValues("RA", "D", "deg", d([](const SimObject& o) { return o.ra; }));
        t.addValues("DEC", "D", "deg", d([](const SimObject& o) { return o.dec; }));
        t.addValues("Z", "D", "", d([](const SimObject& o) { return o.truth.z; }));
        t.addValues("SAMPLE", "9A", "", collect<std::string>(objs, [](const SimObject& o) { return std::string(sampleName(o.truth.sample)); }));
        t.addValues("PROGRAM", "6A", "", collect<std::string>(objs, [](const SimObject& o) { return std::string(programName(o.program)); }));
        t.addValues("QUENCHED", "I", "", collect<int16_t>(objs, [](const SimObject& o) { return o.truth.quenched ? 1 : 0; }));
        t.addValues("LOGMSTAR", "D", "", d([](const SimObject& o) { return o.truth.logMstar; }));
        t.addValues("SFR", "D", "solMass/yr", d([](const SimObject& o) { return o.truth.sfr; }));
        t.addValues("SSFR", "D", "yr-1", d([](const SimObject& o) { return o.truth.sfr / std::pow(10.0, o.truth.logMstar); }));
        t.addValues("EBV", "D", "mag", d([](const SimObject& o) { return o.truth.pop.ebvStar; }));
        t.addValues("VDISP", "D", "km/s", d([](const SimObject& o) { return o.truth.pop.vdispKms; }));
        std::vector<double> coeff, bulgeCoeff;
        for (const SimObject* o : objs)
            for (int i = 0; i < kTemplates; ++i) {
                coeff.push_back(o->truth.pop.coeff[i]);
                bulgeCoeff.push_back(o->truth.pop.bulgeCoeff[i]);
            }
        t.addValues("COEFF", "5D", "solMass", coeff);
        t.addValues("BULGE_COEFF", "5D", "solMass", bulgeCoeff);
        t.addValues("LINE_SCALE", "D", "", d([](const SimObject& o) { return o.truth.pop.lineScale; }));
        const char* upper[kBands] = {"G", "R", "Z"};
        for (int b = 0; b < kBands; ++b) {
            t.addValues(std::string("MAG_") + upper[b], "D", "mag", d([b](const SimObject& o) { return nanomaggiesToMag(o.truth.flux[b]); }));
            t.addValues(std::string("FLUX_") + upper[b], "D", "nanomaggy", d([b](const SimObject& o) { return o.truth.flux[b]; }));
            t.addValues(std::string("FIBERFLUX_") + upper[b], "D", "nanomaggy", d([b](const SimObject& o) { return o.truth.fibreFlux[b]; }));
            t.addValues(std::string("BULGE_FLUX_") + upper[b], "D", "nanomaggy", d([b](const SimObject& o) { return o.truth.galaxy.bulge.flux[b]; }));
        }
        t.addValues("SPEC_APERTURE", "D", "", d([](const SimObject& o) { return o.truth.specAperture; }));
        for (int l = 0; l < kTruthLines; ++l)
            t.addValues(std::string("FLUX_") + kTruthLineNames[l], "D", "10**-17 erg/(s cm2)", d([l](const SimObject& o) { return o.truth.lineFlux[l]; }));
        t.addValues("RE_KPC", "D", "kpc", d([](const SimObject& o) { return o.truth.galaxy.reKpc; }));
        t.addValues("RE_ARCSEC", "D", "arcsec", d([](const SimObject& o) { return o.truth.galaxy.reArcsec; }));
        t.addValues("BULGE_RE_ARCSEC", "D", "arcsec", d([](const SimObject& o) { return o.truth.galaxy.bulge.reArcsec; }));
        t.addValues("DISK_RE_ARCSEC", "D", "arcsec", d([](const SimObject& o) { return o.truth.galaxy.disk.reArcsec; }));
        t.addValues("BULGE_FRAC_R", "D", "", d([](const SimObject& o) { return o.truth.bulgeFracR; }));
        t.addValues("AXIS_RATIO", "D", "", d([](const SimObject& o) { return o.truth.axisRatio; }));
        t.addValues("POS_ANGLE", "D", "deg", d([](const SimObject& o) { return o.truth.galaxy.disk.positionAngleDeg; }));
        t.addValues("HAS_NEIGHBOUR", "I", "", collect<int16_t>(objs, [](const SimObject& o) { return o.hasNeighbour ? 1 : 0; }));
        t.addValues("NEIGHBOUR_Z", "D", "", d([](const SimObject& o) { return o.hasNeighbour ? o.neighbour.galaxy.z : -1.0; }));
        t.addValues("NEIGHBOUR_MAG_R", "D", "mag", d([](const SimObject& o) { return o.hasNeighbour ? o.neighbourMagR : 0.0; }));
        t.addValues("NEIGHBOUR_DX", "D", "pix", d([](const SimObject& o) { return o.hasNeighbour ? o.neighbour.dxPix : 0.0; }));
        t.addValues("NEIGHBOUR_DY", "D", "pix", d([](const SimObject& o) { return o.hasNeighbour ? o.neighbour.dyPix : 0.0; }));
        t.addValues("TIDAL", "I", "", collect<int16_t>(objs, [](const SimObject& o) { return o.tidal != TidalKind::None ? 1 : 0; }));
        t.addValues("TIDAL_KIND", "8A", "", collect<std::string>(objs, [](const SimObject& o) { return std::string(tidalKindName(o.tidal)); }));
        t.addValues("TIDAL_MU_R", "D", "mag/arcsec2", d([](const SimObject& o) { return o.tidal != TidalKind::None ? o.tidalMuR : 0.0; }));
        t.addValues("MEDIAN_SNR_R", "D", "", d([](const SimObject& o) { return o.spectrum.medianSnrR; }));
        t.addValues("CUTOUT", "48A", "", collect<std::string>(objs, [](const SimObject& o) { return o.cutoutFile; }));
        t.addValues("SPEC_FILE", "32A", "", collect<std::string>(objs, [](const SimObject& o) { return o.specFile; }));
        t.addValues("SPEC_ROW", "J", "", collect<int32_t>(objs, [](const SimObject& o) { return o.specRow; }));
        t.write(f, "TRUTH", n);
        f.writeKey("TRUTHTAB", true, "this table holds simulation truth");
        f.writeComment("Line fluxes (FLUX_<line>) are those in the fibre spectrum; divide by SPEC_APERTURE for totals.");
        f.writeChecksums();
    });
}

} // namespace astroclip::sim
