// Label sets (tables label_sets and labels, schema 2): what users say about objects in the
// Label tab and `astroclip label` — a class per object ("tidal", "none") or a number. A batch
// of labels is one transaction and all or nothing, so an import with one bad row stores none.
// A class is text and a value a finite number: the few-shot head and exports rely on that.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"

#include <cmath>
#include <unordered_set>

namespace astroclip {

namespace {

void requireLabelTables(const std::string& path, int version) {
    if (version < 2)
        throw CatalogError(path + ": catalog schema " + std::to_string(version) +
                           " has no label sets; open it with this build to upgrade it");
}

constexpr const char* kSetQuery =
    "SELECT s.id, s.name, s.kind, s.description, s.created, "
    "(SELECT count(*) FROM labels l WHERE l.label_set_id = s.id) FROM label_sets s";

LabelSetRecord readSet(const sql::Stmt& q) {
    LabelSetRecord s;
    s.id = q.int64(0);
    s.name = q.text(1);
    s.kind = q.text(2);
    s.description = q.text(3);
    s.created = q.int64(4);
    s.count = q.int64(5);
    return s;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Why `value` cannot label an object in a set of `kind`, or "" when it can.
std::string refusal(const std::string& kind, const Value& value) {
    if (kind == "class") {
        const auto* text = std::get_if<std::string>(&value);
        if (!text) return "a class set takes a class name (text), not a number or nothing";
        if (blank(*text)) return "a class name cannot be empty";
        return "";
    }
    if (const auto* d = std::get_if<double>(&value)) return std::isfinite(*d) ? "" : "a value must be a finite number";
    if (std::holds_alternative<int64_t>(value)) return "";
    return "a value set takes a number, not text or nothing";
}

} // namespace

int64_t Catalog::createLabelSet(const std::string& name, const std::string& kind, const std::string& description) {
    Impl& I = *impl_;
    requireLabelTables(I.path, I.version);
    if (blank(name)) throw UsageError(I.path + ": a label set needs a name");
    if (kind != "class" && kind != "value")
        throw UsageError(I.path + ": label set '" + name + "' must be of kind class or value (got '" + kind + "')");
    Transaction tx(*this);
    if (labelSet(name))
        throw UsageError(I.path + ": a label set called '" + name + "' exists already; choose another name");
    auto& s = I.stmt("INSERT INTO label_sets(name, kind, description) VALUES (?1, ?2, ?3)");
    {
        sql::Use u(s);
        s.bind(1, name);
        s.bind(2, kind);
        s.bind(3, description);
        s.step("creating label set '" + name + "'");
    }
    const int64_t id = sqlite3_last_insert_rowid(I.db);
    tx.commit();
    return id;
}

std::optional<LabelSetRecord> Catalog::labelSet(const std::string& name) {
    requireLabelTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string(kSetQuery) + " WHERE s.name = ?1");
    sql::Use u(q);
    q.bind(1, name);
    if (!q.step("reading a label set")) return std::nullopt;
    return readSet(q);
}

std::optional<LabelSetRecord> Catalog::labelSet(int64_t id) {
    requireLabelTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string(kSetQuery) + " WHERE s.id = ?1");
    sql::Use u(q);
    q.bind(1, id);
    if (!q.step("reading a label set")) return std::nullopt;
    return readSet(q);
}

std::vector<LabelSetRecord> Catalog::labelSets() {
    requireLabelTables(impl_->path, impl_->version);
    auto& q = impl_->stmt(std::string(kSetQuery) + " ORDER BY s.name");
    sql::Use u(q);
    std::vector<LabelSetRecord> sets;
    while (q.step("listing label sets")) sets.push_back(readSet(q));
    return sets;
}

void Catalog::setLabels(int64_t labelSetId, const std::vector<LabelRecord>& labels) {
    Impl& I = *impl_;
    requireLabelTables(I.path, I.version);
    const auto set = labelSet(labelSetId);
    if (!set) throw UsageError(I.path + ": no label set with id " + std::to_string(labelSetId));
    const std::string where = I.path + ": label set '" + set->name + "': ";
    std::unordered_set<int64_t> seen;
    for (const auto& l : labels) {
        if (const std::string why = refusal(set->kind, l.value); !why.empty())
            throw UsageError(where + "object " + std::to_string(l.objectId) + ": " + why + "; nothing was labelled");
        if (!seen.insert(l.objectId).second)
            throw UsageError(where + "object " + std::to_string(l.objectId) +
                             " is labelled twice in one batch; nothing was labelled");
    }
    if (labels.empty()) return;

    Transaction tx(*this);
    auto& exists = I.stmt("SELECT 1 FROM objects WHERE id = ?1");
    auto& upsert = I.stmt("INSERT OR REPLACE INTO labels(label_set_id, object_id, value, source) VALUES (?1, ?2, ?3, ?4)");
    for (const auto& l : labels) {
        {
            sql::Use u(exists);
            exists.bind(1, l.objectId);
            if (!exists.step("checking an object exists"))
                throw UsageError(where + "no object with id " + std::to_string(l.objectId) + "; nothing was labelled");
        }
        sql::Use u(upsert);
        upsert.bind(1, labelSetId);
        upsert.bind(2, l.objectId);
        upsert.bind(3, l.value);
        upsert.bind(4, l.source);
        upsert.step("storing a label");
    }
    tx.commit();
}

int64_t Catalog::removeLabels(int64_t labelSetId, const std::vector<int64_t>& objectIds) {
    Impl& I = *impl_;
    requireLabelTables(I.path, I.version);
    if (!labelSet(labelSetId)) throw UsageError(I.path + ": no label set with id " + std::to_string(labelSetId));
    Transaction tx(*this);
    auto& d = I.stmt("DELETE FROM labels WHERE label_set_id = ?1 AND object_id = ?2");
    int64_t removed = 0;
    for (const int64_t id : objectIds) {
        sql::Use u(d);
        d.bind(1, labelSetId);
        d.bind(2, id);
        d.step("removing a label");
        removed += sqlite3_changes64(I.db);
    }
    tx.commit();
    return removed;
}

std::vector<LabelRecord> Catalog::labels(int64_t labelSetId) {
    Impl& I = *impl_;
    requireLabelTables(I.path, I.version);
    if (!labelSet(labelSetId)) throw UsageError(I.path + ": no label set with id " + std::to_string(labelSetId));
    auto& q = I.stmt("SELECT object_id, value, source FROM labels WHERE label_set_id = ?1 ORDER BY object_id");
    sql::Use u(q);
    q.bind(1, labelSetId);
    std::vector<LabelRecord> out;
    while (q.step("reading labels")) out.push_back({q.int64(0), q.value(1), q.text(2)});
    return out;
}

bool Catalog::deleteLabelSet(int64_t labelSetId) {
    Impl& I = *impl_;
    requireLabelTables(I.path, I.version);
    Transaction tx(*this);
    // The labels go first explicitly: the cascade holds only where foreign keys are enforced.
    auto& dl = I.stmt("DELETE FROM labels WHERE label_set_id = ?1");
    {
        sql::Use u(dl);
        dl.bind(1, labelSetId);
        dl.step("deleting a label set's labels");
    }
    auto& ds = I.stmt("DELETE FROM label_sets WHERE id = ?1");
    int64_t removed = 0;
    {
        sql::Use u(ds);
        ds.bind(1, labelSetId);
        ds.step("deleting a label set");
        removed = sqlite3_changes64(I.db);
    }
    tx.commit();
    return removed > 0;
}

} // namespace astroclip
