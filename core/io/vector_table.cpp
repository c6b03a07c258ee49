#include "core/io/vector_table.h"

#include "core/common/error.h"
#include "core/io/fits.h"
#include "core/io/text_table.h"
#include "core/io/vector_table_parts.h"

#include <fitsio.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_map>

namespace astroclip {

namespace vector_table {
std::string vectorName(const VectorTableOptions& o) { return o.vectorColumn.empty() ? "embedding" : o.vectorColumn; }
} // namespace vector_table

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string joinNames(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
}

// "1, 5, 9 and 4 more" for messages about rows.
std::string someRows(const std::vector<size_t>& rows) {
    std::string out;
    const size_t shown = std::min<size_t>(rows.size(), 10);
    for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + std::to_string(rows[i]);
    if (rows.size() > shown) out += " and " + std::to_string(rows.size() - shown) + " more";
    return out;
}

// A number token of a text cell; NaN and infinities parse (they are reported as not finite).
bool parseDouble(const std::string& text, double& out) {
    const std::string t = trim(text);
    if (t.empty()) return false;
    const char* b = t.data() + (t[0] == '+' ? 1 : 0);
    const char* e = t.data() + t.size();
    const auto r = std::from_chars(b, e, out);
    if (r.ec == std::errc() && r.ptr == e) return true;
    const std::string l = lower(t);
    if (l == "nan" || l == "+nan" || l == "-nan") { out = std::numeric_limits<double>::quiet_NaN(); return true; }
    if (l == "inf" || l == "+inf" || l == "infinity") { out = std::numeric_limits<double>::infinity(); return true; }
    if (l == "-inf" || l == "-infinity") { out = -std::numeric_limits<double>::infinity(); return true; }
    return false;
}

// An object id written as an integer ("42"; "42.0" from a writer that made the column float).
bool parseId(const std::string& text, int64_t& out) {
    const std::string t = trim(text);
    if (t.empty()) return false;
    const char* e = t.data() + t.size();
    const auto r = std::from_chars(t.data(), e, out);
    if (r.ec == std::errc() && r.ptr == e) return true;
    double d = 0;
    if (!parseDouble(t, d) || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0) return false;
    out = int64_t(d);
    return true;
}

// A whole vector in one text cell: "[a, b, c]" or numbers separated by blanks or semicolons.
std::vector<double> parseVectorCell(const std::string& cell, const std::string& path, size_t row,
                                    const std::string& column) {
    std::string t = cell;
    for (char& c : t)
        if (c == '[' || c == ']' || c == ',' || c == ';' || c == '\t') c = ' ';
    std::vector<double> v;
    size_t at = 0;
    while ((at = t.find_first_not_of(' ', at)) != std::string::npos) {
        const size_t end = std::min(t.find(' ', at), t.size());
        double x = 0;
        if (!parseDouble(t.substr(at, end - at), x))
            throw FileError(path, "row " + std::to_string(row) + ", column '" + column + "': '" + t.substr(at, end - at) +
                                      "' is not a number");
        v.push_back(x);
        at = end;
    }
    return v;
}

// Columns named prefix + suffix (case-insensitive), not the id/key column; ordered by the
// number in the suffix ("emb_7", "emb7") when every one has one, else as the file orders them.
std::vector<int> componentColumns(const std::vector<std::string>& names, std::string prefix, const std::string& exclude,
                                  const std::string& path) {
    if (!prefix.empty() && prefix.back() == '*') prefix.pop_back();
    if (prefix.empty()) throw FileError(path, "--columns needs a column-name prefix, e.g. emb_*");
    const std::string want = lower(prefix);
    std::vector<std::pair<long long, int>> numbered;
    std::vector<int> inOrder;
    bool allNumbered = true;
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string name = lower(names[i]);
        if (name.rfind(want, 0) != 0 || name == lower(exclude)) continue;
        inOrder.push_back(int(i));
        std::string suffix = name.substr(want.size());
        suffix.erase(0, suffix.find_first_not_of("_-"));
        long long k = 0;
        const auto r = std::from_chars(suffix.data(), suffix.data() + suffix.size(), k);
        if (suffix.empty() || r.ec != std::errc() || r.ptr != suffix.data() + suffix.size()) allNumbered = false;
        else numbered.push_back({k, int(i)});
    }
    if (inOrder.empty())
        throw FileError(path, "no column starts with '" + prefix + "' (columns: " + joinNames(names) + ")");
    if (!allNumbered) return inOrder;
    std::stable_sort(numbered.begin(), numbered.end());
    std::vector<int> out;
    for (const auto& [k, i] : numbered) out.push_back(i);
    return out;
}

std::string componentsFrom(const std::vector<std::string>& names, const std::vector<int>& cols) {
    return std::to_string(cols.size()) + " columns " + names[cols.front()] +
           (cols.size() > 1 ? ".." + names[cols.back()] : std::string());
}

