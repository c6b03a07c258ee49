// image-cube: multi-band cutouts stored as one [planes][H][W] image HDU.
//   Bands: the BANDS keyword ('grz', one letter per plane, or 'g,r,i,z,y'); else the user's
//   --cube-bands (ReaderOptions::cubeBands, e.g. HSC cutouts, whose headers name none).
//   g,r,z map to planes (-1 when the file lacks one); the other bands are kept in `bands`.
//   Position: the WCS sky position of the image centre. Keys: TARGETID, OBJNO, OBJID/ID.
//   Extensions named IVAR/INVVAR, SEGMAP, DEPTHMAP, PSF (the simulator's cutouts) are
//   recorded as references. A cube with neither WCS nor id (a PSF cube) is skipped.
#include "plugins/readers/img_common.h"
#include "plugins/readers/img_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <algorithm>
#include <sstream>

namespace astroclip::readers {

int firstImageHduWithData(const FileProbe& probe) {
    for (size_t i = 0; i < probe.hdus.size(); ++i) {
        const auto& h = probe.hdus[i];
        if (h.type == FileProbe::Hdu::Type::Table) {
            if (!h.shape.empty() && h.shape[0] > 0) return -1;
            continue;
        }
        if (!h.shape.empty()) return int(i);
    }
    return -1;
}

namespace {

constexpr const char* kReaderName = "image-cube";

// BANDS='grz' names one band per letter; 'g,r,i' or 'g r i' names whole words.
std::vector<std::string> parseBandsKeyword(const std::string& raw) {
    const std::string s = trimmed(raw);
    std::vector<std::string> out;
    if (s.find_first_of(", ") != std::string::npos) {
        std::string cur;
        for (char c : s + ",") {
            if (c == ',' || c == ' ') {
                if (!trimmed(cur).empty()) out.push_back(trimmed(cur));
                cur.clear();
            } else {
                cur += c;
            }
        }
    } else {
        for (char c : s) out.push_back(std::string(1, c));
    }
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

class ImageCubeReader final : public Reader {
public:
    std::string name() const override { return kReaderName; }
    std::string description() const override {
        return "multi-band image cubes [bands][H][W] with a WCS (Legacy Surveys g,r,z cutouts, simulator "
               "cutouts; HSC-style cubes with --cube-bands)";
    }

    int score(const FileProbe& probe) const override {
        if (!probe.isFits) return 0;
        const int i = firstImageHduWithData(probe);
        if (i < 0) return 0;
        const auto& h = probe.hdus[size_t(i)];
        size_t axes = h.shape.size();
        for (size_t k = 0; k + 3 < h.shape.size() && h.shape[k] == 1; ++k) --axes;
        if (axes < 3) return 0;
        return h.keys.count("BANDS") ? 40 : 30;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions& options) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        const int nhdu = f.hduCount();
        int hdu = 0;
        for (int i = 1; i <= nhdu && !hdu; ++i) {
            f.moveTo(i);
            if (f.hduType() == HduType::Image && !f.imageShape().empty()) hdu = i;
        }
        if (!hdu) throw FileError(path, "no image HDU with data");
        const auto shape = checkedImageShape(path, hdu, f.imageShape(), 3);
        if (shape.size() != 3) throw FileError(path, "HDU " + std::to_string(hdu) + " is not a 3-D image cube");
        const long planes = shape[0], height = shape[1], width = shape[2];
        checkPixelBytesPresent(f, shape);

        ReadResult result;
        ObjectRecord obj;
        obj.sourceFile = absolutePath(path);
        obj.keys = headerIdKeys(f, kReaderName);
        const auto sky = currentHduSky(f, int(width), int(height));
        if (!sky && obj.keys.empty()) {
            result.skipped = true;
            result.skipReason = "a " + std::to_string(planes) + "×" + std::to_string(height) + "×" +
                                std::to_string(width) + " cube with no WCS or object id to attach it to (a PSF?)";
            return result;
        }

        std::vector<std::string> bands;
        if (auto kw = f.keyString("BANDS"); kw && !trimmed(*kw).empty()) {
            bands = parseBandsKeyword(*kw);
            if (long(bands.size()) > planes)
                throw FileError(path, "BANDS='" + trimmed(*kw) + "' declares " + std::to_string(bands.size()) +
                                          " bands but the cube holds " + std::to_string(planes) + " planes");
            if (long(bands.size()) < planes)
                throw FileError(path, "BANDS='" + trimmed(*kw) + "' names " + std::to_string(bands.size()) +
                                          " bands for " + std::to_string(planes) +
                                          " planes; cannot tell which plane is which band");
        } else if (!options.cubeBands.empty()) {
            bands = options.cubeBands;
            if (long(bands.size()) != planes)
                throw FileError(path, "cube has " + std::to_string(planes) + " planes but --cube-bands names " +
                                          std::to_string(bands.size()) + " (" + joined(bands) + ")");
        } else {
            throw FileError(path, "cube has " + std::to_string(planes) +
                                      " planes but no BANDS keyword; pass --cube-bands (e.g. g,r,i,z,y)");
        }

        const PixelCheck pix = checkPixels(f, planes, height, width);
        if (pix.nonFinite > 0)
            result.warnings.push_back(std::to_string(pix.nonFinite) + " NaN/Inf pixels masked");
        for (int p : pix.emptyPlanes)
            result.warnings.push_back("plane " + std::to_string(p) + " (" + bands[size_t(p)] + ") holds no finite pixel");

        ImageRecord img;
        img.path = obj.sourceFile;
        img.hdu = hdu;
        img.bands = bands;
        img.width = int(width);
        img.height = int(height);
        img.unit = normalisedUnit(f.keyString("BUNIT").value_or(""));
        bool anyGrz = false;
        for (const char* want : {"g", "r", "z"}) {
            auto it = std::find_if(bands.begin(), bands.end(), [&](const std::string& b) { return toLower(b) == want; });
            const int plane = it == bands.end() ? -1 : int(it - bands.begin());
            img.planes.push_back(plane);
            anyGrz = anyGrz || plane >= 0;
        }
        img.kind = anyGrz ? ImageRecord::Kind::Cutout : ImageRecord::Kind::BandImage;
        if (!anyGrz) img.planes.clear();
        if (sky) {
            obj.ra = sky->ra;
            obj.dec = sky->dec;
            img.pixscaleArcsec = sky->pixscaleArcsec;
        }
        for (int i = 1; i <= nhdu; ++i) {
            if (i == hdu) continue;
            f.moveTo(i);
            const std::string ext = toUpper(f.extname());
            if (ext == "IVAR" || ext == "INVVAR") img.ivarRef = hduRef(img.path, i);
            else if (ext == "SEGMAP") img.segmapRef = hduRef(img.path, i);
            else if (ext == "DEPTHMAP") img.depthmapRef = hduRef(img.path, i);
            else if (ext == "PSF") img.psfRef = hduRef(img.path, i);
        }
        obj.images.push_back(std::move(img));
        result.objects.push_back(std::move(obj));
        return result;
    }
};

} // namespace

std::unique_ptr<Reader> makeImageCubeReader() { return std::make_unique<ImageCubeReader>(); }

} // namespace astroclip::readers
