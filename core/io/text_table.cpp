#include "core/io/text_table.h"

#include "core/common/error.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace astroclip {

namespace {
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}
bool parseNumber(const std::string& s, double& out) {
    std::string t = trim(s);
    if (t.empty()) return false;
    const char* b = t.data();
    const char* e = t.data() + t.size();
    if (*b == '+') ++b;
    auto r = std::from_chars(b, e, out);
    if (r.ec == std::errc() && r.ptr == e) return true;
    std::string l = lower(t);
    if (l == "nan") { out = std::numeric_limits<double>::quiet_NaN(); return true; }
    if (l == "inf" || l == "+inf") { out = std::numeric_limits<double>::infinity(); return true; }
    if (l == "-inf") { out = -std::numeric_limits<double>::infinity(); return true; }
    return false;
}

// Splits one row. For delimiter ' ' runs of blanks separate fields (ECSV); for ',' each comma
// does. Double quotes protect delimiters; "" inside quotes is a literal quote.
std::vector<std::string> splitRow(const std::string& line, char delim) {
    std::vector<std::string> out;
    std::string cur;
    bool inQuotes = false, fieldStarted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (inQuotes) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
                else inQuotes = false;
            } else cur += c;
        } else if (c == '"') {
            inQuotes = true;
            fieldStarted = true;
        } else if (c == delim || (delim == ' ' && c == '\t')) {
            if (delim == ' ' && !fieldStarted) continue;  // collapse blank runs
            out.push_back(delim == ' ' ? cur : trim(cur));
            cur.clear();
            fieldStarted = false;
        } else if (c != '\r') {
            cur += c;
            fieldStarted = true;
        }
    }
    if (fieldStarted || delim != ' ') out.push_back(delim == ' ' ? cur : trim(cur));
    return out;
}

void flattenMeta(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
    if (node.IsScalar()) {
        out[prefix] = node.as<std::string>();
    } else if (node.IsMap()) {
        for (const auto& kv : node)
            flattenMeta(kv.second, prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>(), out);
    } else if (node.IsSequence()) {
        // Astropy writes ordered maps as a sequence of one-entry maps.
        for (const auto& item : node) flattenMeta(item, prefix, out);
    }
}
} // namespace

int TextTable::columnIndex(const std::string& name) const {
    const std::string want = lower(name);
    for (size_t i = 0; i < columns.size(); ++i)
        if (lower(columns[i].name) == want) return int(i);
    return -1;
}

bool TextTable::isNumeric(int col) const {
    double v;
    bool any = false;
    for (const auto& r : rows) {
        if (col >= int(r.size()) || trim(r[col]).empty()) continue;
        if (!parseNumber(r[col], v)) return false;
        any = true;
    }
    return any;
}

std::vector<double> TextTable::numbers(int col) const {
    std::vector<double> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::string cell = col < int(rows[i].size()) ? rows[i][col] : std::string();
        if (trim(cell).empty()) { out[i] = std::numeric_limits<double>::quiet_NaN(); continue; }
        if (!parseNumber(cell, out[i]))
            throw FileError(path, "row " + std::to_string(i + 1) + ", column '" + columns[col].name +
                                      "': '" + cell + "' is not a number");
    }
    return out;
}

bool looksLikeEcsv(const std::string& path) {
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    return first.rfind("# %ECSV", 0) == 0;
}

