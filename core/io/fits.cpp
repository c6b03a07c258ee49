#include "core/io/fits.h"

#include "core/common/error.h"

#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>
#include <cstdlib>

namespace astroclip {

namespace {
inline fitsfile* F(void* p) { return static_cast<fitsfile*>(p); }
std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}
std::string cfitsioMessage(int status) {
    char text[FLEN_STATUS] = {0};
    fits_get_errstatus(status, text);
    std::string msg = text;
    // The error stack holds the detail (e.g. which keyword); keep the first line of it.
    char stack[FLEN_ERRMSG] = {0};
    if (fits_read_errmsg(stack)) msg += std::string(" (") + stack + ")";
    fits_clear_errmsg();
    return msg;
}
} // namespace

FitsFile FitsFile::open(const std::string& path, Mode mode) {
    fitsfile* f = nullptr;
    int status = 0;
    // fits_open_diskfile: take the name literally (no CFITSIO extended-filename syntax, so
    // brackets in a user's file name are not interpreted).
    fits_open_diskfile(&f, path.c_str(), mode == Mode::ReadOnly ? READONLY : READWRITE, &status);
    if (status) {
        std::string msg = cfitsioMessage(status);
        throw FileError(path, "cannot open as FITS: " + msg);
    }
    return FitsFile(f, path);
}

FitsFile FitsFile::create(const std::string& path) {
    std::remove(path.c_str());
    fitsfile* f = nullptr;
    int status = 0;
    fits_create_diskfile(&f, path.c_str(), &status);
    if (status) throw FileError(path, "cannot create FITS file: " + cfitsioMessage(status));
    return FitsFile(f, path);
}

FitsFile::FitsFile(FitsFile&& o) noexcept : f_(o.f_), path_(std::move(o.path_)) { o.f_ = nullptr; }
FitsFile& FitsFile::operator=(FitsFile&& o) noexcept {
    if (this != &o) {
        if (f_) { int s = 0; fits_close_file(F(f_), &s); }
        f_ = o.f_;
        path_ = std::move(o.path_);
        o.f_ = nullptr;
    }
    return *this;
}
FitsFile::~FitsFile() {
    if (f_) { int s = 0; fits_close_file(F(f_), &s); }
}

void FitsFile::close() {
    if (!f_) return;
    int status = 0;
    fits_close_file(F(f_), &status);
    f_ = nullptr;
    if (status) throw FileError(path_, "error closing FITS file: " + cfitsioMessage(status));
}

void FitsFile::fail(int status, const std::string& what) {
    int hdu = 0;
    if (f_) fits_get_hdu_num(F(f_), &hdu);
    throw FileError(path_, what + (hdu ? " (HDU " + std::to_string(hdu) + ")" : "") + ": " + cfitsioMessage(status));
}

int FitsFile::hduCount() {
    int n = 0, status = 0;
    fits_get_num_hdus(F(f_), &n, &status);
    check(status, "counting HDUs");
    return n;
}
void FitsFile::moveTo(int hdu) {
    int status = 0, type = 0;
    fits_movabs_hdu(F(f_), hdu, &type, &status);
    check(status, "moving to HDU " + std::to_string(hdu));
}
bool FitsFile::moveToName(const std::string& name) {
    const int n = hduCount();
    const std::string want = upper(name);
    for (int i = 1; i <= n; ++i) {
        moveTo(i);
        if (upper(extname()) == want) return true;
    }
    return false;
}
int FitsFile::currentHdu() {
    int hdu = 0;
    fits_get_hdu_num(F(f_), &hdu);
    return hdu;
}
HduType FitsFile::hduType() {
    int type = 0, status = 0;
    fits_get_hdu_type(F(f_), &type, &status);
    check(status, "reading HDU type");
    return type == IMAGE_HDU ? HduType::Image : type == ASCII_TBL ? HduType::AsciiTable : HduType::BinaryTable;
}
std::string FitsFile::extname() {
    if (auto s = keyString("EXTNAME")) return *s;
    if (auto s = keyString("HDUNAME")) return *s;
    return {};
}

