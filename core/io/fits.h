#pragma once
// A small RAII layer over CFITSIO. Every failure throws FileError naming the file and
// CFITSIO's own explanation. Array shapes are given in C order (slowest axis first, as numpy
// shows them): a FITS cube with NAXIS1=W, NAXIS2=H, NAXIS3=3 has shape {3, H, W}.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>


namespace astroclip {

enum class HduType { Image, AsciiTable, BinaryTable };

struct FitsColumn {
    std::string name;
    int typecode = 0;     // CFITSIO type code (TDOUBLE, TSTRING, ...), negative = variable length
    long repeat = 0;      // elements per cell
    long width = 0;       // bytes per element (strings: characters)
    std::string unit;
};

class FitsFile {
public:
    enum class Mode { ReadOnly, ReadWrite };
    static FitsFile open(const std::string& path, Mode mode = Mode::ReadOnly);
    // Creates a new file, replacing any existing one.
    static FitsFile create(const std::string& path);

    FitsFile(FitsFile&& other) noexcept;
    FitsFile& operator=(FitsFile&& other) noexcept;
    FitsFile(const FitsFile&) = delete;
    FitsFile& operator=(const FitsFile&) = delete;
    ~FitsFile();

    // Closes and reports errors (the destructor swallows them).
    void close();
    const std::string& path() const { return path_; }

    // --- HDUs (1-based, 1 = primary) ---
    int hduCount();
    void moveTo(int hdu);
    bool moveToName(const std::string& extname);  // case-insensitive EXTNAME/HDUNAME; false if absent
    int currentHdu();
    HduType hduType();
    std::string extname();  // "" if none

    // --- header of the current HDU ---
    bool hasKey(const std::string& key);
    std::optional<std::string> keyString(const std::string& key);
    std::optional<double> keyDouble(const std::string& key);
    std::optional<int64_t> keyInt(const std::string& key);
    // Every keyword of the current HDU in order, read in one pass: name → value text (string
    // values unquoted, others as written). Much cheaper than many lookups of absent keys.
    std::vector<std::pair<std::string, std::string>> keywords();
    // The whole header as 80-character cards without the END card (for wcslib).
    std::string headerCards(int* ncards);

    // --- images ---
    std::vector<long> imageShape();  // C order; empty for a data-less HDU
    int imageBitpix();
    // Reads the whole current image as float/double; undefined (BLANK) pixels become NaN.
    std::vector<float> readImageFloat();
    std::vector<double> readImageDouble();
    // Reads one plane [H][W] of the current image as float (BLANK → NaN), touching only that
    // plane's bytes: plane p of a {P, H, W} cube (higher axes must be 1), or plane 0 of a
    // 2-D image. Throws FileError for a plane out of range or an image of other dimensions.
    std::vector<float> readImagePlaneFloat(long plane);

    // --- tables ---
    long numRows();
    std::vector<FitsColumn> columns();
    int columnIndex(const std::string& name);  // 1-based, case-insensitive; 0 if absent
    std::vector<double> readColumnDouble(int col, long firstRow = 1, long nrows = -1);  // repeat==1
    std::vector<int64_t> readColumnInt64(int col, long firstRow = 1, long nrows = -1);  // repeat==1
    std::vector<std::string> readColumnString(int col, long firstRow = 1, long nrows = -1);
    std::vector<double> readCellDouble(int col, long row);  // a vector (or variable-length) cell

    // --- writing (file opened with create() or ReadWrite) ---
    // Appends an image HDU (the primary if the file is empty). shape in C order.
    void writeImage(const std::vector<long>& shape, const float* data, const std::string& extname = "");
    void writeImage(const std::vector<long>& shape, const int16_t* data, const std::string& extname = "");
    void writeImage(const std::vector<long>& shape, const int32_t* data, const std::string& extname = "");
    void writeImage(const std::vector<long>& shape, const double* data, const std::string& extname = "");
    void writeEmptyPrimary();
    void writeKey(const std::string& key, const std::string& value, const std::string& comment = "");
    void writeKey(const std::string& key, const char* value, const std::string& comment = "");
    void writeKey(const std::string& key, double value, const std::string& comment = "");
    void writeKey(const std::string& key, int64_t value, const std::string& comment = "");
    void writeKey(const std::string& key, int value, const std::string& comment = "");
    void writeKey(const std::string& key, bool value, const std::string& comment = "");
    void writeComment(const std::string& text);

    struct ColumnSpec {
        std::string name, tform, unit;  // tform as in FITS: "D", "E", "K", "J", "20A", "7781E"
    };
    // Appends a binary table HDU with nrows rows.
    void createTable(const std::string& extname, const std::vector<ColumnSpec>& cols, long nrows);
    void writeColumn(int col, long firstRow, const std::vector<double>& v);
    void writeColumn(int col, long firstRow, const std::vector<float>& v);
    void writeColumn(int col, long firstRow, const std::vector<int64_t>& v);
    void writeColumn(int col, long firstRow, const std::vector<int32_t>& v);
    void writeColumn(int col, long firstRow, const std::vector<int16_t>& v);
    void writeColumn(int col, long firstRow, const std::vector<std::string>& v);
    void writeChecksums();  // CHECKSUM/DATASUM for the current HDU

private:
    FitsFile(void* f, std::string path) : f_(f), path_(std::move(path)) {}
    [[noreturn]] void fail(int status, const std::string& what);
    void check(int status, const std::string& what) { if (status) fail(status, what); }
    void* f_ = nullptr;  // fitsfile* (fitsio.h stays out of this header)
    std::string path_;
};

// True if the file starts with a FITS primary header ("SIMPLE  =").
bool looksLikeFits(const std::string& path);

} // namespace astroclip
