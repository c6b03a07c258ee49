// SDSS/BOSS spec-PLATE-MJD-FIBER.fits (DR8+ layout): COADD table (flux, loglam, ivar,
// and_mask, ...) on a log-lambda vacuum grid, and SPECOBJ (one row: redshift, class, plate,
// MJD, fibre, plug position). Flux is already in 1e-17 erg/s/cm²/Å.
#include "plugins/readers/spec_common.h"
#include "plugins/readers/spec_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <cmath>

namespace astroclip::spec {

namespace {

// The SPECOBJ columns worth a catalogue column: the pipeline's redshift and classification
// (and its no-QSO alternative), velocity dispersion, data quality, identifiers.
const std::vector<std::string> kSpecobjColumns = {
    "Z", "Z_ERR", "ZWARNING", "CLASS", "SUBCLASS", "Z_NOQSO", "Z_ERR_NOQSO", "ZWARNING_NOQSO", "CLASS_NOQSO",
    "VDISP", "VDISP_ERR", "SN_MEDIAN_ALL", "PLATE", "MJD", "FIBERID", "SPECOBJID", "BESTOBJID", "SURVEY",
    "PROGRAMNAME", "SOURCETYPE"};

// SDSS column names differ from the catalogue's conventions in two places.
std::string catalogName(const std::string& sdssLower) {
    if (sdssLower == "z_err") return "zerr";
    return sdssLower;
}

std::optional<int64_t> intValue(const Value& v) {
    if (auto p = std::get_if<int64_t>(&v)) return *p;
    if (auto p = std::get_if<double>(&v)) return int64_t(std::llround(*p));
    return std::nullopt;
}

class SdssSpecReader final : public Reader {
public:
    std::string name() const override { return "sdss-spec"; }
    std::string description() const override {
        return "SDSS/BOSS spec file (COADD + SPECOBJ), resampled onto the 7781-pixel grid";
    }
    int score(const FileProbe& p) const override {
        if (!p.isFits) return 0;
        const auto* coadd = p.hduNamed("COADD");
        if (!coadd || !p.hduNamed("SPECOBJ") || coadd->type != FileProbe::Hdu::Type::Table) return 0;
        return p.hasColumns(*coadd, {"FLUX", "LOGLAM", "IVAR"}) ? kSpecificFormatScore : 0;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        ReadResult result;
        ObjectRecord o;
        o.sourceFile = path;

        const auto specobj = requireHdu(f, probe, "SPECOBJ", "SDSS spec files describe the object there");
        if (f.numRows() < 1) throw FileError(path, "SPECOBJ HDU has no rows");
        for (auto& c : readScalarColumns(f, specobj, kSpecobjColumns, 1)) o.columns[catalogName(c.name)] = c.values[0];
        for (const auto& [raName, decName] : {std::pair{"PLUG_RA", "PLUG_DEC"}, std::pair{"RA", "DEC"}}) {
            const int rc = columnIndex(specobj, raName), dc = columnIndex(specobj, decName);
            if (rc <= 0 || dc <= 0) continue;
            const double ra = f.readColumnDouble(rc, 1, 1)[0], dec = f.readColumnDouble(dc, 1, 1)[0];
            if (std::isfinite(ra) && std::isfinite(dec)) {
                o.ra = ra;
                o.dec = dec;
                break;
            }
        }
        const auto plate = intValue(o.columns["plate"]), mjd = intValue(o.columns["mjd"]),
                   fiber = intValue(o.columns["fiberid"]);
        if (plate && mjd && fiber)
            o.keys.push_back("sdss:" + std::to_string(*plate) + "-" + std::to_string(*mjd) + "-" +
                             std::to_string(*fiber));
        else
            result.warnings.push_back("SPECOBJ lacks PLATE/MJD/FIBERID: object linked by file name and position only");
        o.keys.push_back("file:" + baseName(path));

        const auto coadd = requireHdu(f, probe, "COADD", "the coadded spectrum");
        const long n = f.numRows();
        if (n < 2) throw FileError(path, "COADD HDU has " + std::to_string(n) + " rows: no spectrum");
        auto flux = f.readColumnDouble(requireColumn(path, coadd, "flux"));
        auto loglam = f.readColumnDouble(requireColumn(path, coadd, "loglam"));
        auto ivar = f.readColumnDouble(requireColumn(path, coadd, "ivar"));
        if (const int mc = columnIndex(coadd, "and_mask"); mc > 0) {
            // Pixels bad in every exposure (and_mask) carry no information, whatever ivar says.
            const auto andMask = f.readColumnInt64(mc);
            for (long i = 0; i < n; ++i)
                if (andMask[i] != 0) ivar[i] = 0;
        }
        std::vector<double> wave(static_cast<size_t>(n));
        for (long i = 0; i < n; ++i) {
            wave[i] = std::pow(10.0, loglam[i]);
            if (i > 0 && !(wave[i] > wave[i - 1]))
                throw FileError(path, "COADD loglam is not strictly increasing at row " + std::to_string(i + 1));
        }
        GridMerger merger;
        merger.addResampled(wave, flux, ivar);
        o.spectra.push_back(merger.finish(path, name(), "COADD table (loglam, flux, ivar)"));
        if (merger.invalidInputPixels() > 0)
            result.warnings.push_back(std::to_string(merger.invalidInputPixels()) +
                                      " native pixels masked (and_mask set, ivar <= 0 or not finite)");
        result.objects.push_back(std::move(o));
        return result;
    }
};

} // namespace

std::unique_ptr<Reader> makeSdssSpecReader() { return std::make_unique<SdssSpecReader>(); }

} // namespace astroclip::spec
