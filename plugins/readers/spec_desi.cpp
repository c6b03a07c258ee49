// DESI spectro-pipeline files: coadd-*.fits (FIBERMAP + per-arm WAVELENGTH/FLUX/IVAR/MASK
// images) and redrock-*.fits (REDSHIFTS table). Our simulator writes the same layout.
#include "plugins/readers/spec_common.h"
#include "plugins/readers/spec_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <cmath>
#include <string>
#include <unordered_map>

namespace astroclip::spec {

namespace {

// FIBERMAP columns an astronomer looks at: photometry (Legacy Surveys nanomaggies) and its
// errors, extinction, morphology and size, target class bits, observing depth. The rest of
// the 80-odd columns are fibre-positioner bookkeeping.
const std::vector<std::string> kFibermapColumns = {
    "TARGETID", "OBJTYPE", "MORPHTYPE", "EBV", "FLUX_G", "FLUX_R", "FLUX_Z", "FLUX_W1", "FLUX_W2",
    "FLUX_IVAR_G", "FLUX_IVAR_R", "FLUX_IVAR_Z", "FLUX_IVAR_W1", "FLUX_IVAR_W2", "FIBERFLUX_G", "FIBERFLUX_R",
    "FIBERFLUX_Z", "SHAPE_R", "SERSIC", "MASKBITS", "PHOTSYS", "RELEASE", "BRICKNAME", "DESI_TARGET",
    "BGS_TARGET", "MWS_TARGET", "SV1_DESI_TARGET", "TILEID", "COADD_NUMEXP", "COADD_EXPTIME",
    "COADD_FIBERSTATUS"};

const std::vector<std::string> kRedshiftColumns = {"Z", "ZERR", "ZWARN", "SPECTYPE", "SUBTYPE", "DELTACHI2"};

std::string shapeText(const std::vector<long>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
    return t + "]";
}

std::string targetKey(int64_t id) { return "desi:targetid:" + std::to_string(id); }

// TARGETID of every row of the current table HDU `h` (which must have that column).
std::vector<int64_t> readTargetIds(FitsFile& f, const FileProbe::Hdu& h) {
    return f.readColumnInt64(requireColumn(f.path(), h, "TARGETID"));
}

// Adds REDSHIFTS columns (z, zerr, ...) to the objects whose TARGETID they name.
void addRedshifts(FitsFile& f, const FileProbe::Hdu& h, std::vector<ObjectRecord>& objects,
                  const std::vector<int64_t>& ids) {
    const long n = f.numRows();
    const auto rowIds = readTargetIds(f, h);
    requireColumn(f.path(), h, "Z");
    const auto cols = readScalarColumns(f, h, kRedshiftColumns, n);
    std::unordered_map<int64_t, size_t> index;
    for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
    for (long r = 0; r < n; ++r) {
        auto it = index.find(rowIds[r]);
        if (it == index.end()) continue;
        for (const auto& c : cols) objects[it->second].columns[c.name] = c.values[r];
    }
}

class DesiCoaddReader final : public Reader {
public:
    std::string name() const override { return "desi-coadd"; }
    std::string description() const override {
        return "DESI coadd spectra (FIBERMAP + B/R/Z arms), merged onto the 7781-pixel grid";
    }
    int score(const FileProbe& p) const override {
        if (!p.isFits || !p.hduNamed("FIBERMAP")) return 0;
        return armNames(p).empty() ? 0 : kSpecificFormatScore;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        const auto fibermap = requireHdu(f, probe, "FIBERMAP", "DESI coadd files list their targets there");
        const long ntarget = f.numRows();
        if (ntarget <= 0) throw FileError(path, "FIBERMAP HDU has no rows");
        const auto ids = readTargetIds(f, fibermap);
        const int raCol = columnIndex(fibermap, "TARGET_RA"), decCol = columnIndex(fibermap, "TARGET_DEC");
        std::vector<double> ra, dec;
        if (raCol > 0 && decCol > 0) {
            ra = f.readColumnDouble(raCol);
            dec = f.readColumnDouble(decCol);
        }
        const auto cols = readScalarColumns(f, fibermap, kFibermapColumns, ntarget);

        std::vector<ObjectRecord> objects(static_cast<size_t>(ntarget));
        for (long t = 0; t < ntarget; ++t) {
            ObjectRecord& o = objects[t];
            o.keys.push_back(targetKey(ids[t]));
            if (!ra.empty() && std::isfinite(ra[t]) && std::isfinite(dec[t])) {
                o.ra = ra[t];
                o.dec = dec[t];
            }
            for (const auto& c : cols) o.columns[c.name] = c.values[t];
            o.sourceFile = path;
        }
        if (const auto z = moveToHdu(f, probe, "REDSHIFTS")) addRedshifts(f, *z, objects, ids);

        std::vector<GridMerger> merged(static_cast<size_t>(ntarget));
        std::string armList;
        for (const std::string& arm : armNames(probe, true)) {
            if (!moveToHdu(f, probe, arm + "_FLUX")) continue;
            addArm(f, probe, arm, ntarget, merged);
            armList += (armList.empty() ? "" : ",") + arm;
        }
        if (armList.empty()) throw FileError(path, "no B_FLUX/R_FLUX/Z_FLUX HDU: not a DESI coadd spectrum file");

        ReadResult result;
        int invalid = 0, withSpectrum = 0;
        std::string lastFailure;
        for (long t = 0; t < ntarget; ++t) {
            invalid += merged[t].invalidInputPixels();
            try {
                objects[t].spectra.push_back(
                    merged[t].finish(path, name(), armList + " row " + std::to_string(t)));
                ++withSpectrum;
            } catch (const FileError& e) {
                // A dead fibre in a 500-target file should not lose the other 499 spectra.
                if (ntarget == 1) throw;
                lastFailure = e.problem();
                result.warnings.push_back("TARGETID " + std::to_string(ids[t]) + ": " + e.problem() +
                                          "; object kept without spectrum");
            }
        }
        if (withSpectrum == 0) throw FileError(path, "no target has a valid spectrum (e.g. " + lastFailure + ")");
        if (invalid > 0)
            result.warnings.push_back(std::to_string(invalid) +
                                      " native pixels masked (MASK set, ivar <= 0 or not finite)");
        result.objects = std::move(objects);
        return result;
    }

private:
    // Arms present in the file: X such that X_FLUX and X_WAVELENGTH exist (B, R, Z; BRZ in
    // combined-camera files). With `fallback`, a damaged probe still tries B, R and Z.
    static std::vector<std::string> armNames(const FileProbe& p, bool fallback = false) {
        std::vector<std::string> arms;
        for (const auto& h : p.hdus) {
            const std::string& n = h.extname;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, "_FLUX") == 0) {
                const std::string arm = n.substr(0, n.size() - 5);
                if (p.hduNamed(arm + "_WAVELENGTH")) arms.push_back(arm);
            }
        }
        if (arms.empty() && fallback) arms = {"B", "R", "Z"};
        return arms;
    }

