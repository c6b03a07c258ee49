// fits-table: the first binary/ASCII table HDU with rows and a position or id column.
// Columns are read whole (one CFITSIO call per column), so a million-row catalogue costs a
// few column reads, not a million row reads. Integer columns stay int64 (TARGETID exact);
// scaled integers (TSCALn ≠ 1) are reals; TNULLn values are nulls; logical columns are 0/1;
// vector and bit/complex columns are skipped. TRUTHTAB = T marks the simulator's truth table.
#include "plugins/readers/img_common.h"
#include "plugins/readers/table_common.h"
#include "plugins/readers/table_readers.h"

#include "core/common/error.h"
#include "core/io/fits.h"

#include <fitsio.h>

#include <filesystem>

namespace astroclip::readers {

namespace {

// HDUs that mark a spectral format; a generic table reader must leave those files to the
// spectral readers (they score ~50), and only claims them weakly as a fallback.
bool isSpectralHduName(const std::string& upperName) {
    static const char* kNames[] = {"FIBERMAP", "EXP_FIBERMAP", "REDSHIFTS", "COADD", "SPECOBJ", "SPZLINE", "B_FLUX",
                                   "R_FLUX", "Z_FLUX", "ZCATALOG"};
    for (const char* n : kNames)
        if (upperName == n) return true;
    return upperName.rfind("BXSPF-", 0) == 0 || upperName.rfind("HORNE-", 0) == 0;
}

bool truthFlag(const std::string& raw) {
    const std::string v = toUpper(trimmed(raw));
    return v == "T" || v == "TRUE" || v == "1";
}

enum class CellKind { Int, Real, Logical, Text, Skip };

CellKind cellKind(const FitsColumn& c) {
    if (c.typecode == TSTRING) return CellKind::Text;
    if (c.repeat != 1) return CellKind::Skip;
    switch (c.typecode) {
    case TBYTE: case TSBYTE: case TSHORT: case TUSHORT: case TINT: case TUINT: case TLONG: case TULONG:
    case TLONGLONG: case TULONGLONG:
        return CellKind::Int;
    case TFLOAT: case TDOUBLE: return CellKind::Real;
    case TLOGICAL: return CellKind::Logical;
    default: return CellKind::Skip;
    }
}

TableColumn readRealColumn(FitsFile& f, int colno, const std::string& name) {
    TableColumn c;
    c.name = name;
    c.type = TableColumn::Type::Real;
    c.reals = f.readColumnDouble(colno);
    return c;
}

TableColumn readColumn(FitsFile& f, int colno, const FitsColumn& fc, CellKind kind, long nrows) {
    const std::string n = std::to_string(colno);
    if (kind == CellKind::Real) return readRealColumn(f, colno, fc.name);
    if (kind == CellKind::Text) {
        TableColumn c;
        c.name = fc.name;
        c.type = TableColumn::Type::Text;
        c.texts = f.readColumnString(colno);
        return c;
    }
    if (kind == CellKind::Int) {
        if (auto scale = f.keyDouble("TSCAL" + n); scale && *scale != 1.0) return readRealColumn(f, colno, fc.name);
        TableColumn c;
        c.name = fc.name;
        c.type = TableColumn::Type::Int;
        try {
            c.ints = f.readColumnInt64(colno);
        } catch (const FileError&) {
            // uint64 columns (TZERO = 2^63) overflow int64: keep them as reals.
            return readRealColumn(f, colno, fc.name);
        }
        if (auto tnull = f.keyInt("TNULL" + n)) {
            c.isNull.assign(size_t(nrows), 0);
            for (long r = 0; r < nrows; ++r) c.isNull[size_t(r)] = c.ints[size_t(r)] == *tnull;
        }
        return c;
    }
    // Logical: CFITSIO reads T/F as text; undefined cells are blank.
    TableColumn c;
    c.name = fc.name;
    c.type = TableColumn::Type::Int;
    const auto text = f.readColumnString(colno);
    c.ints.resize(text.size());
    c.isNull.assign(text.size(), 0);
    for (size_t r = 0; r < text.size(); ++r) {
        c.ints[r] = text[r] == "T";
        c.isNull[r] = text[r] != "T" && text[r] != "F";
    }
    return c;
}

class FitsTableReader final : public Reader {
public:
    std::string name() const override { return "fits-table"; }
    std::string description() const override {
        return "FITS binary tables with a position or id column (Tractor catalogues, simulator truth, user catalogues)";
    }

