// band-image: one 2-D image in one band, kept as is (no g,r,z cutout is made from it).
//   The image is the file's first image HDU with data (DECam community-pipeline pieces have a
//   data-less primary and the CCD in extension 1; HST cutouts hold it in the primary).
//   Band: BAND, else the first word of FILTER (DECam: 'g DECam SDSS c0001 ...' → g), else the
//   non-CLEAR one of FILTER1/FILTER2 (HST/ACS), looked up in the image HDU and then in the
//   primary (extensions inherit it); else the file-name conventions below.
//   File names: '<8-digit objno>.acs.{v,i}_*.fits' are DEEP2/AEGIS HST/ACS cutouts: band
//   F606W (V) or F814W (I) — ACS filter names are used throughout — and keys
//   deep2:<objno> and file:<basename>; '*_ooi_<band>_*' are DECam community-pipeline images
//   (unit: counts when BUNIT is absent).
//   Position: WCS sky position of the image centre; pieces without id link by position.
#include "plugins/readers/img_common.h"
#include "plugins/readers/img_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <regex>

namespace astroclip::readers {

namespace {

constexpr const char* kReaderName = "band-image";

const std::regex& hstAcsName() {
    static const std::regex re(R"(^(\d{8})\.acs\.([vi])_.*\.fits?$)", std::regex::icase);
    return re;
}
const std::regex& decamCpName() {
    static const std::regex re(R"(^c4d_.*_ooi_([a-zA-Z])_.*\.fits?(\.fz)?$)");
    return re;
}
// DECam community-pipeline weight (oow) and data-quality (ood) maps share the image's header
// (FILTER included) but are not images of the sky.
const std::regex& decamCpAuxiliaryName() {
    static const std::regex re(R"(^c4d_.*_oo[dw]_.*)");
    return re;
}

// Band from header keyword values (any of them may be absent).
std::string bandFromKeys(const std::optional<std::string>& band, const std::optional<std::string>& filter,
                         const std::optional<std::string>& filter1, const std::optional<std::string>& filter2) {
    if (band && !trimmed(*band).empty()) return trimmed(*band);
    if (filter && !trimmed(*filter).empty()) {
        const std::string f = trimmed(*filter);
        return f.substr(0, f.find_first_of(" \t"));
    }
    for (const auto* f : {&filter1, &filter2}) {
        if (!*f) continue;
        const std::string v = trimmed(**f);
        if (!v.empty() && toUpper(v).rfind("CLEAR", 0) != 0 && toUpper(v) != "N/A") return v;
    }
    return {};
}

std::string bandFromFileName(const std::string& base) {
    std::smatch m;
    if (std::regex_match(base, m, hstAcsName())) return toLower(m[2].str()) == "v" ? "F606W" : "F814W";
    if (std::regex_match(base, m, decamCpName())) return m[1].str();
    return {};
}

std::optional<std::string> probeKey(const FileProbe::Hdu& h, const char* k) {
    auto it = h.keys.find(k);
    if (it == h.keys.end()) return std::nullopt;
    return it->second;
}

std::string bandFromProbeHdu(const FileProbe::Hdu& h) {
    return bandFromKeys(probeKey(h, "BAND"), probeKey(h, "FILTER"), probeKey(h, "FILTER1"), probeKey(h, "FILTER2"));
}

std::string bandFromHeader(FitsFile& f) {
    return bandFromKeys(f.keyString("BAND"), f.keyString("FILTER"), f.keyString("FILTER1"), f.keyString("FILTER2"));
}

class BandImageReader final : public Reader {
public:
    std::string name() const override { return kReaderName; }
    std::string description() const override {
        return "single-band images with a FILTER/BAND keyword and a WCS (DECam CCD pieces, HST/ACS cutouts)";
    }

