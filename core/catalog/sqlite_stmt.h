#pragma once
// Thin RAII layer over the SQLite C API for the catalog's own files (not a public header:
// nobody outside core/catalog speaks SQL). Every failure becomes a CatalogError that names
// the catalog file, what was being done and SQLite's reason.
#include "core/data/records.h"

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace astroclip::sql {

// Throws CatalogError "<file>: <doing>: <sqlite message>" for the connection's last error.
[[noreturn]] void fail(sqlite3* db, std::string_view doing);
[[noreturn]] void fail(sqlite3* db, std::string_view doing, int rc);

// Runs one or more statements that return no rows we need (DDL, PRAGMA setters, BEGIN).
void exec(sqlite3* db, const std::string& sql, std::string_view doing);

// A prepared statement. Cached statements are prepared once with SQLITE_PREPARE_PERSISTENT
// and reused; a Use guard resets them after each use so they hold no read lock.
class Stmt {
public:
    Stmt() = default;
    Stmt(sqlite3* db, std::string_view sql, bool persistent = false);
    ~Stmt();
    Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    // Parameters are 1-based as in SQLite. Text and blobs are bound without copying: the
    // caller keeps them alive until the statement is reset (a Use guard does that).
    void bindNull(int i);
    void bind(int i, int64_t v);
    void bind(int i, int v) { bind(i, static_cast<int64_t>(v)); }
    void bind(int i, double v);
    void bind(int i, std::string_view v);
    void bind(int i, const std::string& v) { bind(i, std::string_view(v)); }
    void bind(int i, const char* v) { bind(i, std::string_view(v)); }
    void bind(int i, const Value& v);
    void bindBlob(int i, const void* data, size_t bytes);  // bytes == 0 binds an empty blob
    template <typename T> void bindArray(int i, std::span<const T> a) { bindBlob(i, a.data(), a.size_bytes()); }

    // true: a row is ready; false: done. Throws CatalogError naming `doing`.
    bool step(std::string_view doing);
    // Runs a statement expected to return no rows.
    void run(std::string_view doing) { step(doing); reset(); }
    void reset();

    bool isNull(int col) const;
    int64_t int64(int col) const;
    double real(int col) const;
    std::string text(int col) const;
    Value value(int col) const;
    std::span<const unsigned char> blob(int col) const;

    int parameterCount() const;
    sqlite3_stmt* get() const { return s_; }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* s_ = nullptr;
};

// Resets a (usually cached) statement when the scope ends, also when an exception leaves it.
class Use {
public:
    explicit Use(Stmt& s) : s_(s) {}
    ~Use() { s_.reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
private:
    Stmt& s_;
};

// "name" with embedded quotes doubled. Only ever applied to names the catalog validated.
std::string quoteIdentifier(std::string_view name);

} // namespace astroclip::sql
