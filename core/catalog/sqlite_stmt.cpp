#include "core/catalog/sqlite_stmt.h"

#include "core/common/error.h"

#include <cassert>

namespace astroclip::sql {

namespace {
std::string catalogName(sqlite3* db) {
    const char* f = db ? sqlite3_db_filename(db, "main") : nullptr;
    return f && *f ? f : "catalog";
}
} // namespace

void fail(sqlite3* db, std::string_view doing, int rc) {
    std::string msg = catalogName(db) + ": " + std::string(doing) + ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        msg += " (another program is writing to this catalog; try again when it has finished)";
    else if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        msg += " (the file is not an intact AstroCLIP catalog)";
    else if (primary == SQLITE_FULL)
        msg += " (the disk is full)";
    else if (primary == SQLITE_READONLY)
        msg += " (the catalog cannot be written here)";
    throw CatalogError(msg);
}

void fail(sqlite3* db, std::string_view doing) {
    fail(db, doing, db ? sqlite3_extended_errcode(db) : SQLITE_ERROR);
}

void exec(sqlite3* db, const std::string& sql, std::string_view doing) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);  // sqlite3_errmsg(db) carries the same text
    if (rc != SQLITE_OK) fail(db, doing, rc);
}

Stmt::Stmt(sqlite3* db, std::string_view sql, bool persistent) : db_(db) {
    const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &s_, nullptr);
    if (rc != SQLITE_OK) fail(db, "preparing a query", rc);
}

Stmt::~Stmt() { sqlite3_finalize(s_); }

Stmt& Stmt::operator=(Stmt&& o) noexcept {
    if (this != &o) {
        sqlite3_finalize(s_);
        db_ = o.db_;
        s_ = o.s_;
        o.s_ = nullptr;
    }
    return *this;
}

// Binding only fails for an index out of range or a too-large value: both are the catalog's
// own mistakes or absurd input, reported the same way.
#define ASTROCLIP_CHECK_BIND(expr) do { if (const int rc_ = (expr); rc_ != SQLITE_OK) fail(db_, "binding a value", rc_); } while (0)

void Stmt::bindNull(int i) { ASTROCLIP_CHECK_BIND(sqlite3_bind_null(s_, i)); }
void Stmt::bind(int i, int64_t v) { ASTROCLIP_CHECK_BIND(sqlite3_bind_int64(s_, i, v)); }
void Stmt::bind(int i, double v) { ASTROCLIP_CHECK_BIND(sqlite3_bind_double(s_, i, v)); }
void Stmt::bind(int i, std::string_view v) {
    ASTROCLIP_CHECK_BIND(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
}
void Stmt::bindBlob(int i, const void* data, size_t bytes) {
    if (bytes == 0) ASTROCLIP_CHECK_BIND(sqlite3_bind_zeroblob(s_, i, 0));
    else ASTROCLIP_CHECK_BIND(sqlite3_bind_blob64(s_, i, data, bytes, SQLITE_STATIC));
}
void Stmt::bind(int i, const Value& v) {
    if (const auto* n = std::get_if<int64_t>(&v)) bind(i, *n);
    else if (const auto* d = std::get_if<double>(&v)) bind(i, *d);
    else if (const auto* s = std::get_if<std::string>(&v)) bind(i, std::string_view(*s));
    else bindNull(i);
}
#undef ASTROCLIP_CHECK_BIND

bool Stmt::step(std::string_view doing) {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(s_);
    fail(db_, doing, rc);
}

void Stmt::reset() {
    if (!s_) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);  // no dangling pointers to the caller's text stay bound
}

bool Stmt::isNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
int64_t Stmt::int64(int col) const { return sqlite3_column_int64(s_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(s_, col); }

std::string Stmt::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

Value Stmt::value(int col) const {
    switch (sqlite3_column_type(s_, col)) {
    case SQLITE_INTEGER: return int64(col);
    case SQLITE_FLOAT: return real(col);
    case SQLITE_TEXT: return text(col);
    case SQLITE_BLOB: {
        const auto b = blob(col);
        return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    }
    default: return std::monostate{};
    }
}

std::span<const unsigned char> Stmt::blob(int col) const {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s_, col));
    const int n = sqlite3_column_bytes(s_, col);
    return p ? std::span<const unsigned char>(p, static_cast<size_t>(n)) : std::span<const unsigned char>();
}

int Stmt::parameterCount() const { return sqlite3_bind_parameter_count(s_); }

std::string quoteIdentifier(std::string_view name) {
    std::string q = "\"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    q += '"';
    return q;
}

} // namespace astroclip::sql