    int score(const FileProbe& probe) const override {
        if (!probe.isFits || std::regex_match(baseName(probe.path), decamCpAuxiliaryName())) return 0;
        const int i = firstImageHduWithData(probe);
        if (i < 0) return 0;
        const auto& h = probe.hdus[size_t(i)];
        size_t axes = h.shape.size();
        for (size_t k = 0; k + 2 < h.shape.size() && h.shape[k] == 1; ++k) --axes;
        if (axes != 2) return 0;
        const bool bandKnown = !bandFromProbeHdu(h).empty() || !bandFromProbeHdu(probe.hdus.front()).empty() ||
                               !bandFromFileName(baseName(probe.path)).empty();
        return bandKnown ? 30 : 0;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        const std::string base = baseName(path);
        auto f = FitsFile::open(path);
        const int nhdu = f.hduCount();
        // Keywords the extension may inherit from a data-less primary (INHERIT = T).
        const std::string primaryBand = bandFromHeader(f);
        const std::string primaryUnit = f.keyString("BUNIT").value_or("");
        const std::string primaryProcType = toLower(trimmed(f.keyString("PROCTYPE").value_or("")));
        int hdu = 0, otherImages = 0;
        for (int i = 1; i <= nhdu; ++i) {
            f.moveTo(i);
            if (f.hduType() != HduType::Image || f.imageShape().empty()) continue;
            if (!hdu) hdu = i;
            else ++otherImages;
        }
        if (!hdu) throw FileError(path, "no image HDU with data");
        f.moveTo(hdu);
        const auto shape = checkedImageShape(path, hdu, f.imageShape(), 2);
        if (shape.size() != 2) throw FileError(path, "HDU " + std::to_string(hdu) + " is not a 2-D image");
        const long height = shape[0], width = shape[1];
        checkPixelBytesPresent(f, shape);

        std::string band = bandFromHeader(f);
        if (band.empty()) band = primaryBand;
        if (band.empty()) band = bandFromFileName(base);
        if (band.empty())
            throw FileError(path, "no FILTER, BAND or FILTER1/2 keyword and no known file-name convention names the band");

        ReadResult result;
        ObjectRecord obj;
        obj.sourceFile = absolutePath(path);
        obj.keys = headerIdKeys(f, kReaderName);
        std::smatch m;
        if (std::regex_match(base, m, hstAcsName())) {
            obj.keys.push_back("deep2:" + m[1].str());
            obj.keys.push_back("file:" + base);
        }
        const auto sky = currentHduSky(f, int(width), int(height));
        if (!sky && obj.keys.empty()) {
            result.skipped = true;
            result.skipReason = "a single-band image with no WCS or object id to attach it to";
            return result;
        }

        const PixelCheck pix = checkPixels(f, 1, height, width);
        if (pix.nonFinite > 0) result.warnings.push_back(std::to_string(pix.nonFinite) + " NaN/Inf pixels masked");
        if (otherImages > 0)
            result.warnings.push_back("only HDU " + std::to_string(hdu) + " read; " + std::to_string(otherImages) +
                                      " further image HDU(s) ignored");

        ImageRecord img;
        img.kind = ImageRecord::Kind::BandImage;
        img.path = obj.sourceFile;
        img.hdu = hdu;
        img.bands = {band};
        img.width = int(width);
        img.height = int(height);
        std::string unit = f.keyString("BUNIT").value_or(primaryUnit);
        img.unit = normalisedUnit(unit);
        // DECam community-pipeline InstCal images carry no BUNIT; their pixels are counts.
        if (img.unit.empty() && (primaryProcType == "instcal" || std::regex_match(base, decamCpName())))
            img.unit = "count";
        if (sky) {
            obj.ra = sky->ra;
            obj.dec = sky->dec;
            img.pixscaleArcsec = sky->pixscaleArcsec;
        }
        obj.images.push_back(std::move(img));
        result.objects.push_back(std::move(obj));
        return result;
    }
};

} // namespace

std::unique_ptr<Reader> makeBandImageReader() { return std::make_unique<BandImageReader>(); }

} // namespace astroclip::readers