bool FitsFile::hasKey(const std::string& key) {
    char card[FLEN_CARD];
    int status = 0;
    fits_read_card(F(f_), key.c_str(), card, &status);
    return status == 0;
}
std::optional<std::string> FitsFile::keyString(const std::string& key) {
    char value[FLEN_VALUE], comment[FLEN_COMMENT];
    int status = 0;
    fits_read_key(F(f_), TSTRING, key.c_str(), value, comment, &status);
    if (status) { fits_clear_errmsg(); return std::nullopt; }
    std::string s = value;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}
std::optional<double> FitsFile::keyDouble(const std::string& key) {
    double v = 0;
    int status = 0;
    fits_read_key(F(f_), TDOUBLE, key.c_str(), &v, nullptr, &status);
    if (status) { fits_clear_errmsg(); return std::nullopt; }
    return v;
}
std::optional<int64_t> FitsFile::keyInt(const std::string& key) {
    LONGLONG v = 0;
    int status = 0;
    fits_read_key(F(f_), TLONGLONG, key.c_str(), &v, nullptr, &status);
    if (status) { fits_clear_errmsg(); return std::nullopt; }
    return int64_t(v);
}
std::vector<std::pair<std::string, std::string>> FitsFile::keywords() {
    int nkeys = 0, more = 0, status = 0;
    fits_get_hdrspace(F(f_), &nkeys, &more, &status);
    check(status, "reading header size");
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(size_t(nkeys));
    char name[FLEN_KEYWORD], value[FLEN_VALUE], comment[FLEN_COMMENT];
    for (int i = 1; i <= nkeys; ++i) {
        fits_read_keyn(F(f_), i, name, value, comment, &status);
        check(status, "reading header card " + std::to_string(i));
        std::string v = value;
        if (!v.empty() && v.front() == '\'') {  // FITS string: quoted, '' escapes a quote, trailing blanks insignificant
            std::string u;
            for (size_t k = 1; k < v.size(); ++k) {
                if (v[k] == '\'') {
                    if (k + 1 < v.size() && v[k + 1] == '\'') { u += '\''; ++k; }
                    else break;
                } else u += v[k];
            }
            while (!u.empty() && u.back() == ' ') u.pop_back();
            v = u;
        }
        out.emplace_back(name, v);
    }
    return out;
}

std::string FitsFile::headerCards(int* ncards) {
    char* header = nullptr;
    int n = 0, status = 0;
    fits_hdr2str(F(f_), 1, nullptr, 0, &header, &n, &status);
    check(status, "reading header");
    std::string s(header);
    int freeStatus = 0;
    fits_free_memory(header, &freeStatus);
    if (ncards) *ncards = n;
    return s;
}

std::vector<long> FitsFile::imageShape() {
    int naxis = 0, status = 0;
    fits_get_img_dim(F(f_), &naxis, &status);
    check(status, "reading image dimensions");
    if (naxis == 0) return {};
    std::vector<long> ax(naxis);
    fits_get_img_size(F(f_), naxis, ax.data(), &status);
    check(status, "reading image size");
    std::reverse(ax.begin(), ax.end());
    return ax;
}
int FitsFile::imageBitpix() {
    int bitpix = 0, status = 0;
    fits_get_img_type(F(f_), &bitpix, &status);
    check(status, "reading BITPIX");
    return bitpix;
}

namespace {
template <typename T>
std::vector<T> readImageAs(fitsfile* f, FitsFile& self, int datatype, T nullval) {
    const auto shape = self.imageShape();
    long long n = 1;
    for (long d : shape) {
        if (d <= 0) return {};
        n *= d;
    }
    if (shape.empty()) return {};
    std::vector<T> data(static_cast<size_t>(n));
    int status = 0, anynul = 0;
    fits_read_img(f, datatype, 1, n, &nullval, data.data(), &anynul, &status);
    if (status) throw FileError(self.path(), "reading image data (HDU " + std::to_string(self.currentHdu()) +
                                                 "): " + cfitsioMessage(status));
    return data;
}
} // namespace

std::vector<float> FitsFile::readImageFloat() {
    return readImageAs<float>(F(f_), *this, TFLOAT, std::numeric_limits<float>::quiet_NaN());
}
std::vector<double> FitsFile::readImageDouble() {
    return readImageAs<double>(F(f_), *this, TDOUBLE, std::numeric_limits<double>::quiet_NaN());
}

