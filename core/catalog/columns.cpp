// Catalogue and truth columns: naming, the registry (object_columns), and the queries that
// read them (select, value, numbers, columns, object).
//
// Naming: a reader's column name is lower-cased and every character outside [a-z0-9_]
// becomes '_' ("FLUX-G" → "flux_g"); a leading digit gets a '_' in front ("2mass_j" →
// "_2mass_j"). Truth columns are stored as "truth_" + name. A catalogue column whose name
// is a field of the object itself (id, ra, dec, source_file_id) or starts with "truth_" is
// stored as "cat_" + name ("ra" → "cat_ra"), so it can never clobber the object's own
// position or pose as truth.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"
#include "core/catalog/where.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace astroclip {

namespace {

constexpr std::string_view kUserFields[] = {"id", "ra", "dec"};  // object fields a user may query

std::string normaliseName(std::string_view name) {
    std::string n;
    n.reserve(name.size() + 1);
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 'A' && c <= 'Z') n += static_cast<char>(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') n += static_cast<char>(c);
        else n += '_';
    }
    if (!n.empty() && n[0] >= '0' && n[0] <= '9') n.insert(n.begin(), '_');
    return n;
}

const char* typeOf(const Value& v) {
    if (std::holds_alternative<int64_t>(v)) return "integer";
    if (std::holds_alternative<double>(v)) return "real";
    return "text";
}

bool isMissing(const Value& v) {
    if (std::holds_alternative<std::monostate>(v)) return true;
    const auto* d = std::get_if<double>(&v);
    return d && std::isnan(*d);  // SQLite stores NaN as NULL anyway
}

size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

} // namespace

void Catalog::Impl::loadColumns() {
    StringMap<bool> present;
    columnOrder.clear();
    sql::Stmt q(db, "SELECT name, kind, type FROM object_columns ORDER BY rowid");
    while (q.step("reading the column registry")) {
        std::string name = q.text(0);
        auto [it, added] = columns.try_emplace(name);
        ColumnSlot& slot = it->second;
        if (added) {
            slot.name = name;
            slot.quoted = sql::quoteIdentifier(name);
        }
        slot.kind = q.text(1);
        slot.type = q.text(2);
        present.emplace(name, true);
        columnOrder.push_back(std::move(name));
    }
    std::erase_if(columns, [&](const auto& kv) { return !present.contains(kv.first); });
}

const std::string& Catalog::Impl::sqlNameFor(const std::string& readerName, bool truth, const std::string& sourceFile) {
    auto& cache = truth ? truthNames : catalogNames;
    if (auto it = cache.find(readerName); it != cache.end()) return it->second;
    std::string n = normaliseName(readerName);
    if (n.empty()) {
        const std::string problem = std::string(truth ? "a truth" : "a catalogue") + " column without a name";
        if (!sourceFile.empty()) throw FileError(sourceFile, problem);
        throw CatalogError(path + ": cannot store " + problem);
    }
    if (truth) {
        n.insert(0, schema::kTruthPrefix);
    } else {
        const bool reserved = n.starts_with(schema::kTruthPrefix) ||
                              std::find(std::begin(schema::kObjectFields), std::end(schema::kObjectFields), n) !=
                                  std::end(schema::kObjectFields);
        if (reserved) n.insert(0, schema::kRenamedPrefix);
    }
    return cache.emplace(readerName, std::move(n)).first->second;
}

ColumnSlot& Catalog::Impl::ensureColumn(const std::string& sqlName, bool truth, const Value& v) {
    const char* kind = truth ? "truth" : "catalog";
    auto it = columns.find(sqlName);
    if (it == columns.end()) {
        loadColumns();  // another connection may have added it since we last looked
        it = columns.find(sqlName);
    }
    if (it == columns.end()) {
        const char* type = typeOf(v);
        const std::string quoted = sql::quoteIdentifier(sqlName);
        const char* affinity = type[0] == 'i' ? "INTEGER" : type[0] == 'r' ? "REAL" : "TEXT";
        sql::exec(db, "ALTER TABLE objects ADD COLUMN " + quoted + " " + affinity,
                  "adding column '" + sqlName + "'");
        {
            auto& ins = stmt("INSERT INTO object_columns(name, kind, type) VALUES (?1, ?2, ?3)");
            sql::Use u(ins);
            ins.bind(1, sqlName);
            ins.bind(2, kind);
            ins.bind(3, type);
            ins.step("registering column '" + sqlName + "'");
        }
        ColumnSlot& slot = columns[sqlName];
        slot = ColumnSlot{sqlName, kind, type, quoted};
        columnOrder.push_back(sqlName);
        return slot;
    }
    ColumnSlot& slot = it->second;
    if (slot.kind != kind)  // names are built so that this cannot happen; a hand-edited file
        throw CatalogError(path + ": column '" + sqlName + "' is registered as " + slot.kind + ", not " + kind);
    if (slot.type == "integer" && std::holds_alternative<double>(v)) {
        // A column first seen with whole numbers gets a real value: widen it. SQLite keeps
        // each value as given, so the integers already stored stay exact.
        auto& up = stmt("UPDATE object_columns SET type = 'real' WHERE name = ?1");
        sql::Use u(up);
        up.bind(1, sqlName);
        up.step("widening column '" + sqlName + "' to real");
        slot.type = "real";
    }
    return slot;
}

