#pragma once
// Pieces every spectral reader shares: putting native arms onto the DESI grid with an
// inverse-variance merge, turning the result into a SpectrumRecord (or a FileError when
// nothing valid is left), reading catalogue columns as Values, and small text helpers.
#include "core/data/records.h"
#include "core/ingest/reader.h"
#include "core/io/fits.h"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace astroclip::spec {

// Accumulates arms onto the 7781-pixel DesiGrid. Each arm's valid pixels (ivar > 0, finite
// flux and ivar) are combined with the others by inverse variance where they overlap.
class GridMerger {
public:
    GridMerger();
    // An arm whose pixel i lies exactly on grid pixel offset+i (no resampling needed).
    // Pixels outside the grid are dropped.
    void addOnGrid(int offset, std::span<const float> flux, std::span<const float> ivar);
    // An arm on any increasing wavelength grid (Å, vacuum): flux-conserving rebinning first.
    void addResampled(std::span<const double> wave, std::span<const double> flux, std::span<const double> ivar);
    // If wave[i] == DesiGrid::wave(offset + i) (to 1e-3 of a pixel) for every i, the offset.
    static std::optional<int> gridOffset(std::span<const double> wave);

    // Finishes the merge. Throws FileError(path, ...) when no pixel is valid: mentions
    // "inverse variance" when the arms overlap the grid, the grid range when they do not.
    SpectrumRecord finish(const std::string& path, const std::string& format, const std::string& native);

    void noteNativeRange(double lo, double hi);
    int invalidInputPixels() const { return invalidInput_; }

private:
    std::vector<double> ivarSum_, weightedFlux_;
    double waveMin_ = 0, waveMax_ = 0;
    bool anyRange_ = false;
    bool overlapsGrid_ = false;
    int invalidInput_ = 0;  // native pixels with ivar <= 0 or non-finite values (for warnings)
};

// Converts air wavelengths (Å) to vacuum: the inverse of the IAU standard (Ciddor 1996 /
// Morton 2000) refraction formula, as used by VALD (Piskunov). Valid above 2000 Å; below
// that, wavelengths are already vacuum by convention and returned unchanged.
double airToVacuum(double airAngstrom);

// One table column as its TFORMn/TUNITn keywords describe it.
struct TableColumn {
    int index = 0;      // 1-based
    char kind = 0;      // the TFORM letter: A text, E/D real, B/I/J/K integer, L, X, C, M, P, Q
    long repeat = 1;    // elements per cell
    std::string unit;
};
// The column list of a table HDU comes from the probe (no header scan: CFITSIO's own column
// listing searches the whole header for every absent TUNITn).
int columnIndex(const FileProbe::Hdu& h, const std::string& name);  // 0 if absent, case-insensitive
int requireColumn(const std::string& path, const FileProbe::Hdu& h, const std::string& name);  // or FileError
TableColumn describeColumn(FitsFile& f, int index);  // of the current HDU

// Catalogue values of the named scalar columns (those present; vector, logical and complex
// columns are left out) of the current table HDU, rows [1, nrows]. NaN → null.
struct ColumnValues {
    std::string name;  // lower-case
    std::vector<Value> values;
};
std::vector<ColumnValues> readScalarColumns(FitsFile& f, const FileProbe::Hdu& h,
                                            const std::vector<std::string>& names, long nrows);

std::string upper(std::string s);
std::string lower(std::string s);
std::string trim(std::string s);
std::string baseName(const std::string& path);
// "14:16:52.75" (hours) or "+52:24:37.6" (degrees) → degrees; plain numbers pass through
// (in degrees). nullopt when the text is not a coordinate.
std::optional<double> parseSexagesimal(const std::string& text, bool hours);

// Moves to the HDU named `extname` (case-insensitive) and returns its probe description.
// The probe's HDU list is taken as the truth, so this costs no search (CFITSIO re-parses every
// header it passes); only a probe that listed nothing (damaged file) makes it search the file.
std::optional<FileProbe::Hdu> moveToHdu(FitsFile& f, const FileProbe& probe, const std::string& extname);
// The same, or throws FileError naming what is missing.
FileProbe::Hdu requireHdu(FitsFile& f, const FileProbe& probe, const std::string& extname, const std::string& why);
// Name of an HDU for messages: its EXTNAME, else "HDU <n>".
std::string hduLabel(const FileProbe::Hdu& h);

} // namespace astroclip::spec
