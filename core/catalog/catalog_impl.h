#pragma once
// The catalog's private state, shared by its source files (catalog.cpp: objects and
// transactions; columns.cpp: the column registry and queries; data.cpp: images, spectra,
// files, info; schema.cpp: opening and migrations). Not a public header.
#include "core/catalog/catalog.h"
#include "core/catalog/sqlite_stmt.h"

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace astroclip {

// Hash/equality that let the statement and name caches be searched with a string_view or
// string literal without building a std::string per lookup.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// One registered catalogue or truth column of the objects table.
struct ColumnSlot {
    std::string name;     // SQL name, validated: [a-z_][a-z0-9_]*
    std::string kind;     // "catalog" or "truth"
    std::string type;     // "integer", "real" or "text" (from the first value stored)
    std::string quoted;   // "name", ready to paste into SQL
    uint64_t seenInRow = 0;  // stamp of the last row that used it (catches duplicate names)
};

namespace schema {
inline constexpr int32_t kApplicationId = 0x41434C50;  // "ACLP" in the SQLite file header
// Fields of the objects table itself; a catalogue column with one of these names, or one
// that starts with the truth prefix, is stored as "cat_" + name instead.
inline constexpr std::string_view kObjectFields[] = {"id", "ra", "dec", "source_file_id"};
inline constexpr std::string_view kTruthPrefix = "truth_";
inline constexpr std::string_view kRenamedPrefix = "cat_";
// Creates or upgrades the tables to `version` (1..Catalog::kSchemaVersion).
void migrate(sqlite3* db, const std::string& path, int version);
int userVersion(sqlite3* db);
int64_t pragmaInt(sqlite3* db, const char* pragma);  // PRAGMA whose value is one integer
} // namespace schema

struct Catalog::Impl {
    sqlite3* db = nullptr;
    std::string path;
    int version = 0;
    int txDepth = 0;  // 0 = autocommit; 1 = BEGIN; >1 = nested savepoints

    // Column registry (object_columns), mirrored in memory so inserts never ask the schema.
    StringMap<ColumnSlot> columns;         // SQL name → slot
    std::vector<std::string> columnOrder;  // registry order (first appearance)
    StringMap<std::string> catalogNames;   // a reader's catalogue name → SQL name
    StringMap<std::string> truthNames;     // a reader's truth name → SQL name

    StringMap<sql::Stmt> stmts;            // fixed SQL text → prepared statement
    // The statements of every addObject, kept apart from the map so a row costs no hashing.
    enum Hot { kBegin, kSavepoint, kCommit, kRelease, kInsertKey, kHotCount };
    std::array<sql::Stmt, kHotCount> hot;
    StringMap<sql::Stmt> insertObject;     // column signature → INSERT INTO objects ...
    StringMap<sql::Stmt> updateObject;     // column signature → UPDATE objects SET ...

    StringMap<int64_t> sourceFiles;        // path → source_files.id (cleared on rollback)
    std::string lastSourcePath;            // the previous record's file, usually the next one's
    int64_t lastSourceId = 0;

    // Scratch reused for every row, so a bulk insert allocates nothing per row.
    std::vector<std::pair<const ColumnSlot*, const Value*>> rowValues;
    std::string signature;                 // filled by columnSignature()
    uint64_t rowStamp = 0;
    // The previous record's column names, in order, with their slots: records of one file
    // name the same columns, so a row is matched by comparing names, without hashing.
    struct RowColumn { std::string readerName; bool truth; ColumnSlot* slot; };
    std::vector<RowColumn> lastRow;
    bool rowMatchesLast = false;           // this row's names equal the previous row's
    sql::Stmt* lastInsert = nullptr;       // INSERT for the names of row lastInsertStamp
    uint64_t lastInsertStamp = 0;
    StringMap<bool> warnedDuplicates;      // SQL names already warned about

    ~Impl();

    static std::unique_ptr<Impl> open(const std::string& path, bool create, int version);

    sql::Stmt& stmt(std::string_view sqlText);  // prepared once, then reused
    sql::Stmt& hotStmt(Hot h);
    void forgetRowCaches() noexcept;  // after a rollback: slots and statements may be gone

    // Transactions (Catalog::Transaction uses these): BEGIN IMMEDIATE at depth 0, savepoints
    // inside. After a rollback the in-memory registry is re-read, since DDL rolls back too.
    void begin();
    void commit();
    void rollback() noexcept;

    // --- column registry (columns.cpp) ---
    // Syncs the in-memory registry with the file: adds and updates slots in place (so slots
    // in use stay valid) and drops slots whose column is gone (after a rollback).
    void loadColumns();
    const std::string& sqlNameFor(const std::string& readerName, bool truth, const std::string& sourceFile);
    // Registers the column (ALTER TABLE) when new; widens integer → real when a real arrives.
    ColumnSlot& ensureColumn(const std::string& sqlName, bool truth, const Value& v);
    // Fills rowValues with the non-null columns and truth of rec, registering new columns.
    void collectRowValues(const ObjectRecord& rec);
    const std::string& columnSignature();  // of rowValues, a key for insertObject/updateObject
    // A user's column name (--where, value(), numbers()) → quoted SQL name, or UsageError.
    std::string resolveUserColumn(const std::string& userName);

    // --- objects (catalog.cpp) ---
    int64_t sourceFileId(const std::string& path);
    void addKeys(int64_t id, const std::vector<std::string>& keys, bool mustBeNew);
    void undoObject(int64_t id) noexcept;  // deletes a half-added object inside a transaction

    // --- data rows (data.cpp) ---
    void addImage(int64_t objectId, const ImageRecord& img);
    void addSpectrum(int64_t objectId, const SpectrumRecord& s);
};

} // namespace astroclip
