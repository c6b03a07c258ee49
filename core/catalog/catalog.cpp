// The catalog's life cycle, transactions and objects with their link keys.
#include "core/catalog/catalog.h"
#include "core/catalog/catalog_impl.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <cassert>
#include <cmath>

namespace astroclip {

// ---------------------------------------------------------------- life cycle

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

Catalog Catalog::open(const std::string& path, bool create) {
    return Catalog(Impl::open(path, create, kSchemaVersion));
}

Catalog Catalog::openAtVersion(const std::string& path, int version) {
    if (version < 1 || version > kSchemaVersion)
        throw UsageError("catalog schema version " + std::to_string(version) + " does not exist (1.." +
                         std::to_string(kSchemaVersion) + ")");
    return Catalog(Impl::open(path, true, version));
}

Catalog::Impl::~Impl() {
    // Statements first: a connection with live statements would only close lazily.
    stmts.clear();
    for (auto& h : hot) h = sql::Stmt();
    insertObject.clear();
    updateObject.clear();
    if (db) sqlite3_close_v2(db);  // rolls back a transaction still open (a caller's bug)
}

const std::string& Catalog::path() const { return impl_->path; }
int Catalog::schemaVersion() { return impl_->version; }
sqlite3* Catalog::handle() { return impl_->db; }

sql::Stmt& Catalog::Impl::stmt(std::string_view sqlText) {
    auto it = stmts.find(sqlText);
    if (it == stmts.end()) it = stmts.emplace(std::string(sqlText), sql::Stmt(db, sqlText, true)).first;
    return it->second;
}

sql::Stmt& Catalog::Impl::hotStmt(Hot h) {
    static constexpr const char* kSql[kHotCount] = {
        "BEGIN IMMEDIATE", "SAVEPOINT nested", "COMMIT", "RELEASE nested",
        "INSERT INTO object_keys(key, object_id) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING"};
    if (!hot[h].get()) hot[h] = sql::Stmt(db, kSql[h], true);
    return hot[h];
}

// ---------------------------------------------------------------- transactions

void Catalog::Impl::begin() {
    // IMMEDIATE takes the write lock now, so two writers wait for each other at the start
    // (busy timeout) instead of failing half-way through a batch.
    if (txDepth == 0) hotStmt(kBegin).run("starting a transaction");
    else hotStmt(kSavepoint).run("starting a nested transaction");
    ++txDepth;
}

void Catalog::Impl::commit() {
    assert(txDepth > 0);
    if (sqlite3_get_autocommit(db))  // SQLite itself rolled everything back after an error
        throw CatalogError(path + ": the transaction was rolled back after an earlier error; nothing of it was stored");
    if (txDepth == 1) hotStmt(kCommit).run("committing a transaction");
    else hotStmt(kRelease).run("committing a nested transaction");
    --txDepth;
}

void Catalog::Impl::rollback() noexcept {
    assert(txDepth > 0);
    if (!sqlite3_get_autocommit(db)) {
        const char* sqlText = txDepth == 1 ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested";
        if (sqlite3_exec(db, sqlText, nullptr, nullptr, nullptr) != SQLITE_OK)
            logWarning(path + ": rolling back a transaction failed: " + sqlite3_errmsg(db));
    }
    --txDepth;
    forgetRowCaches();
}

void Catalog::Impl::forgetRowCaches() noexcept {
    // Rows and columns added in the rolled-back part are gone from the file: forget them here too.
    sourceFiles.clear();
    lastSourcePath.clear();
    lastSourceId = 0;
    lastRow.clear();
    lastInsert = nullptr;
    try {
        const size_t before = columnOrder.size();
        std::vector<std::string> types;
        for (const auto& n : columnOrder) types.push_back(columns.at(n).type);
        loadColumns();
        bool same = columnOrder.size() == before;
        for (size_t i = 0; same && i < before; ++i) same = columns.at(columnOrder[i]).type == types[i];
        if (!same) {
            insertObject.clear();
            updateObject.clear();
        }
    } catch (const std::exception& e) {
        logWarning(path + ": re-reading the column registry after a rollback failed: " + e.what());
    }
}

Catalog::Transaction::Transaction(Catalog& c) : c_(&c) { c_->impl_->begin(); }

Catalog::Transaction::~Transaction() {
    if (!done_) c_->impl_->rollback();
}

void Catalog::Transaction::commit() {
    assert(!done_);
    c_->impl_->commit();
    done_ = true;
}

// ---------------------------------------------------------------- objects

namespace {

// A reader's record that cannot be stored: blame its file when it names one.
[[noreturn]] void badRecord(const ObjectRecord& rec, const std::string& problem) {
    if (!rec.sourceFile.empty()) throw FileError(rec.sourceFile, problem);
    throw CatalogError(problem);
}

std::string describe(const ObjectRecord& rec) {
    return rec.keys.empty() ? std::string("an object") : "object " + rec.keys.front();
}

void checkPosition(const ObjectRecord& rec) {
    if (rec.ra.has_value() != rec.dec.has_value())
        badRecord(rec, describe(rec) + " has only one of ra and dec");
    if (!rec.ra) return;
    const double ra = *rec.ra, dec = *rec.dec;
    if (std::isnan(ra) != std::isnan(dec))  // both NaN means "no position", stored as NULL
        badRecord(rec, describe(rec) + " has only one of ra and dec");
    if (std::isinf(ra) || std::isinf(dec) || ra < -360 || ra > 360 || dec < -90 || dec > 90)
        badRecord(rec, describe(rec) + " has an impossible position (ra " + std::to_string(ra) + ", dec " +
                           std::to_string(dec) + " degrees)");
}

bool hasPosition(const ObjectRecord& rec) { return rec.ra && rec.dec && !std::isnan(*rec.ra) && !std::isnan(*rec.dec); }

} // namespace

int64_t Catalog::Impl::sourceFileId(const std::string& file) {
    if (lastSourceId && file == lastSourcePath) return lastSourceId;
    if (auto it = sourceFiles.find(file); it != sourceFiles.end()) {
        lastSourcePath = file;
        return lastSourceId = it->second;
    }
    {
        auto& ins = stmt("INSERT INTO source_files(path) VALUES (?1) ON CONFLICT(path) DO NOTHING");
        sql::Use u(ins);
        ins.bind(1, file);
        ins.step("recording a source file");
    }
    auto& q = stmt("SELECT id FROM source_files WHERE path = ?1");
    sql::Use u(q);
    q.bind(1, file);
    if (!q.step("finding a source file")) sql::fail(db, "recording a source file");
    const int64_t id = q.int64(0);
    sourceFiles.emplace(file, id);
    lastSourcePath = file;
    return lastSourceId = id;
}

void Catalog::Impl::addKeys(int64_t id, const std::vector<std::string>& keys, bool mustBeNew) {
    auto& ins = hotStmt(kInsertKey);
    for (const auto& key : keys) {
        if (key.empty()) throw CatalogError(path + ": object " + std::to_string(id) + ": an empty link key");
        {
            sql::Use u(ins);
            ins.bind(1, key);
            ins.bind(2, id);
            ins.step("adding a link key");
        }
        if (sqlite3_changes(db) > 0) continue;
        auto& owner = stmt("SELECT object_id FROM object_keys WHERE key = ?1");
        sql::Use u(owner);
        owner.bind(1, key);
        const int64_t other = owner.step("finding a link key") ? owner.int64(0) : id;
        if (other == id) continue;  // the same key twice in one record
        const std::string msg = "key '" + key + "' already belongs to object " + std::to_string(other);
        if (mustBeNew) throw CatalogError(path + ": cannot add a new object: " + msg);
        logWarning(path + ": object " + std::to_string(id) + ": " + msg + "; left with that object");
    }
}

void Catalog::Impl::undoObject(int64_t id) noexcept {
    try {
        auto& del = stmt("DELETE FROM objects WHERE id = ?1");  // keys, images, spectra cascade
        sql::Use u(del);
        del.bind(1, id);
        del.step("taking back a failed object");
    } catch (const std::exception& e) {
        logWarning(path + ": object " + std::to_string(id) + " was stored only in part; roll back the transaction (" +
                   e.what() + ")");
    }
}

int64_t Catalog::addObject(const ObjectRecord& rec) {
    checkPosition(rec);
    Impl& I = *impl_;
    // Alone, an object gets its own transaction. Inside a caller's transaction it gets no
    // savepoint (one per row cost 40 % of a bulk import): if it fails half-way, its object
    // row is deleted again and the cascades take its keys, images and spectra with it.
    std::optional<Transaction> own;
    if (I.txDepth == 0) own.emplace(*this);
    int64_t id = 0;
    try {
        I.collectRowValues(rec);
        // The same columns as the row before (the rule in a bulk import): the same statement.
        if (!(I.rowMatchesLast && I.lastInsert && I.lastInsertStamp + 1 == I.rowStamp)) {
            auto it = I.insertObject.find(I.columnSignature());
            if (it == I.insertObject.end()) {
                std::string names = "ra, dec, source_file_id", params = "?1, ?2, ?3";
                int n = 3;
                for (const auto& [slot, value] : I.rowValues) {
                    names += ", " + slot->quoted;
                    params += ", ?" + std::to_string(++n);
                }
                const std::string sqlText = "INSERT INTO objects(" + names + ") VALUES (" + params + ")";
                it = I.insertObject.emplace(I.signature, sql::Stmt(I.db, sqlText, true)).first;
            }
            I.lastInsert = &it->second;
        }
        I.lastInsertStamp = I.rowStamp;
        const int64_t sourceId = rec.sourceFile.empty() ? 0 : I.sourceFileId(rec.sourceFile);
        {
            sql::Stmt& s = *I.lastInsert;
            sql::Use u(s);
            if (hasPosition(rec)) {
                s.bind(1, *rec.ra);
                s.bind(2, *rec.dec);
            }  // else left NULL: reset() cleared the bindings
            if (sourceId) s.bind(3, sourceId);
            int n = 3;
            for (const auto& [slot, value] : I.rowValues) s.bind(++n, *value);
            s.step("adding an object");
        }
        id = sqlite3_last_insert_rowid(I.db);
        I.addKeys(id, rec.keys, true);
        for (const auto& img : rec.images) I.addImage(id, img);
        for (const auto& sp : rec.spectra) I.addSpectrum(id, sp);
    } catch (...) {
        if (id && !own && !sqlite3_get_autocommit(I.db)) I.undoObject(id);
        throw;  // with its own transaction, `own` rolls everything back
    }
    if (own) own->commit();
    return id;
}

void Catalog::mergeIntoObject(int64_t id, const ObjectRecord& rec) {
    checkPosition(rec);
    Impl& I = *impl_;
    Transaction tx(*this);
    bool positioned = false;
    {
        auto& q = I.stmt("SELECT ra IS NOT NULL AND dec IS NOT NULL FROM objects WHERE id = ?1");
        sql::Use u(q);
        q.bind(1, id);
        if (!q.step("finding an object")) throw CatalogError(I.path + ": no object with id " + std::to_string(id));
        positioned = q.int64(0) != 0;
    }
    if (!positioned && hasPosition(rec)) {
        auto& up = I.stmt("UPDATE objects SET ra = ?2, dec = ?3 WHERE id = ?1");
        sql::Use u(up);
        up.bind(1, id);
        up.bind(2, *rec.ra);
        up.bind(3, *rec.dec);
        up.step("setting an object's position");
    }
    I.addKeys(id, rec.keys, false);
    I.collectRowValues(rec);
    if (!I.rowValues.empty()) {
        auto it = I.updateObject.find(I.columnSignature());
        if (it == I.updateObject.end()) {
            std::string sets;
            int n = 1;
            for (const auto& [slot, value] : I.rowValues)
                sets += (sets.empty() ? "" : ", ") + slot->quoted + " = ?" + std::to_string(++n);
            const std::string sqlText = "UPDATE objects SET " + sets + " WHERE id = ?1";
            it = I.updateObject.emplace(I.signature, sql::Stmt(I.db, sqlText, true)).first;
        }
        sql::Stmt& s = it->second;
        sql::Use u(s);
        s.bind(1, id);
        int n = 1;
        for (const auto& [slot, value] : I.rowValues) s.bind(++n, *value);
        s.step("updating an object's columns");
    }
    for (const auto& img : rec.images) I.addImage(id, img);
    for (const auto& sp : rec.spectra) I.addSpectrum(id, sp);
    tx.commit();
}

std::optional<int64_t> Catalog::findObjectByKey(const std::string& key) {
    auto& q = impl_->stmt("SELECT object_id FROM object_keys WHERE key = ?1");
    sql::Use u(q);
    q.bind(1, key);
    if (!q.step("finding an object by key")) return std::nullopt;
    return q.int64(0);
}

std::vector<ObjectPosition> Catalog::objectPositions() {
    std::vector<ObjectPosition> out;
    auto& q = impl_->stmt("SELECT id, ra, dec FROM objects WHERE ra IS NOT NULL AND dec IS NOT NULL ORDER BY id");
    sql::Use u(q);
    while (q.step("reading object positions")) out.push_back({q.int64(0), q.real(1), q.real(2)});
    return out;
}

int64_t Catalog::objectCount() {
    auto& q = impl_->stmt("SELECT count(*) FROM objects");
    sql::Use u(q);
    q.step("counting objects");
    return q.int64(0);
}

std::vector<std::string> Catalog::objectKeys(int64_t id) {
    std::vector<std::string> out;
    auto& q = impl_->stmt("SELECT key FROM object_keys WHERE object_id = ?1 ORDER BY key");
    sql::Use u(q);
    q.bind(1, id);
    while (q.step("reading an object's keys")) out.push_back(q.text(0));
    return out;
}

std::optional<std::pair<double, double>> Catalog::objectPosition(int64_t id) {
    auto& q = impl_->stmt("SELECT ra, dec FROM objects WHERE id = ?1 AND ra IS NOT NULL AND dec IS NOT NULL");
    sql::Use u(q);
    q.bind(1, id);
    if (!q.step("reading an object's position")) return std::nullopt;
    return std::make_pair(q.real(0), q.real(1));
}

} // namespace astroclip