    static void addArm(FitsFile& f, const FileProbe& probe, const std::string& arm, long ntarget,
                       std::vector<GridMerger>& merged) {
        const std::string& path = f.path();
        requireHdu(f, probe, arm + "_WAVELENGTH", "the wavelengths of the " + arm + "_FLUX arm");
        const auto waveShape = f.imageShape();
        // A damaged NAXIS1 must not turn into a giant allocation before CFITSIO notices.
        if (waveShape.size() != 1 || waveShape[0] < 2 || waveShape[0] > 10'000'000)
            throw FileError(path, arm + "_WAVELENGTH HDU has shape " + shapeText(waveShape) +
                                      ", expected a 1-D array of wavelengths");
        const auto wave = f.readImageDouble();
        if (wave.size() < 2)
            throw FileError(path, arm + "_WAVELENGTH HDU has shape " + shapeText(waveShape) +
                                      ", expected a 1-D array of wavelengths");
        const long npix = long(wave.size());
        auto expectShape = [&](const std::vector<long>& s, const std::string& hdu) {
            const bool ok = (s.size() == 2 && s[0] == ntarget && s[1] == npix) ||
                            (s.size() == 1 && ntarget == 1 && s[0] == npix);
            if (!ok)
                throw FileError(path, hdu + " HDU has shape " + shapeText(s) + ", but FIBERMAP has " +
                                          std::to_string(ntarget) + " rows and " + arm + "_WAVELENGTH has " +
                                          std::to_string(npix) + " pixels: expected [" + std::to_string(ntarget) +
                                          "," + std::to_string(npix) + "]");
        };
        requireHdu(f, probe, arm + "_FLUX", "the " + arm + " arm");
        expectShape(f.imageShape(), arm + "_FLUX");
        const auto flux = f.readImageFloat();
        requireHdu(f, probe, arm + "_IVAR", "the inverse variance of the " + arm + " arm");
        expectShape(f.imageShape(), arm + "_IVAR");
        auto ivar = f.readImageFloat();
        if (moveToHdu(f, probe, arm + "_MASK")) {
            expectShape(f.imageShape(), arm + "_MASK");
            const auto mask = f.readImageFloat();
            for (size_t i = 0; i < mask.size(); ++i)
                if (mask[i] != 0) ivar[i] = 0;
        }

        if (const auto offset = GridMerger::gridOffset(wave)) {
            for (long t = 0; t < ntarget; ++t)
                merged[t].addOnGrid(*offset, std::span(flux).subspan(size_t(t * npix), size_t(npix)),
                                    std::span(ivar).subspan(size_t(t * npix), size_t(npix)));
            return;
        }
        for (long i = 1; i < npix; ++i)
            if (!(wave[i] > wave[i - 1]))
                throw FileError(path, arm + "_WAVELENGTH is not strictly increasing at pixel " + std::to_string(i));
        std::vector<double> fd(static_cast<size_t>(npix)), id(static_cast<size_t>(npix));
        for (long t = 0; t < ntarget; ++t) {
            for (long i = 0; i < npix; ++i) {
                fd[i] = flux[size_t(t * npix + i)];
                id[i] = ivar[size_t(t * npix + i)];
            }
            merged[t].addResampled(wave, fd, id);
        }
    }
};