void Catalog::Impl::collectRowValues(const ObjectRecord& rec) {
    rowValues.clear();
    ++rowStamp;
    size_t k = 0;  // position among the record's non-null values
    bool same = true;
    const auto collect = [&](const std::map<std::string, Value>& values, bool truth) {
        for (const auto& [name, value] : values) {
            if (isMissing(value)) continue;  // nothing to store; never erases a known value
            ColumnSlot* slot = nullptr;
            if (same && k < lastRow.size() && lastRow[k].truth == truth && lastRow[k].readerName == name) {
                slot = lastRow[k].slot;
                if (slot->type[0] == 'i' && std::holds_alternative<double>(value))
                    slot = &ensureColumn(slot->name, truth, value);  // widens the column
            } else {
                if (same) lastRow.resize(k);
                same = false;
                slot = &ensureColumn(sqlNameFor(name, truth, rec.sourceFile), truth, value);
                lastRow.push_back({name, truth, slot});
            }
            ++k;
            if (slot->seenInRow == rowStamp) {  // two names of one record normalise alike
                if (warnedDuplicates.try_emplace(slot->name, true).second)
                    logWarning((rec.sourceFile.empty() ? path : rec.sourceFile) + ": two columns are both stored as '" +
                               slot->name + "'; keeping the first ('" + name + "' is dropped)");
                continue;
            }
            slot->seenInRow = rowStamp;
            rowValues.emplace_back(slot, &value);
        }
    };
    collect(rec.columns, false);
    collect(rec.truth, true);
    if (k != lastRow.size()) {
        lastRow.resize(k);
        same = false;
    }
    rowMatchesLast = same;
}

const std::string& Catalog::Impl::columnSignature() {
    signature.clear();
    for (const auto& [slot, value] : rowValues) {
        signature += slot->name;
        signature += ',';
    }
    return signature;
}

std::string Catalog::Impl::resolveUserColumn(const std::string& userName) {
    std::string lower = userName;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto f : kUserFields)
        if (lower == f) return sql::quoteIdentifier(lower);
    auto it = columns.find(lower);
    if (it == columns.end()) {
        loadColumns();
        it = columns.find(lower);
    }
    if (it != columns.end()) return it->second.quoted;

    std::vector<std::string> known(std::begin(kUserFields), std::end(kUserFields));
    known.insert(known.end(), columnOrder.begin(), columnOrder.end());
    std::string best;
    size_t bestDistance = (lower.size() <= 4 ? 1 : 2) + 1;  // suggest only near misses
    for (const auto& k : known)
        if (const size_t d = editDistance(lower, k); d < bestDistance) {
            bestDistance = d;
            best = k;
        }
    std::string msg = "unknown column '" + userName + "'";
    msg += best.empty() ? "; known columns: " : "; did you mean '" + best + "'? Known columns: ";
    constexpr size_t kListed = 12;
    for (size_t i = 0; i < known.size() && i < kListed; ++i) msg += (i ? ", " : "") + known[i];
    if (known.size() > kListed) msg += " and " + std::to_string(known.size() - kListed) + " more (see `astroclip info`)";
    throw UsageError(msg);
}

// ---------------------------------------------------------------- queries

std::vector<ColumnInfo> Catalog::columns() {
    Impl& I = *impl_;
    I.loadColumns();
    std::vector<ColumnInfo> out;
    // One scan of the objects table per chunk of columns (SQLite allows 2000 result columns).
    constexpr size_t kPerQuery = 500;
    for (size_t first = 0; first < I.columnOrder.size(); first += kPerQuery) {
        const size_t last = std::min(I.columnOrder.size(), first + kPerQuery);
        std::string select;
        for (size_t i = first; i < last; ++i) {
            const ColumnSlot& c = I.columns.at(I.columnOrder[i]);
            const std::string& q = c.quoted;
            if (!select.empty()) select += ", ";
            if (c.type == "text")
                select += "count(" + q + "), min(CASE WHEN typeof(" + q + ") = 'text' THEN " + q + " END), NULL";
            else  // min/max over the numbers only; a stray text value would sort above them
                select += "count(" + q + "), min(CASE WHEN typeof(" + q + ") IN ('integer', 'real') THEN " + q +
                          " END), max(CASE WHEN typeof(" + q + ") IN ('integer', 'real') THEN " + q + " END)";
        }
        sql::Stmt s(I.db, "SELECT " + select + " FROM objects");
        s.step("summarising columns");
        for (size_t i = first; i < last; ++i) {
            const ColumnSlot& c = I.columns.at(I.columnOrder[i]);
            const int col = static_cast<int>(3 * (i - first));
            ColumnInfo info{c.name, c.kind, c.type, s.int64(col), std::nullopt, std::nullopt, std::nullopt};
            if (c.type == "text") {
                if (!s.isNull(col + 1)) info.example = s.text(col + 1);
            } else if (!s.isNull(col + 1)) {
                info.min = s.real(col + 1);
                info.max = s.real(col + 2);
            }
            out.push_back(std::move(info));
        }
    }
    return out;
}