std::string missingColumn(const std::string& what, const std::string& name, const std::vector<std::string>& names) {
    return "no " + what + " column '" + name + "' (columns: " + joinNames(names) + ")";
}

std::string noVectors(const std::string& name, const std::vector<std::string>& names) {
    return missingColumn("vector", name, names) +
           "; name the vector column with --vector-column, or per-component columns with --columns PREFIX*";
}

// Fills t.values from rows of doubles, checking every row has the same length.
void appendRow(VectorTable& t, const std::vector<double>& row, size_t rowNumber) {
    if (t.values.empty() && t.dim == 0) t.dim = int(row.size());
    if (int(row.size()) != t.dim)
        throw FileError(t.path, "row " + std::to_string(rowNumber) + " has a vector of " + std::to_string(row.size()) +
                                    " values; the rows before it have " + std::to_string(t.dim));
    for (const double x : row) t.values.push_back(float(x));
}

VectorTable readText(const std::string& path, const VectorTableOptions& o) {
    const TextTable table = readTextTable(path);
    VectorTable t;
    t.path = path;
    t.format = looksLikeEcsv(path) ? "ecsv" : "csv";
    std::vector<std::string> names;
    for (const auto& c : table.columns) names.push_back(c.name);
    const bool byKey = !o.keyColumn.empty();
    const std::string rowColumn = byKey ? o.keyColumn : o.idColumn;
    const int rowCol = table.columnIndex(rowColumn);
    if (rowCol < 0)
        throw FileError(path, missingColumn(byKey ? "key" : "id", rowColumn, names) +
                                  (byKey ? "" : "; name it with --id-column, or match by key with --key-column"));
    for (size_t r = 0; r < table.rows.size(); ++r) {
        const std::string& cell = table.rows[r][rowCol];
        if (byKey) {
            if (trim(cell).empty()) throw FileError(path, "row " + std::to_string(r + 1) + " has no key");
            t.keys.push_back(trim(cell));
            continue;
        }
        int64_t id = 0;
        if (!parseId(cell, id))
            throw FileError(path, "row " + std::to_string(r + 1) + ": the id '" + cell + "' in column '" + rowColumn +
                                      "' is not an integer (match by catalog key with --key-column instead)");
        t.ids.push_back(id);
    }
    if (!o.columnsPrefix.empty()) {
        const auto cols = componentColumns(names, o.columnsPrefix, rowColumn, path);
        t.dim = int(cols.size());
        std::vector<std::vector<double>> columns;
        for (const int c : cols) columns.push_back(table.numbers(c));
        t.values.resize(table.rows.size() * cols.size());
        for (size_t r = 0; r < table.rows.size(); ++r)
            for (size_t c = 0; c < cols.size(); ++c) t.values[r * cols.size() + c] = float(columns[c][r]);
        t.vectorsFrom = componentsFrom(names, cols);
        return t;
    }
    const std::string name = vector_table::vectorName(o);
    const int col = table.columnIndex(name);
    if (col < 0) throw FileError(path, noVectors(name, names));
    for (size_t r = 0; r < table.rows.size(); ++r)
        appendRow(t, parseVectorCell(table.rows[r][col], path, r + 1, name), r + 1);
    t.vectorsFrom = "column '" + table.columns[col].name + "'";
    return t;
}

