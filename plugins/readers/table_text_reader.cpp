// csv-table and ecsv-table: text catalogues through core/io/text_table.h.
// Column types: ECSV's declared datatype (int* / uint* → integer, float* → real, bool → 0/1,
// else text); CSV columns are integers when every non-empty cell is one (so a TARGETID keeps
// all 64 bits), reals when every cell is a number, else text. Empty cells are nulls.
#include "plugins/readers/img_common.h"
#include "plugins/readers/table_common.h"
#include "plugins/readers/table_readers.h"

#include "core/common/error.h"
#include "core/io/text_table.h"

#include <charconv>
#include <fstream>
#include <limits>

namespace astroclip::readers {

namespace {

bool parseInt(const std::string& s, int64_t& out) {
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    auto r = std::from_chars(b, e, out);
    return r.ec == std::errc() && r.ptr == e && b != e;
}

bool parseReal(const std::string& s, double& out) {
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    auto r = std::from_chars(b, e, out);
    if (r.ec == std::errc() && r.ptr == e && b != e) return true;
    const std::string l = toLower(s);
    if (l == "nan") { out = std::numeric_limits<double>::quiet_NaN(); return true; }
    if (l == "inf" || l == "+inf" || l == "infinity") { out = std::numeric_limits<double>::infinity(); return true; }
    if (l == "-inf" || l == "-infinity") { out = -std::numeric_limits<double>::infinity(); return true; }
    return false;
}

bool isNullText(const std::string& s) { return s.empty() || s == "\"\""; }

TableColumn::Type declaredType(const std::string& datatype) {
    const std::string d = toLower(datatype);
    if (d.rfind("int", 0) == 0 || d.rfind("uint", 0) == 0 || d == "bool") return TableColumn::Type::Int;
    if (d.rfind("float", 0) == 0) return TableColumn::Type::Real;
    return TableColumn::Type::Text;
}

TableColumn::Type inferredType(const TextTable& t, size_t c) {
    bool allInt = true, allReal = true;
    for (const auto& row : t.rows) {
        if (c >= row.size()) continue;
        const std::string& s = row[c];
        if (isNullText(s)) continue;
        int64_t i;
        double d;
        if (allInt && !parseInt(s, i)) allInt = false;
        if (!allInt && !parseReal(s, d)) { allReal = false; break; }
    }
    return allInt ? TableColumn::Type::Int : allReal ? TableColumn::Type::Real : TableColumn::Type::Text;
}

TableColumn toColumn(const TextTable& t, size_t c, bool ecsv) {
    TableColumn col;
    col.name = t.columns[c].name;
    col.type = ecsv && !t.columns[c].datatype.empty() ? declaredType(t.columns[c].datatype) : inferredType(t, c);
    const size_t n = t.rows.size();
    col.isNull.assign(n, 0);
    const bool isBool = toLower(t.columns[c].datatype) == "bool";
    switch (col.type) {
    case TableColumn::Type::Int: col.ints.assign(n, 0); break;
    case TableColumn::Type::Real: col.reals.assign(n, 0.0); break;
    case TableColumn::Type::Text: col.texts.resize(n); break;
    }
    for (size_t r = 0; r < n; ++r) {
        const std::string empty;
        const std::string& s = c < t.rows[r].size() ? t.rows[r][c] : empty;
        if (col.type == TableColumn::Type::Text) {
            col.texts[r] = s;
            col.isNull[r] = s.empty();
            continue;
        }
        if (isNullText(s)) {
            col.isNull[r] = 1;
            continue;
        }
        bool ok = true;
        if (isBool) {
            const std::string l = toLower(s);
            ok = l == "true" || l == "false" || l == "1" || l == "0";
            col.ints[r] = l == "true" || l == "1";
        } else if (col.type == TableColumn::Type::Int) {
            ok = parseInt(s, col.ints[r]);
        } else {
            ok = parseReal(s, col.reals[r]);
        }
        if (!ok)
            throw FileError(t.path, "row " + std::to_string(r + 1) + ", column '" + col.name + "': '" + s +
                                        "' is not a valid " + (t.columns[c].datatype.empty() ? "number" : t.columns[c].datatype));
    }
    return col;
}

// Column names from the first non-comment line, without parsing the whole file: score()
// must stay cheap and must not throw.
std::vector<std::string> sniffColumnNames(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    for (int n = 0; n < 10000 && std::getline(in, line); ++n) {
        const std::string t = trimmed(line);
        if (t.empty() || t[0] == '#') continue;
        std::vector<std::string> names;
        const char delim = t.find(',') != std::string::npos ? ',' : ' ';
        std::string cur;
        for (char c : t + delim) {
            if (c == delim || (delim == ' ' && c == '\t')) {
                const std::string name = trimmed(cur);
                if (!name.empty() || delim == ',') names.push_back(name.size() >= 2 && name.front() == '"' ? name.substr(1, name.size() - 2) : name);
                cur.clear();
            } else {
                cur += c;
            }
        }
        return names;
    }
    return {};
}

class TextTableReader final : public Reader {
public:
    explicit TextTableReader(bool ecsv) : ecsv_(ecsv) {}
    std::string name() const override { return ecsv_ ? "ecsv-table" : "csv-table"; }
    std::string description() const override {
        return ecsv_ ? "ECSV (Astropy) catalogues with a position or id column"
                     : "CSV catalogues (first row = column names) with a position or id column";
    }

    int score(const FileProbe& probe) const override {
        if (!probe.isText) return 0;
        try {
            if (looksLikeEcsv(probe.path) != ecsv_) return 0;
            const TableRoles roles = findTableRoles(sniffColumnNames(probe.path));
            return roles.hasPosition() || roles.hasId() ? kGenericTableScore : 0;
        } catch (const std::exception&) {
            return 0;
        }
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const TextTable t = readTextTable(probe.path);
        ColumnarTable table;
        table.path = probe.path;
        table.nrows = long(t.rows.size());
        auto survey = t.meta.find("survey");
        const std::string ns = survey == t.meta.end() ? "" : toLower(trimmed(survey->second));
        table.idNamespace = ns.empty() || ns.find(' ') != std::string::npos ? tableStem(probe.path) : ns;
        for (size_t c = 0; c < t.columns.size(); ++c) table.columns.push_back(toColumn(t, c, ecsv_));
        std::vector<std::string> names;
        for (const auto& c : table.columns) names.push_back(c.name);
        const TableRoles roles = findTableRoles(names);
        if (!roles.hasPosition() && !roles.hasId())
            throw FileError(probe.path, "no position (RA/DEC) or id column");
        return tableToObjects(table);
    }

private:
    bool ecsv_;
};

} // namespace

std::unique_ptr<Reader> makeCsvTableReader() { return std::make_unique<TextTableReader>(false); }
std::unique_ptr<Reader> makeEcsvTableReader() { return std::make_unique<TextTableReader>(true); }

} // namespace astroclip::readers
