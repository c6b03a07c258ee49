// DEEP2/DEIMOS spec1d.<mask>.<slit>.<objno>.fits: one-row tables per arm (Bxspf-B/-R:
// boxcar extraction; Horne-B/-R: optimal extraction) with vector cells SPEC, LAMBDA, IVAR.
// LAMBDA is in air (the DEEP2 pipeline's convention), SPEC in counts/hour: not flux-calibrated.
#include "plugins/readers/spec_common.h"
#include "plugins/readers/spec_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <cmath>
#include <regex>

namespace astroclip::spec {

namespace {

// The values are kept as the pipeline wrote them; after rebinning each grid pixel holds the
// mean of the native per-pixel count rates it covers.
constexpr const char* kDeimosUnit = "count/h per DEIMOS pixel (not flux-calibrated)";

// DEEP2 photometry (CFHT B, R, I) in the arm headers.
const std::pair<const char*, const char*> kMagnitudeKeys[] = {{"MAGB", "magb"}, {"MAGR", "magr"}, {"MAGI", "magi"}};

class DeimosSpec1dReader final : public Reader {
public:
    std::string name() const override { return "deimos-spec1d"; }
    std::string description() const override {
        return "DEEP2/DEIMOS spec1d (Bxspf-B/R arms, air → vacuum), resampled onto the 7781-pixel grid";
    }
    int score(const FileProbe& p) const override {
        if (!p.isFits) return 0;
        for (const char* n : {"BXSPF-B", "BXSPF-R", "HORNE-B", "HORNE-R"})
            if (const auto* h = p.hduNamed(n); h && p.hasColumns(*h, {"SPEC", "LAMBDA", "IVAR"}))
                return kSpecificFormatScore;
        return 0;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        // Boxcar extraction when present (what the DEEP2 redshift pipeline used), else Horne.
        std::string family = "Bxspf";
        if (!moveToHdu(f, probe, "Bxspf-B") && !moveToHdu(f, probe, "Bxspf-R")) family = "Horne";
        ReadResult result;
        ObjectRecord o;
        o.sourceFile = path;
        GridMerger merger;
        std::string arms;
        bool headerRead = false;
        for (const char* side : {"B", "R"}) {
            const std::string hdu = family + "-" + side;
            const auto armHdu = moveToHdu(f, probe, hdu);
            if (!armHdu) continue;
            if (!headerRead) {
                readHeader(f, o);
                headerRead = true;
            }
            addArm(f, *armHdu, hdu, merger);
            arms += (arms.empty() ? "" : ",") + hdu;
        }
        if (arms.empty()) throw FileError(path, "no Bxspf-B/R or Horne-B/R HDU: not a DEIMOS spec1d file");

        std::string objno;
        if (auto it = o.columns.find("objno"); it != o.columns.end())
            if (auto s = std::get_if<std::string>(&it->second)) objno = *s;
        if (objno.empty()) {
            static const std::regex fileName(R"(spec1d\.[^.]+\.[^.]+\.(\d+)\.fits.*)", std::regex::icase);
            std::smatch m;
            const std::string base = baseName(path);
            if (std::regex_match(base, m, fileName)) objno = m[1];
        }
        if (!objno.empty()) {
            o.keys.push_back("deep2:" + objno);
            o.columns["objno"] = objno;
        } else {
            result.warnings.push_back("no OBJNO keyword and no object number in the file name: linked by file name only");
        }
        o.keys.push_back("file:" + baseName(path));

        SpectrumRecord s = merger.finish(path, name(), arms + " row 1 (air wavelengths converted to vacuum)");
        s.unit = kDeimosUnit;
        o.spectra.push_back(std::move(s));
        if (merger.invalidInputPixels() > 0)
            result.warnings.push_back(std::to_string(merger.invalidInputPixels()) +
                                      " native pixels with zero ivar or non-finite values masked");
        result.warnings.push_back("DEIMOS spec1d values are counts/hour, not flux-calibrated: kept as they are");
        result.objects.push_back(std::move(o));
        return result;
    }

private:
    static void readHeader(FitsFile& f, ObjectRecord& o) {
        if (auto v = f.keyString("OBJNO")) {
            const std::string id = trim(*v);
            if (!id.empty()) o.columns["objno"] = id;
        }
        // RA_OBJ/DEC_OBJ are the object's; RA/DEC in these headers are the telescope pointing.
        const auto ra = f.keyString("RA_OBJ"), dec = f.keyString("DEC_OBJ");
        if (ra && dec) {
            const auto raDeg = parseSexagesimal(*ra, true), decDeg = parseSexagesimal(*dec, false);
            if (raDeg && decDeg && *raDeg >= 0 && *raDeg < 360 && std::abs(*decDeg) <= 90) {
                o.ra = *raDeg;
                o.dec = *decDeg;
            }
        }
        if (auto mask = f.keyString("SLMSKNAM")) o.columns["mask"] = trim(*mask);
        if (auto slit = f.keyInt("SLITNO")) o.columns["slit"] = *slit;
        for (const auto& [key, column] : kMagnitudeKeys)
            if (auto m = f.keyDouble(key); m && std::isfinite(*m)) o.columns[column] = *m;
    }

    static void addArm(FitsFile& f, const FileProbe::Hdu& h, const std::string& hdu, GridMerger& merger) {
        const std::string& path = f.path();
        if (f.numRows() < 1) throw FileError(path, hdu + " HDU has no rows");
        auto spec = f.readCellDouble(requireColumn(path, h, "SPEC"), 1);
        auto lambda = f.readCellDouble(requireColumn(path, h, "LAMBDA"), 1);
        auto ivar = f.readCellDouble(requireColumn(path, h, "IVAR"), 1);
        if (spec.size() != lambda.size() || ivar.size() != lambda.size())
            throw FileError(path, hdu + " HDU: SPEC, LAMBDA and IVAR have " + std::to_string(spec.size()) + ", " +
                                      std::to_string(lambda.size()) + " and " + std::to_string(ivar.size()) +
                                      " elements; they must be equal");
        // Unused detector columns carry LAMBDA 0 at the ends; keep the increasing, positive run.
        std::vector<double> wave, flux, iv;
        wave.reserve(lambda.size());
        flux.reserve(lambda.size());
        iv.reserve(lambda.size());
        for (size_t i = 0; i < lambda.size(); ++i) {
            if (!(lambda[i] > 0) || !std::isfinite(lambda[i])) continue;
            const double vac = airToVacuum(lambda[i]);
            if (!wave.empty() && !(vac > wave.back()))
                throw FileError(path, hdu + " LAMBDA is not strictly increasing at element " + std::to_string(i));
            wave.push_back(vac);
            flux.push_back(spec[i]);
            iv.push_back(ivar[i]);
        }
        if (wave.size() < 2) throw FileError(path, hdu + " HDU has no usable LAMBDA values");
        merger.addResampled(wave, flux, iv);
    }
};

} // namespace

std::unique_ptr<Reader> makeDeimosSpec1dReader() { return std::make_unique<DeimosSpec1dReader>(); }

} // namespace astroclip::spec
