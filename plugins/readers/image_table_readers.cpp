// Built-in readers for images and catalogue tables.
//
// Images (img_*.cpp):
//   image-cube   [planes][H][W] cubes; bands from BANDS ('grz' or 'g,r,i,z,y') or --cube-bands;
//                g,r,z planes recorded (-1 = absent, never invented); position from the WCS
//                centre; a cube with neither WCS nor id (a PSF) is skipped.
//   band-image   2-D single-band images with FILTER/BAND (DECam CCD pieces, HST/ACS cutouts).
// Tables (table_*.cpp): fits-table, csv-table, ecsv-table — one object per row.
//   Position: the first pair present of RA/DEC, TARGET_RA/TARGET_DEC, ALPHA/DELTA,
//   RA_DEG/DEC_DEG, ALPHA_J2000/DELTA_J2000, RAJ2000/DEJ2000, RA_ICRS/DE_ICRS, PLUG_RA/PLUG_DEC.
//   Link keys per row (records.h conventions):
//     TARGETID                      → desi:targetid:<id>       (int64, exact)
//     OBJNO                         → deep2:<objno>
//     RELEASE + BRICKID + OBJID     → ls:<release>-<brickid>-<objid>   (Legacy Surveys Tractor)
//     PLATE + MJD + FIBERID         → sdss:<plate>-<mjd>-<fiberid>
//     ID / OBJID / OBJECT_ID / SOURCE_ID:
//        'deimos_<8 digits>' or 'deep2_<8 digits>' → deep2:<digits>  (the DEEP2 ECSV)
//        otherwise, when no survey key above applies → <namespace>:<id>, the namespace being the
//        table's SURVEY keyword/meta entry, else its file stem ("mycat.fits" → "mycat:<id>").
//        Such ids are only unique inside one catalogue, so they link a re-ingested or
//        re-exported copy of it, never rows of unrelated catalogues.
//     text cells naming FITS files  → file:<basename>  (catalogues that list their files name
//        original folders; the files may sit elsewhere, so only the base name counts). Only
//        columns whose files differ from row to row: a file many rows share (a multi-object
//        spectrum file) would otherwise link all of them into one object.
//   Scalar columns go to ObjectRecord::columns (lower-case names; int64 / real / text, nulls as
//   null); vector columns are skipped. A FITS table with TRUTHTAB = T (the simulator's truth)
//   fills ObjectRecord::truth instead. Rows with neither key nor position are dropped.
//   Tables score low (10; truth 12) so format-specific readers win, and 2 inside files that
//   carry spectral HDUs (FIBERMAP, REDSHIFTS, COADD, SPECOBJ, Bxspf-*), which the spectral
//   readers own.
// Damaged FITS (damaged-fits): a file that starts like FITS but in which the probe found no
//   HDU with data — usually a truncated copy whose later HDUs could not be listed — is claimed
//   at the lowest score, so the user gets CFITSIO's diagnosis as a FileError rather than "no
//   reader"; a genuinely empty FITS file is skipped with that reason.
#include "plugins/readers/builtin.h"
#include "plugins/readers/img_readers.h"
#include "plugins/readers/table_readers.h"

#include "core/common/error.h"

#include <fitsio.h>

#include <filesystem>

namespace astroclip {

namespace {

bool probeFoundData(const FileProbe& probe) {
    for (const auto& h : probe.hdus)
        if (!h.shape.empty() && (h.type == FileProbe::Hdu::Type::Image || h.shape[0] > 0)) return true;
    return false;
}

class DamagedFitsReader final : public Reader {
public:
    std::string name() const override { return "damaged-fits"; }
    std::string description() const override {
        return "FITS files without a readable data HDU: truncated copies reported as errors, empty files skipped";
    }
    int score(const FileProbe& probe) const override { return probe.isFits && !probeFoundData(probe) ? 1 : 0; }
    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        // CFITSIO lists only the HDUs whose headers are complete; bytes left after the last one
        // are the torso of a cut-off extension. (FitsFile hides HDU byte offsets, hence CFITSIO.)
        fitsfile* f = nullptr;
        int status = 0, n = 0;
        fits_open_diskfile(&f, probe.path.c_str(), READONLY, &status);
        LONGLONG headStart = 0, dataStart = 0, dataEnd = 0;
        if (!status) fits_get_num_hdus(f, &n, &status);
        for (int i = 1; !status && i <= n; ++i) {
            int type = 0;
            fits_movabs_hdu(f, i, &type, &status);
            if (!status) fits_get_hduaddrll(f, &headStart, &dataStart, &dataEnd, &status);
        }
        char text[FLEN_STATUS] = {0};
        if (status) fits_get_errstatus(status, text);
        int closeStatus = 0;
        if (f) fits_close_file(f, &closeStatus);
        if (status) throw FileError(probe.path, std::string("damaged FITS file: ") + text);
        std::error_code ec;
        const auto size = static_cast<LONGLONG>(std::filesystem::file_size(probe.path, ec));
        if (!ec && size > dataEnd)
            throw FileError(probe.path, "damaged FITS file: " + std::to_string(size - dataEnd) + " bytes after HDU " +
                                            std::to_string(n) + " form no complete HDU (truncated copy?)");
        ReadResult result;
        result.skipped = true;
        result.skipReason = "FITS file with " + std::to_string(n) + " HDU(s) but no image or table data";
        return result;
    }
};

} // namespace

void registerImageAndTableReaders(ReaderRegistry& registry) {
    registry.add(readers::makeImageCubeReader());
    registry.add(readers::makeBandImageReader());
    registry.add(readers::makeFitsTableReader());
    registry.add(readers::makeCsvTableReader());
    registry.add(readers::makeEcsvTableReader());
    registry.add(std::make_unique<DamagedFitsReader>());
}

} // namespace astroclip