TextTable readTextTable(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw FileError(path, "cannot open");
    TextTable t;
    t.path = path;
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line)) lines.push_back(line);
    if (lines.empty()) throw FileError(path, "empty file");

    size_t bodyStart = 0;
    char delim = ',';
    if (lines[0].rfind("# %ECSV", 0) == 0) {
        std::string yaml;
        size_t i = 1;
        for (; i < lines.size() && lines[i].rfind("#", 0) == 0; ++i) {
            std::string l = lines[i].substr(1);
            if (!l.empty() && l[0] == ' ') l = l.substr(1);
            if (trim(l) == "---") continue;
            yaml += l + "\n";
        }
        bodyStart = i;
        YAML::Node header;
        try {
            header = YAML::Load(yaml);
        } catch (const YAML::Exception& e) {
            throw FileError(path, std::string("ECSV header is not valid YAML: ") + e.what());
        }
        delim = header["delimiter"] ? header["delimiter"].as<std::string>().front() : ' ';
        if (!header["datatype"] || !header["datatype"].IsSequence())
            throw FileError(path, "ECSV header has no datatype list");
        for (const auto& c : header["datatype"]) {
            TextTable::Column col;
            col.name = c["name"].as<std::string>();
            if (c["datatype"]) col.datatype = c["datatype"].as<std::string>();
            if (c["unit"]) col.unit = c["unit"].as<std::string>();
            t.columns.push_back(col);
        }
        if (header["meta"]) flattenMeta(header["meta"], "", t.meta);
        // The first body line repeats the column names.
        if (bodyStart >= lines.size()) throw FileError(path, "ECSV file has no column-name row");
        auto names = splitRow(lines[bodyStart], delim);
        if (names.size() != t.columns.size())
            throw FileError(path, "ECSV column-name row has " + std::to_string(names.size()) +
                                      " names but the header declares " + std::to_string(t.columns.size()));
        ++bodyStart;
    } else {
        auto names = splitRow(lines[0], ',');
        if (names.empty() || (names.size() == 1 && names[0].empty())) throw FileError(path, "CSV file has no header row");
        for (auto& n : names) t.columns.push_back({n, "", ""});
        bodyStart = 1;
    }
    for (size_t i = bodyStart; i < lines.size(); ++i) {
        if (trim(lines[i]).empty() || lines[i][0] == '#') continue;
        auto cells = splitRow(lines[i], delim);
        if (cells.size() != t.columns.size())
            throw FileError(path, "line " + std::to_string(i + 1) + " has " + std::to_string(cells.size()) +
                                      " fields, expected " + std::to_string(t.columns.size()));
        t.rows.push_back(std::move(cells));
        t.rowLines.push_back(int(i + 1));
    }
    return t;
}

namespace {
std::string quoted(const std::string& cell, char delim) {
    const bool needs = cell.empty() ? delim == ' ' : cell.find_first_of(std::string("\"#\t\n") + delim) != std::string::npos;
    if (!needs) return cell;
    std::string out = "\"";
    for (const char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}
} // namespace

void writeTextTable(const std::string& path, const TextTable& table) {
    const bool ecsv = path.size() >= 5 && lower(path.substr(path.size() - 5)) == ".ecsv";
    const char delim = ecsv ? ' ' : ',';
    std::ofstream out(path, std::ios::trunc);
    if (!out) throw FileError(path, "cannot be written (does its folder exist?)");
    if (ecsv) {
        YAML::Emitter header;
        header << YAML::BeginMap << YAML::Key << "datatype" << YAML::Value << YAML::BeginSeq;
        for (const auto& c : table.columns) {
            header << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name;
            if (!c.unit.empty()) header << YAML::Key << "unit" << YAML::Value << c.unit;
            header << YAML::Key << "datatype" << YAML::Value << (c.datatype.empty() ? "string" : c.datatype)
                   << YAML::EndMap;
        }
        header << YAML::EndSeq;
        if (!table.meta.empty()) {
            header << YAML::Key << "meta" << YAML::Value << YAML::BeginMap;
            for (const auto& [k, v] : table.meta) header << YAML::Key << k << YAML::Value << v;
            header << YAML::EndMap;
        }
        header << YAML::Key << "schema" << YAML::Value << "astropy-2.0" << YAML::EndMap;
        out << "# %ECSV 1.0\n# ---\n";
        std::istringstream lines(header.c_str());
        for (std::string line; std::getline(lines, line);) out << "# " << line << "\n";
    }
    for (size_t i = 0; i < table.columns.size(); ++i) out << (i ? std::string(1, delim) : "") << quoted(table.columns[i].name, delim);
    out << "\n";
    for (const auto& row : table.rows) {
        for (size_t i = 0; i < row.size(); ++i) out << (i ? std::string(1, delim) : "") << quoted(row[i], delim);
        out << "\n";
    }
    out.flush();
    if (!out) throw FileError(path, "writing failed (disk full?)");
}

} // namespace astroclip