std::vector<float> FitsFile::readImagePlaneFloat(long plane) {
    const auto shape = imageShape();
    const std::string where = "HDU " + std::to_string(currentHdu()) + ": ";
    if (shape.size() < 2) throw FileError(path_, where + "not a 2-D image or cube, cannot read plane " + std::to_string(plane));
    const long planes = shape.size() == 2 ? 1 : shape[shape.size() - 3];
    for (size_t i = 0; i + 3 < shape.size(); ++i)
        if (shape[i] != 1) throw FileError(path_, where + "image has more than 3 axes longer than 1");
    if (plane < 0 || plane >= planes)
        throw FileError(path_, where + "has " + std::to_string(planes) + " plane(s), no plane " + std::to_string(plane));
    const long height = shape[shape.size() - 2], width = shape.back();
    if (height <= 0 || width <= 0) return {};
    std::vector<float> data(static_cast<size_t>(height) * static_cast<size_t>(width));
    const LONGLONG first = static_cast<LONGLONG>(plane) * height * width + 1;  // 1-based, FITS pixel order
    float nullval = std::numeric_limits<float>::quiet_NaN();
    int status = 0, anynul = 0;
    fits_read_img(F(f_), TFLOAT, first, static_cast<LONGLONG>(data.size()), &nullval, data.data(), &anynul, &status);
    if (status) throw FileError(path_, where + "reading image plane " + std::to_string(plane) + ": " + cfitsioMessage(status));
    return data;
}

long FitsFile::numRows() {
    long n = 0;
    int status = 0;
    fits_get_num_rows(F(f_), &n, &status);
    check(status, "counting table rows");
    return n;
}
std::vector<FitsColumn> FitsFile::columns() {
    int ncols = 0, status = 0;
    fits_get_num_cols(F(f_), &ncols, &status);
    check(status, "counting table columns");
    std::vector<FitsColumn> cols(ncols);
    // Names and units from one pass over the header (looking up each absent TUNITn would
    // scan the whole header once per column).
    for (const auto& [key, value] : keywords()) {
        const bool isName = key.rfind("TTYPE", 0) == 0, isUnit = key.rfind("TUNIT", 0) == 0;
        if (!isName && !isUnit) continue;
        const int n = std::atoi(key.c_str() + 5);
        if (n < 1 || n > ncols) continue;
        (isName ? cols[n - 1].name : cols[n - 1].unit) = value;
    }
    for (int i = 1; i <= ncols; ++i) {
        fits_get_coltype(F(f_), i, &cols[i - 1].typecode, &cols[i - 1].repeat, &cols[i - 1].width, &status);
        check(status, "reading type of column " + std::to_string(i));
    }
    return cols;
}
int FitsFile::columnIndex(const std::string& name) {
    const std::string want = upper(name);
    int i = 1;
    for (const auto& c : columns()) {
        if (upper(c.name) == want) return i;
        ++i;
    }
    return 0;
}
std::vector<double> FitsFile::readColumnDouble(int col, long firstRow, long nrows) {
    if (nrows < 0) nrows = numRows() - firstRow + 1;
    std::vector<double> v(std::max(0L, nrows));
    if (v.empty()) return v;
    int status = 0, anynul = 0;
    double nul = std::numeric_limits<double>::quiet_NaN();
    fits_read_col(F(f_), TDOUBLE, col, firstRow, 1, nrows, &nul, v.data(), &anynul, &status);
    check(status, "reading column " + std::to_string(col));
    return v;
}
std::vector<int64_t> FitsFile::readColumnInt64(int col, long firstRow, long nrows) {
    if (nrows < 0) nrows = numRows() - firstRow + 1;
    std::vector<int64_t> v(std::max(0L, nrows));
    if (v.empty()) return v;
    int status = 0, anynul = 0;
    LONGLONG nul = 0;
    fits_read_col(F(f_), TLONGLONG, col, firstRow, 1, nrows, &nul, reinterpret_cast<LONGLONG*>(v.data()), &anynul, &status);
    check(status, "reading column " + std::to_string(col));
    return v;
}
std::vector<std::string> FitsFile::readColumnString(int col, long firstRow, long nrows) {
    if (nrows < 0) nrows = numRows() - firstRow + 1;
    std::vector<std::string> out(std::max(0L, nrows));
    if (out.empty()) return out;
    int status = 0, dispwidth = 0;
    fits_get_col_display_width(F(f_), col, &dispwidth, &status);
    check(status, "reading column width");
    // Chunks of rows per CFITSIO call: one call per row costs ~10x more on large tables.
    constexpr long kChunk = 4096;
    const size_t stride = size_t(dispwidth) + 1;
    std::vector<char> buf(stride * size_t(std::min(nrows, kChunk)));
    std::vector<char*> ptrs(size_t(std::min(nrows, kChunk)));
    for (long start = 0; start < nrows; start += kChunk) {
        const long n = std::min(kChunk, nrows - start);
        for (long r = 0; r < n; ++r) ptrs[r] = buf.data() + size_t(r) * stride;
        int anynul = 0;
        fits_read_col(F(f_), TSTRING, col, firstRow + start, 1, n, nullptr, ptrs.data(), &anynul, &status);
        check(status, "reading text column " + std::to_string(col));
        for (long r = 0; r < n; ++r) {
            std::string_view sv(ptrs[r]);
            const size_t b = sv.find_first_not_of(' ');
            if (b == std::string_view::npos) continue;
            const size_t e = sv.find_last_not_of(' ');
            out[start + r] = std::string(sv.substr(b, e - b + 1));
        }
    }
    return out;
}
std::vector<double> FitsFile::readCellDouble(int col, long row) {
    int status = 0, typecode = 0;
    long repeat = 0, width = 0;
    fits_get_eqcoltype(F(f_), col, &typecode, &repeat, &width, &status);
    check(status, "reading column type");
    if (typecode < 0) {  // variable-length array
        long len = 0, offset = 0;
        fits_read_descript(F(f_), col, row, &len, &offset, &status);
        check(status, "reading variable-length descriptor");
        repeat = len;
    }
    std::vector<double> v(std::max(0L, repeat));
    if (v.empty()) return v;
    int anynul = 0;
    double nul = std::numeric_limits<double>::quiet_NaN();
    fits_read_col(F(f_), TDOUBLE, col, row, 1, repeat, &nul, v.data(), &anynul, &status);
    check(status, "reading table cell");
    return v;
}

