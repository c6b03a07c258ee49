#pragma once
// Catalogue tables as columns, and the one place that turns rows into ObjectRecords, shared
// by the FITS, CSV and ECSV readers (see image_table_readers.cpp for the key conventions).
#include "core/ingest/reader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace astroclip::readers {

struct TableColumn {
    enum class Type { Int, Real, Text };
    std::string name;  // as the file spells it
    Type type = Type::Real;
    std::vector<int64_t> ints;           // Type::Int
    std::vector<double> reals;           // Type::Real
    std::vector<std::string> texts;      // Type::Text
    std::vector<unsigned char> isNull;   // empty: no nulls; else one flag per row
};

struct ColumnarTable {
    std::string path;
    long nrows = 0;
    std::vector<TableColumn> columns;
    bool truth = false;  // simulator truth table: values go to ObjectRecord::truth
    std::string idNamespace;  // namespace for generic ID columns (SURVEY keyword or file stem)
};

// Which columns play which role, found by (case-insensitive) name.
struct TableRoles {
    int ra = -1, dec = -1;
    int targetid = -1, objno = -1;
    int release = -1, brickid = -1, objid = -1;   // Legacy Surveys Tractor
    int plate = -1, mjd = -1, fiberid = -1;       // SDSS
    int id = -1;                                  // generic id column
    bool hasPosition() const { return ra >= 0 && dec >= 0; }
    bool hasId() const {
        return targetid >= 0 || objno >= 0 || (release >= 0 && brickid >= 0 && objid >= 0) ||
               (plate >= 0 && mjd >= 0 && fiberid >= 0) || id >= 0;
    }
};
TableRoles findTableRoles(const std::vector<std::string>& names);

// File stem without any extensions, lower-case ("Gals.v2.fits.gz" → "gals").
std::string tableStem(const std::string& path);

// One ObjectRecord per row. Rows with neither key nor position are dropped with a warning.
ReadResult tableToObjects(const ColumnarTable& table);

// Generic table scores: below every format-specific reader.
constexpr int kGenericTableScore = 10;
constexpr int kTruthTableScore = 12;
constexpr int kSpectralFileTableScore = 2;

} // namespace astroclip::readers