std::vector<int64_t> Catalog::select(const std::string& where) {
    Impl& I = *impl_;
    std::vector<int64_t> ids;
    if (where.find_first_not_of(" \t\r\n") == std::string::npos) {
        auto& all = I.stmt("SELECT id FROM objects ORDER BY id");
        sql::Use u(all);
        while (all.step("selecting objects")) ids.push_back(all.int64(0));
        return ids;
    }
    const SqlFilter filter = parseWhere(where, [&](const std::string& name) { return I.resolveUserColumn(name); });
    sql::Stmt s(I.db, "SELECT id FROM objects WHERE " + filter.sql + " ORDER BY id");
    for (size_t i = 0; i < filter.params.size(); ++i) s.bind(static_cast<int>(i + 1), filter.params[i]);
    while (s.step("selecting objects")) ids.push_back(s.int64(0));
    return ids;
}

Value Catalog::value(int64_t id, const std::string& column) {
    Impl& I = *impl_;
    auto& q = I.stmt("SELECT " + I.resolveUserColumn(column) + " FROM objects WHERE id = ?1");
    sql::Use u(q);
    q.bind(1, id);
    if (!q.step("reading a value")) throw CatalogError(I.path + ": no object with id " + std::to_string(id));
    return q.value(0);
}

std::vector<double> Catalog::numbers(const std::vector<int64_t>& ids, const std::string& column) {
    Impl& I = *impl_;
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    const std::string col = I.resolveUserColumn(column);
    const auto number = [](const sql::Stmt& s, int c) {
        const int t = sqlite3_column_type(s.get(), c);
        return t == SQLITE_INTEGER || t == SQLITE_FLOAT ? s.real(c) : kNaN;  // null, text → NaN
    };
    const auto missing = [&](int64_t id) {
        return CatalogError(I.path + ": no object with id " + std::to_string(id));
    };
    std::vector<double> out(ids.size(), kNaN);
    // Many ascending ids (what select() returns): one ordered scan merged with the list beats
    // a lookup per id. Few or unordered ids: a lookup each.
    if (ids.size() > 4096 && std::is_sorted(ids.begin(), ids.end())) {
        sql::Stmt s(I.db, "SELECT id, " + col + " FROM objects WHERE id BETWEEN ?1 AND ?2 ORDER BY id");
        s.bind(1, ids.front());
        s.bind(2, ids.back());
        size_t i = 0;
        while (i < ids.size() && s.step("reading column values")) {
            const int64_t rowId = s.int64(0);
            if (rowId < ids[i]) continue;
            if (rowId > ids[i]) throw missing(ids[i]);
            const double v = number(s, 1);
            for (; i < ids.size() && ids[i] == rowId; ++i) out[i] = v;  // repeated ids allowed
        }
        if (i < ids.size()) throw missing(ids[i]);
        return out;
    }
    auto& q = I.stmt("SELECT " + col + " FROM objects WHERE id = ?1");
    for (size_t i = 0; i < ids.size(); ++i) {
        sql::Use u(q);
        q.bind(1, ids[i]);
        if (!q.step("reading column values")) throw missing(ids[i]);
        out[i] = number(q, 0);
    }
    return out;
}

ObjectRecord Catalog::object(int64_t id) {
    Impl& I = *impl_;
    ObjectRecord rec;
    {
        auto& q = I.stmt("SELECT o.*, f.path FROM objects o LEFT JOIN source_files f ON f.id = o.source_file_id "
                         "WHERE o.id = ?1");
        sql::Use u(q);
        q.bind(1, id);
        if (!q.step("reading an object")) throw CatalogError(I.path + ": no object with id " + std::to_string(id));
        const int n = sqlite3_column_count(q.get());
        for (int c = 0; c < n - 1; ++c) {
            const std::string name = sqlite3_column_name(q.get(), c);
            if (name == "ra" || name == "dec") {
                if (!q.isNull(c)) (name == "ra" ? rec.ra : rec.dec) = q.real(c);
                continue;
            }
            if (q.isNull(c) || name == "id" || name == "source_file_id") continue;
            auto slot = I.columns.find(name);
            if (slot == I.columns.end()) {  // added by another connection since we last looked
                I.loadColumns();
                slot = I.columns.find(name);
                if (slot == I.columns.end()) continue;
            }
            if (slot->second.kind == "truth")
                rec.truth[name.substr(schema::kTruthPrefix.size())] = q.value(c);
            else
                rec.columns[name] = q.value(c);
        }
        if (!q.isNull(n - 1)) rec.sourceFile = q.text(n - 1);
    }
    rec.keys = objectKeys(id);
    rec.images = images(id);
    rec.spectra = spectra(id);
    return rec;
}

} // namespace astroclip