VectorTable readFits(const std::string& path, const VectorTableOptions& o) {
    auto f = FitsFile::open(path);
    const bool byKey = !o.keyColumn.empty();
    const std::string rowColumn = byKey ? o.keyColumn : o.idColumn;
    // The first table holding the id (or key) column.
    std::vector<std::string> firstNames;
    int rowCol = 0;
    for (int h = 2; h <= f.hduCount() && !rowCol; ++h) {
        f.moveTo(h);
        if (f.hduType() == HduType::Image) continue;
        if (firstNames.empty())
            for (const auto& c : f.columns()) firstNames.push_back(c.name);
        rowCol = f.columnIndex(rowColumn);
    }
    if (!rowCol) {
        if (firstNames.empty()) throw FileError(path, "has no table extension (expected a binary table of vectors)");
        throw FileError(path, missingColumn(byKey ? "key" : "id", rowColumn, firstNames) + " in any table" +
                                  (byKey ? "" : "; name it with --id-column, or match by key with --key-column"));
    }
    const auto columns = f.columns();
    std::vector<std::string> names;
    for (const auto& c : columns) names.push_back(c.name);
    const long n = f.numRows();
    VectorTable t;
    t.path = path;
    t.format = "fits";
    const FitsColumn& idInfo = columns[rowCol - 1];
    if (byKey) {
        if (idInfo.typecode != TSTRING) {
            for (const int64_t k : f.readColumnInt64(rowCol)) t.keys.push_back(std::to_string(k));
        } else {
            for (auto& k : f.readColumnString(rowCol)) t.keys.push_back(trim(k));
        }
    } else {
        if (idInfo.typecode == TSTRING || idInfo.repeat != 1)
            throw FileError(path, "column '" + idInfo.name + "' holds " + (idInfo.typecode == TSTRING ? "text" : "vectors") +
                                      ", not one integer object id per row (match by catalog key with --key-column)");
        // Float ids are refused row by row below only if they are not integral.
        const auto values = f.readColumnDouble(rowCol);
        const auto ints = f.readColumnInt64(rowCol);
        for (long r = 0; r < n; ++r) {
            if (!std::isfinite(values[r]) || values[r] != std::floor(values[r]))
                throw FileError(path, "row " + std::to_string(r + 1) + ": the id in column '" + idInfo.name +
                                          "' is not an integer");
            t.ids.push_back(ints[r]);
        }
    }
    if (!o.columnsPrefix.empty()) {
        const auto cols = componentColumns(names, o.columnsPrefix, rowColumn, path);
        for (const int c : cols)
            if (columns[c].typecode == TSTRING || columns[c].repeat != 1)
                throw FileError(path, "column '" + names[c] + "' is not one number per row");
        t.dim = int(cols.size());
        t.values.resize(size_t(n) * cols.size());
        for (size_t c = 0; c < cols.size(); ++c) {
            const auto v = f.readColumnDouble(cols[c] + 1);
            for (long r = 0; r < n; ++r) t.values[size_t(r) * cols.size() + c] = float(v[r]);
        }
        t.vectorsFrom = componentsFrom(names, cols);
        return t;
    }
    const std::string name = vector_table::vectorName(o);
    const int col = f.columnIndex(name);
    if (!col) throw FileError(path, noVectors(name, names));
    if (columns[col - 1].typecode == TSTRING)
        throw FileError(path, "column '" + columns[col - 1].name + "' holds text, not vectors");
    t.values.reserve(size_t(n) * size_t(std::max(1L, std::labs(columns[col - 1].repeat))));
    for (long r = 1; r <= n; ++r) appendRow(t, f.readCellDouble(col, r), size_t(r));
    t.vectorsFrom = "column '" + columns[col - 1].name + "'";
    return t;
}

bool hasSuffix(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool looksLikeHdf5(const std::string& path) {
    // The HDF5 signature at offset 0 (files written with a user block have it later; name
    // those .h5/.hdf5).
    std::ifstream in(path, std::ios::binary);
    char head[8] = {};
    in.read(head, 8);
    return in && std::string(head, 8) == std::string("\x89HDF\r\n\x1a\n", 8);
}

// The checks every format gets: rows, finite values, one row per id or key.
void check(VectorTable& t) {
    if (t.rows() == 0 || t.dim == 0) throw FileError(t.path, "holds no vectors (no rows, or rows without values)");
    std::vector<size_t> bad;
    for (size_t r = 0; r < t.rows(); ++r)
        for (int j = 0; j < t.dim; ++j)
            if (!std::isfinite(t.values[r * size_t(t.dim) + size_t(j)])) {
                bad.push_back(r + 1);
                break;
            }
    if (!bad.empty())
        throw FileError(t.path, std::to_string(bad.size()) + " row" + (bad.size() == 1 ? " has" : "s have") +
                                    " values that are not finite (NaN or infinite, or beyond float32): row" +
                                    (bad.size() == 1 ? " " : "s ") + someRows(bad) + "; nothing was imported");
    const bool byKey = !t.keys.empty();
    std::unordered_map<std::string, size_t> seen;
    for (size_t r = 0; r < t.rows(); ++r) {
        const std::string k = byKey ? t.keys[r] : std::to_string(t.ids[r]);
        const auto [it, fresh] = seen.emplace(k, r + 1);
        if (!fresh)
            throw FileError(t.path, std::string(byKey ? "key '" : "object id ") + k + (byKey ? "'" : "") +
                                        " appears in rows " + std::to_string(it->second) + " and " +
                                        std::to_string(r + 1) + "; one vector per object");
    }
}

} // namespace

VectorTable readVectorTable(const std::string& path, const VectorTableOptions& options) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw FileError(path, "no such file");
    if (!std::ifstream(path)) throw FileError(path, "cannot be read (permissions?)");
    const std::string name = lower(path);
    VectorTable t;
    if (hasSuffix(name, ".h5") || hasSuffix(name, ".hdf5") || hasSuffix(name, ".he5") || looksLikeHdf5(path))
        t = vector_table::readHdf5(path, options);
    else if (hasSuffix(name, ".fits") || hasSuffix(name, ".fit") || hasSuffix(name, ".fits.gz") ||
             hasSuffix(name, ".fts") || looksLikeFits(path))
        t = readFits(path, options);
    else if (hasSuffix(name, ".csv") || hasSuffix(name, ".ecsv") || hasSuffix(name, ".txt"))
        t = readText(path, options);
    else
        throw FileError(path, "is not a FITS, CSV, ECSV or HDF5 table (by its name and its first bytes)");
    check(t);
    return t;
}

} // namespace astroclip
