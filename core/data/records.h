#pragma once
// Canonical records: what a reader makes of a file and what the catalog stores.
// Data flows files → readers → these records → catalog.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace astroclip {

// A catalogue value: null, integer, real or text.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

// An image belonging to an object.
//  kind == Cutout:    a g,r,z cutout can be made from it: `planes` maps g,r,z to plane indices
//                     of the referenced HDU (-1 = band absent in this file; recorded, never
//                     invented).
//  kind == BandImage: a native single-band (or non-g,r,z) image kept as is (DECam CCD piece,
//                     HST V/I): no canonical cutout.
// Pixels are referenced by file and HDU; `pixels` is filled only when the data cannot be
// referenced (made in memory), float32 [planes][height][width].
struct ImageRecord {
    enum class Kind { Cutout, BandImage };
    Kind kind = Kind::Cutout;
    std::string path;                 // absolute path of the file
    int hdu = 1;                      // CFITSIO HDU number, 1 = primary
    std::vector<std::string> bands;   // band name of each plane, in file order
    std::vector<int> planes;          // Cutout: plane index for g, r, z (-1 = absent)
    int width = 0, height = 0;
    double pixscaleArcsec = 0;        // 0 = unknown
    std::string unit;                 // "nanomaggy", "count", "electron/s" ...
    std::string ivarRef;              // "path[HDU]" of an inverse-variance cube, if any
    std::string segmapRef;            // "path[HDU]" of a truth segmentation map (simulator)
    std::string depthmapRef;          // "path[HDU]" of a truth depth map (simulator)
    std::string psfRef;               // "path[HDU]" of a PSF image/cube, if known
    std::vector<float> pixels;        // optional stored array
};

// A spectrum on the canonical grid (DesiGrid), plus where it came from.
struct SpectrumRecord {
    std::vector<float> flux;          // 7781, 1e-17 erg/s/cm²/Å; 0 where masked
    std::vector<float> ivar;          // 7781; 0 where masked
    std::vector<unsigned char> mask;  // 7781; 1 = no valid data
    std::string path;                 // source file
    std::string format;               // reader name, e.g. "desi-coadd"
    std::string native;               // how to find the native arrays again, e.g. "B,R,Z arms row 0"
    double nativeWaveMin = 0, nativeWaveMax = 0;  // Å, native coverage (for display)
    // Unit of `flux` (ivar is its inverse square). Flux-calibrated surveys keep the default;
    // uncalibrated spectra (DEIMOS spec1d: counts/hour) say so instead of pretending.
    std::string unit = "1e-17 erg/s/cm2/Angstrom";
};

// One astronomical object as one file describes it. Objects from several files are linked
// by any shared key, else by sky position within the match radius.
//
// Link keys (lower-case namespace, then the id as the survey writes it):
//   desi:targetid:<TARGETID>      DESI coadd/redrock rows, simulator cutouts and truth rows
//   sdss:<PLATE>-<MJD>-<FIBERID>  SDSS spectra
//   deep2:<OBJNO>                 DEEP2/DEIMOS objects (spec1d files, HST cutouts, the ECSV)
//   file:<basename>               "this object is described by that file" (catalogues that
//                                 name their files, e.g. DEEP2's ECSV)
//   <reader>:<id>                 anything else a reader knows for sure
struct ObjectRecord {
    std::vector<std::string> keys;              // see above
    std::optional<double> ra, dec;              // degrees (ICRS)
    std::map<std::string, Value> columns;       // catalogue columns (lower-case names)
    std::map<std::string, Value> truth;         // simulator truth (lower-case names)
    std::vector<ImageRecord> images;
    std::vector<SpectrumRecord> spectra;
    std::string sourceFile;
};

} // namespace astroclip