void FitsFile::writeEmptyPrimary() {
    int status = 0;
    fits_create_img(F(f_), FLOAT_IMG, 0, nullptr, &status);
    check(status, "writing primary header");
}

namespace {
template <typename T>
void writeImageImpl(fitsfile* f, FitsFile& self, int bitpix, int datatype, const std::vector<long>& shape,
                    const T* data, const std::string& extname) {
    std::vector<long> ax(shape.rbegin(), shape.rend());
    int status = 0;
    fits_create_img(f, bitpix, int(ax.size()), ax.data(), &status);
    long long n = 1;
    for (long d : ax) n *= d;
    if (!status && n > 0) fits_write_img(f, datatype, 1, n, const_cast<T*>(data), &status);
    if (status) throw FileError(self.path(), "writing image: " + cfitsioMessage(status));
    if (!extname.empty()) self.writeKey("EXTNAME", extname);
}
} // namespace

void FitsFile::writeImage(const std::vector<long>& shape, const float* data, const std::string& extname) {
    writeImageImpl(F(f_), *this, FLOAT_IMG, TFLOAT, shape, data, extname);
}
void FitsFile::writeImage(const std::vector<long>& shape, const int16_t* data, const std::string& extname) {
    writeImageImpl(F(f_), *this, SHORT_IMG, TSHORT, shape, data, extname);
}
void FitsFile::writeImage(const std::vector<long>& shape, const int32_t* data, const std::string& extname) {
    static_assert(sizeof(int) == sizeof(int32_t));
    writeImageImpl(F(f_), *this, LONG_IMG, TINT, shape, data, extname);
}
void FitsFile::writeImage(const std::vector<long>& shape, const double* data, const std::string& extname) {
    writeImageImpl(F(f_), *this, DOUBLE_IMG, TDOUBLE, shape, data, extname);
}

