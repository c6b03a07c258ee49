#include "plugins/readers/table_common.h"

#include "plugins/readers/img_common.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <unordered_set>
#include <utility>

namespace astroclip::readers {

namespace {

int indexOf(const std::vector<std::string>& upperNames, const char* want) {
    for (size_t i = 0; i < upperNames.size(); ++i)
        if (upperNames[i] == want) return int(i);
    return -1;
}

bool isNull(const TableColumn& c, long r) { return !c.isNull.empty() && c.isNull[size_t(r)]; }

// The cell as key text; "" when null or not a whole number (ids never pass through rounding).
std::string keyText(const TableColumn& c, long r) {
    if (isNull(c, r)) return {};
    switch (c.type) {
    case TableColumn::Type::Int: return std::to_string(c.ints[size_t(r)]);
    case TableColumn::Type::Text: return trimmed(c.texts[size_t(r)]);
    case TableColumn::Type::Real: {
        const double v = c.reals[size_t(r)];
        if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
            return std::to_string(int64_t(v));
        return {};
    }
    }
    return {};
}

std::optional<double> realOf(const TableColumn& c, long r) {
    if (isNull(c, r)) return std::nullopt;
    double v = 0;
    if (c.type == TableColumn::Type::Real) v = c.reals[size_t(r)];
    else if (c.type == TableColumn::Type::Int) v = double(c.ints[size_t(r)]);
    else return std::nullopt;
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

Value valueOf(const TableColumn& c, long r) {
    if (isNull(c, r)) return std::monostate{};
    switch (c.type) {
    case TableColumn::Type::Int: return c.ints[size_t(r)];
    case TableColumn::Type::Real: {
        const double v = c.reals[size_t(r)];
        if (std::isnan(v)) return std::monostate{};
        return v;
    }
    case TableColumn::Type::Text: return c.texts[size_t(r)];
    }
    return std::monostate{};
}

bool looksLikeFitsFileName(const std::string& s) {
    static const std::regex re(R"(.*\.(fits?|fts)(\.(gz|fz|bz2))?$)", std::regex::icase);
    return !s.empty() && s.size() < 4096 && std::regex_match(s, re);
}

std::string pathBaseName(const std::string& p) {
    const size_t slash = p.find_last_of('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

} // namespace

TableRoles findTableRoles(const std::vector<std::string>& names) {
    std::vector<std::string> u;
    u.reserve(names.size());
    for (const auto& n : names) u.push_back(toUpper(trimmed(n)));
    TableRoles r;
    static const std::pair<const char*, const char*> kPositionPairs[] = {
        {"RA", "DEC"},           {"TARGET_RA", "TARGET_DEC"}, {"ALPHA", "DELTA"},     {"RA_DEG", "DEC_DEG"},
        {"ALPHA_J2000", "DELTA_J2000"}, {"RAJ2000", "DEJ2000"}, {"RA_ICRS", "DE_ICRS"}, {"PLUG_RA", "PLUG_DEC"}};
    for (const auto& [ra, dec] : kPositionPairs) {
        const int i = indexOf(u, ra), j = indexOf(u, dec);
        if (i >= 0 && j >= 0) {
            r.ra = i;
            r.dec = j;
            break;
        }
    }
    r.targetid = indexOf(u, "TARGETID");
    r.objno = indexOf(u, "OBJNO");
    r.release = indexOf(u, "RELEASE");
    r.brickid = indexOf(u, "BRICKID");
    r.objid = indexOf(u, "OBJID");
    r.plate = indexOf(u, "PLATE");
    r.mjd = indexOf(u, "MJD");
    r.fiberid = indexOf(u, "FIBERID");
    for (const char* idName : {"ID", "OBJID", "OBJECT_ID", "SOURCE_ID", "OBJ_ID"})
        if ((r.id = indexOf(u, idName)) >= 0) break;
    return r;
}

std::string tableStem(const std::string& path) {
    std::string base = pathBaseName(path);
    const size_t dot = base.find('.');
    return toLower(dot == std::string::npos ? base : base.substr(0, dot));
}

ReadResult tableToObjects(const ColumnarTable& t) {
    std::vector<std::string> names;
    for (const auto& c : t.columns) names.push_back(c.name);
    const TableRoles roles = findTableRoles(names);
    const auto col = [&](int i) -> const TableColumn& { return t.columns[size_t(i)]; };
    const bool lsKey = roles.release >= 0 && roles.brickid >= 0 && roles.objid >= 0;
    const bool sdssKey = roles.plate >= 0 && roles.mjd >= 0 && roles.fiberid >= 0;

    // Text columns whose first non-empty cell names a FITS file give file:<basename> keys —
    // only when no two rows name the same file: a file shared by many rows (a multi-object
    // spectrum file) says nothing about which object is which, and a shared key would merge them.
    std::vector<int> fileColumns;
    for (size_t i = 0; i < t.columns.size(); ++i) {
        const auto& c = t.columns[i];
        if (c.type != TableColumn::Type::Text) continue;
        for (long r = 0; r < t.nrows; ++r) {
            const std::string v = trimmed(c.texts[size_t(r)]);
            if (v.empty()) continue;
            if (looksLikeFitsFileName(v)) fileColumns.push_back(int(i));
            break;
        }
    }
    std::erase_if(fileColumns, [&](int i) {
        std::unordered_set<std::string> seen;
        for (const auto& v : t.columns[size_t(i)].texts) {
            const std::string base = pathBaseName(trimmed(v));
            if (!base.empty() && !seen.insert(base).second) return true;
        }
        return false;
    });
    // Columns visited in name order so each row's map is built by appending at its end.
    std::vector<std::pair<std::string, size_t>> byName;
    for (size_t i = 0; i < t.columns.size(); ++i) byName.emplace_back(toLower(trimmed(t.columns[i].name)), i);
    std::sort(byName.begin(), byName.end());

    static const std::regex deep2Id(R"(^(?:deimos|deep2)[_:-]?(\d{8})$)", std::regex::icase);
    const std::string sourceFile = absolutePath(t.path);
    ReadResult result;
    result.objects.reserve(size_t(t.nrows));
    long dropped = 0, badPosition = 0;
    for (long r = 0; r < t.nrows; ++r) {
        ObjectRecord obj;
        obj.sourceFile = sourceFile;
        bool surveyKey = false;
        if (roles.targetid >= 0)
            if (auto v = keyText(col(roles.targetid), r); !v.empty()) {
                obj.keys.push_back("desi:targetid:" + v);
                surveyKey = true;
            }
        if (roles.objno >= 0)
            if (auto v = keyText(col(roles.objno), r); !v.empty()) {
                obj.keys.push_back("deep2:" + v);
                surveyKey = true;
            }
        if (lsKey) {
            const auto a = keyText(col(roles.release), r), b = keyText(col(roles.brickid), r),
                       c = keyText(col(roles.objid), r);
            if (!a.empty() && !b.empty() && !c.empty()) {
                obj.keys.push_back("ls:" + a + "-" + b + "-" + c);
                surveyKey = true;
            }
        }
        if (sdssKey) {
            const auto a = keyText(col(roles.plate), r), b = keyText(col(roles.mjd), r), c = keyText(col(roles.fiberid), r);
            if (!a.empty() && !b.empty() && !c.empty()) {
                obj.keys.push_back("sdss:" + a + "-" + b + "-" + c);
                surveyKey = true;
            }
        }
        if (roles.id >= 0 && !(lsKey && roles.id == roles.objid))
            if (auto v = keyText(col(roles.id), r); !v.empty()) {
                std::smatch m;
                if ((v[0] == 'd' || v[0] == 'D') && std::regex_match(v, m, deep2Id)) obj.keys.push_back("deep2:" + m[1].str());
                else if (!surveyKey) obj.keys.push_back(t.idNamespace + ":" + v);
            }
        for (int fc : fileColumns) {
            const std::string v = trimmed(col(fc).texts[size_t(r)]);
            if (looksLikeFitsFileName(v)) obj.keys.push_back("file:" + pathBaseName(v));
        }
        if (roles.hasPosition()) {
            auto ra = realOf(col(roles.ra), r), dec = realOf(col(roles.dec), r);
            if (ra && dec && *dec >= -90 && *dec <= 90 && *ra >= -360 && *ra <= 720) {
                // Wrap only values outside [0, 360): arithmetic on valid values would round them.
                double wrapped = std::fmod(*ra, 360.0);
                if (wrapped < 0) wrapped += 360.0;
                obj.ra = *ra >= 0 && *ra < 360 ? *ra : wrapped;
                obj.dec = *dec;
            } else if (!isNull(col(roles.ra), r) || !isNull(col(roles.dec), r)) {
                ++badPosition;
            }
        }
        if (obj.keys.empty() && !obj.ra) {
            ++dropped;
            continue;
        }
        auto& values = t.truth ? obj.truth : obj.columns;
        for (const auto& [name, i] : byName) values.emplace_hint(values.end(), name, valueOf(t.columns[i], r));
        result.objects.push_back(std::move(obj));
    }
    if (badPosition)
        result.warnings.push_back(std::to_string(badPosition) + " rows with a missing or impossible RA/Dec kept without position");
    if (dropped)
        result.warnings.push_back(std::to_string(dropped) + " rows with neither id nor valid position skipped");
    return result;
}

} // namespace astroclip::readers