    int score(const FileProbe& probe) const override {
        if (!probe.isFits) return 0;
        bool spectral = false;
        for (const auto& h : probe.hdus) spectral = spectral || isSpectralHduName(h.extname);
        for (const auto& h : probe.hdus) {
            if (h.type != FileProbe::Hdu::Type::Table || h.shape.empty() || h.shape[0] <= 0) continue;
            const TableRoles roles = findTableRoles(h.columns);
            if (!roles.hasPosition() && !roles.hasId()) continue;
            if (spectral) return kSpectralFileTableScore;
            auto t = h.keys.find("TRUTHTAB");
            return t != h.keys.end() && truthFlag(t->second) ? kTruthTableScore : kGenericTableScore;
        }
        return 0;
    }

    ReadResult read(const FileProbe& probe, const ReaderOptions&) const override {
        const std::string& path = probe.path;
        auto f = FitsFile::open(path);
        const int nhdu = f.hduCount();
        int hdu = 0;
        std::vector<FitsColumn> cols;
        for (int i = 2; i <= nhdu && !hdu; ++i) {
            f.moveTo(i);
            if (f.hduType() == HduType::Image || f.numRows() <= 0) continue;
            cols = f.columns();
            std::vector<std::string> names;
            for (const auto& c : cols) names.push_back(c.name);
            const TableRoles roles = findTableRoles(names);
            if (roles.hasPosition() || roles.hasId()) hdu = i;
        }
        if (!hdu) throw FileError(path, "no table HDU with rows and a position (RA/DEC) or id column");

        ColumnarTable table;
        table.path = path;
        table.nrows = f.numRows();
        table.truth = truthFlag(f.keyString("TRUTHTAB").value_or(""));
        // SURVEY names the id namespace when it is one word ("hsc"); prose values are ignored.
        const std::string survey = toLower(trimmed(f.keyString("SURVEY").value_or("")));
        table.idNamespace = survey.empty() || survey.find(' ') != std::string::npos ? tableStem(path) : survey;
        // A truncated copy fails here, before any column is allocated.
        const auto rowBytes = f.keyInt("NAXIS1").value_or(0);
        std::error_code ec;
        const auto fileBytes = static_cast<long long>(std::filesystem::file_size(path, ec));
        if (!ec && rowBytes * table.nrows > fileBytes)
            throw FileError(path, "table HDU " + std::to_string(hdu) + " declares " + std::to_string(table.nrows) +
                                      " rows of " + std::to_string(rowBytes) + " bytes but the file holds only " +
                                      std::to_string(fileBytes) + " bytes (truncated copy?)");
        long skipped = 0;
        for (size_t i = 0; i < cols.size(); ++i) {
            const CellKind kind = cellKind(cols[i]);
            if (kind == CellKind::Skip) {
                ++skipped;
                continue;
            }
            table.columns.push_back(readColumn(f, int(i) + 1, cols[i], kind, table.nrows));
        }
        ReadResult result = tableToObjects(table);
        if (skipped)
            result.warnings.push_back(std::to_string(skipped) + " vector/bit/complex columns not kept (scalars only)");
        return result;
    }
};

} // namespace

std::unique_ptr<Reader> makeFitsTableReader() { return std::make_unique<FitsTableReader>(); }

} // namespace astroclip::readers