void FitsFile::writeKey(const std::string& key, const std::string& value, const std::string& comment) {
    int status = 0;
    fits_update_key(F(f_), TSTRING, key.c_str(), const_cast<char*>(value.c_str()), comment.empty() ? nullptr : comment.c_str(), &status);
    check(status, "writing keyword " + key);
}
void FitsFile::writeKey(const std::string& key, const char* value, const std::string& comment) {
    writeKey(key, std::string(value), comment);
}
void FitsFile::writeKey(const std::string& key, double value, const std::string& comment) {
    int status = 0;
    fits_update_key_dbl(F(f_), key.c_str(), value, -15, comment.empty() ? nullptr : comment.c_str(), &status);
    check(status, "writing keyword " + key);
}
void FitsFile::writeKey(const std::string& key, int64_t value, const std::string& comment) {
    int status = 0;
    LONGLONG v = value;
    fits_update_key(F(f_), TLONGLONG, key.c_str(), &v, comment.empty() ? nullptr : comment.c_str(), &status);
    check(status, "writing keyword " + key);
}
void FitsFile::writeKey(const std::string& key, int value, const std::string& comment) {
    writeKey(key, int64_t(value), comment);
}
void FitsFile::writeKey(const std::string& key, bool value, const std::string& comment) {
    int status = 0, v = value ? 1 : 0;
    fits_update_key(F(f_), TLOGICAL, key.c_str(), &v, comment.empty() ? nullptr : comment.c_str(), &status);
    check(status, "writing keyword " + key);
}
void FitsFile::writeComment(const std::string& text) {
    int status = 0;
    fits_write_comment(F(f_), text.c_str(), &status);
    check(status, "writing comment");
}

void FitsFile::createTable(const std::string& extname, const std::vector<ColumnSpec>& cols, long nrows) {
    std::vector<char*> ttype, tform, tunit;
    for (const auto& c : cols) {
        ttype.push_back(const_cast<char*>(c.name.c_str()));
        tform.push_back(const_cast<char*>(c.tform.c_str()));
        tunit.push_back(const_cast<char*>(c.unit.c_str()));
    }
    int status = 0;
    fits_create_tbl(F(f_), BINARY_TBL, nrows, int(cols.size()), ttype.data(), tform.data(), tunit.data(),
                    extname.empty() ? nullptr : extname.c_str(), &status);
    check(status, "creating table " + extname);
}

namespace {
template <typename T>
void writeCol(fitsfile* f, FitsFile& self, int datatype, int col, long firstRow, const std::vector<T>& v) {
    if (v.empty()) return;
    int status = 0;
    fits_write_col(f, datatype, col, firstRow, 1, long(v.size()), const_cast<T*>(v.data()), &status);
    if (status) throw FileError(self.path(), "writing column " + std::to_string(col) + ": " + cfitsioMessage(status));
}
} // namespace

void FitsFile::writeColumn(int col, long firstRow, const std::vector<double>& v) { writeCol(F(f_), *this, TDOUBLE, col, firstRow, v); }
void FitsFile::writeColumn(int col, long firstRow, const std::vector<float>& v) { writeCol(F(f_), *this, TFLOAT, col, firstRow, v); }
void FitsFile::writeColumn(int col, long firstRow, const std::vector<int64_t>& v) {
    static_assert(sizeof(LONGLONG) == sizeof(int64_t));
    if (v.empty()) return;
    int status = 0;
    fits_write_col(F(f_), TLONGLONG, col, firstRow, 1, long(v.size()), const_cast<LONGLONG*>(reinterpret_cast<const LONGLONG*>(v.data())), &status);
    check(status, "writing column " + std::to_string(col));
}
void FitsFile::writeColumn(int col, long firstRow, const std::vector<int32_t>& v) { writeCol(F(f_), *this, TINT, col, firstRow, v); }
void FitsFile::writeColumn(int col, long firstRow, const std::vector<int16_t>& v) { writeCol(F(f_), *this, TSHORT, col, firstRow, v); }
void FitsFile::writeColumn(int col, long firstRow, const std::vector<std::string>& v) {
    if (v.empty()) return;
    std::vector<char*> ptrs;
    for (const auto& s : v) ptrs.push_back(const_cast<char*>(s.c_str()));
    int status = 0;
    fits_write_col(F(f_), TSTRING, col, firstRow, 1, long(v.size()), ptrs.data(), &status);
    check(status, "writing text column " + std::to_string(col));
}
void FitsFile::writeChecksums() {
    int status = 0;
    fits_write_chksum(F(f_), &status);
    check(status, "writing checksums");
}

bool looksLikeFits(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char buf[10] = {0};
    in.read(buf, 9);
    return in.gcount() == 9 && std::memcmp(buf, "SIMPLE  =", 9) == 0;
}

} // namespace astroclip