class DesiRedrockReader final : public Reader {
public:
    std::string name() const override { return "desi-redrock"; }
    std::string description() const override {
        return "DESI redrock redshift catalogue (REDSHIFTS table: z, zerr, zwarn, spectype)";
    }
    int score(const FileProbe& p) const override {
        if (!p.isFits) return 0;
        const auto* h = p.hduNamed("REDSHIFTS");
        if (!h || h->type != FileProbe::Hdu::Type::Table || !p.hasColumns(*h, {"TARGETID", "Z"})) return 0;
        return kSpecificFormatScore - 10;  // a coadd that also carries REDSHIFTS goes to desi-coadd
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        const auto redshifts = requireHdu(f, probe, "REDSHIFTS", "redrock files hold their fits there");
        const long n = f.numRows();
        if (n <= 0) throw FileError(path, "REDSHIFTS HDU has no rows");
        const auto ids = readTargetIds(f, redshifts);
        std::vector<ObjectRecord> objects(static_cast<size_t>(n));
        for (long r = 0; r < n; ++r) {
            objects[r].keys.push_back(targetKey(ids[r]));
            objects[r].sourceFile = path;
        }
        addRedshifts(f, redshifts, objects, ids);

        if (const auto fibermap = moveToHdu(f, probe, "FIBERMAP")) {
            const int raCol = columnIndex(*fibermap, "TARGET_RA"), decCol = columnIndex(*fibermap, "TARGET_DEC");
            if (raCol > 0 && decCol > 0 && f.numRows() > 0) {
                const auto fmIds = readTargetIds(f, *fibermap);
                const auto ra = f.readColumnDouble(raCol), dec = f.readColumnDouble(decCol);
                std::unordered_map<int64_t, size_t> row;
                for (size_t i = 0; i < fmIds.size(); ++i) row.emplace(fmIds[i], i);
                for (long r = 0; r < n; ++r) {
                    auto it = row.find(ids[r]);
                    if (it == row.end() || !std::isfinite(ra[it->second]) || !std::isfinite(dec[it->second])) continue;
                    objects[r].ra = ra[it->second];
                    objects[r].dec = dec[it->second];
                }
            }
        }
        ReadResult result;
        result.objects = std::move(objects);
        return result;
    }
};

} // namespace

std::unique_ptr<Reader> makeDesiCoaddReader() { return std::make_unique<DesiCoaddReader>(); }
std::unique_ptr<Reader> makeDesiRedrockReader() { return std::make_unique<DesiRedrockReader>(); }

} // namespace astroclip::spec
