#pragma once
// Text tables: ECSV (Astropy's "Enhanced CSV": a YAML header behind '# ', then delimited
// rows) and plain CSV (first row = names). Cells are kept as text; typed access converts.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace astroclip {

struct TextTable {
    struct Column {
        std::string name;
        std::string datatype;  // ECSV datatype ("float64", "string", ...); "" for CSV
        std::string unit;      // ECSV unit, "" if none
    };
    std::string path;
    std::vector<Column> columns;
    std::vector<std::vector<std::string>> rows;     // rows[r][c]
    std::vector<int> rowLines;                      // rows[r] was line rowLines[r] of the file (1-based)
    std::map<std::string, std::string> meta;        // ECSV scalar meta entries, flattened

    int columnIndex(const std::string& name) const;  // case-insensitive, -1 if absent
    // Numeric column; throws FileError naming the row when a cell is not a number.
    std::vector<double> numbers(int col) const;
    bool isNumeric(int col) const;  // every non-empty cell parses as a number
};

// Reads an ECSV or CSV file (decided by the "# %ECSV" first line). Throws FileError.
TextTable readTextTable(const std::string& path);
bool looksLikeEcsv(const std::string& path);

// Writes `table` as ECSV when the path ends in .ecsv (each column's datatype, "string" when
// empty, and unit in the YAML header; blank-delimited rows), else as CSV (a names row, then
// comma-delimited rows). Cells holding the delimiter, a quote or a '#' are quoted, so
// readTextTable and Astropy read back the same cells. Throws FileError.
void writeTextTable(const std::string& path, const TextTable& table);

} // namespace astroclip
