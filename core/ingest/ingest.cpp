#include "core/ingest/ingest.h"

#include "core/common/error.h"
#include "core/common/log.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

namespace astroclip {

namespace fs = std::filesystem;

const char* statusName(FileOutcome::Status s) {
    switch (s) {
    case FileOutcome::Status::Ok: return "ok";
    case FileOutcome::Status::Skipped: return "skipped";
    case FileOutcome::Status::Failed: return "failed";
    }
    return "?";
}

// ---------------------------------------------------------------- SkyMatcher

SkyMatcher::SkyMatcher(double radiusArcsec) {
    const double r = radiusArcsec / 3600.0 * M_PI / 180.0;
    chord_ = 2.0 * std::sin(r / 2.0);
    cellSize_ = std::max(chord_, 1e-9);
}

int64_t SkyMatcher::cellKey(long ix, long iy, long iz) const {
    // Unit-vector components lie in [-1, 1]: cell indices fit in 21 bits each for any
    // radius above ~0.2 mas.
    constexpr int64_t kOff = 1 << 20, kMask = (1 << 21) - 1;
    return ((int64_t(ix) + kOff) & kMask) << 42 | ((int64_t(iy) + kOff) & kMask) << 21 | ((int64_t(iz) + kOff) & kMask);
}

namespace {
void unitVector(double raDeg, double decDeg, double& x, double& y, double& z) {
    const double ra = raDeg * M_PI / 180.0, dec = decDeg * M_PI / 180.0;
    x = std::cos(dec) * std::cos(ra);
    y = std::cos(dec) * std::sin(ra);
    z = std::sin(dec);
}
} // namespace

void SkyMatcher::add(int64_t id, double ra, double dec) {
    Point p{id, 0, 0, 0};
    unitVector(ra, dec, p.x, p.y, p.z);
    points_.push_back(p);
    cells_.emplace(cellKey(long(std::floor(p.x / cellSize_)), long(std::floor(p.y / cellSize_)),
                           long(std::floor(p.z / cellSize_))),
                   points_.size() - 1);
}

std::vector<int64_t> SkyMatcher::within(double ra, double dec) const {
    double x, y, z;
    unitVector(ra, dec, x, y, z);
    const long cx = long(std::floor(x / cellSize_)), cy = long(std::floor(y / cellSize_)), cz = long(std::floor(z / cellSize_));
    std::vector<std::pair<double, int64_t>> hits;
    for (long dx = -1; dx <= 1; ++dx)
        for (long dy = -1; dy <= 1; ++dy)
            for (long dz = -1; dz <= 1; ++dz) {
                auto [b, e] = cells_.equal_range(cellKey(cx + dx, cy + dy, cz + dz));
                for (auto it = b; it != e; ++it) {
                    const Point& p = points_[it->second];
                    const double d2 = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y) + (p.z - z) * (p.z - z);
                    if (d2 <= chord_ * chord_) hits.push_back({d2, p.id});
                }
            }
    std::sort(hits.begin(), hits.end());
    std::vector<int64_t> ids;
    for (const auto& h : hits) ids.push_back(h.second);
    return ids;
}

int64_t SkyMatcher::nearest(double ra, double dec) const {
    const auto ids = within(ra, dec);
    return ids.empty() ? -1 : ids.front();
}

// ---------------------------------------------------------------- ingest

namespace {

std::vector<fs::path> expandPaths(const std::vector<std::string>& paths, std::vector<FileOutcome>& missing) {
    std::vector<fs::path> files;
    for (const auto& p : paths) {
        std::error_code ec;
        const fs::path abs = fs::absolute(p, ec);
        if (fs::is_regular_file(abs, ec)) {
            files.push_back(abs.lexically_normal());
        } else if (fs::is_directory(abs, ec)) {
            std::vector<fs::path> inDir;
            for (auto it = fs::recursive_directory_iterator(abs, fs::directory_options::skip_permission_denied, ec);
                 it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (ec) break;
                const auto name = it->path().filename().string();
                if (!name.empty() && name[0] == '.') {  // hidden files and folders (and our temp files)
                    if (it->is_directory()) it.disable_recursion_pending();
                    continue;
                }
                if (it->is_regular_file()) inDir.push_back(it->path().lexically_normal());
            }
            std::sort(inDir.begin(), inDir.end());
            files.insert(files.end(), inDir.begin(), inDir.end());
        } else {
            missing.push_back({p, FileOutcome::Status::Failed, "", "no such file or folder", 0, 0});
        }
    }
    return files;
}

int64_t mtimeSeconds(const fs::path& p) {
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    if (ec) return 0;
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The survey part of a key: "desi:targetid:123" → "desi:targetid". "file:" keys only say
// which files describe an object, so they never tell two objects apart.
std::string keyNamespace(const std::string& key) {
    const auto pos = key.rfind(':');
    return pos == std::string::npos ? std::string() : key.substr(0, pos);
}

// Two distinct ids of the same survey name two objects, however close on the sky (close
// pairs are real, and a survey's own ids are the better evidence).
bool idsConflict(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    for (const auto& ka : a) {
        const auto ns = keyNamespace(ka);
        if (ns.empty() || ns == "file") continue;
        for (const auto& kb : b)
            if (kb != ka && keyNamespace(kb) == ns) return true;
    }
    return false;
}

// Links each record to an existing object (by key first, then by position) or creates one.
class ObjectLinker {
public:
    ObjectLinker(Catalog& catalog, double radiusArcsec) : catalog_(catalog), sky_(radiusArcsec) {
        for (const auto& p : catalog.objectPositions()) sky_.add(p.id, p.ra, p.dec);
    }

    // Returns true when the record joined an existing object.
    bool store(const ObjectRecord& rec) {
        int64_t target = -1;
        for (const auto& key : rec.keys) {
            if (auto id = catalog_.findObjectByKey(key)) {
                if (target >= 0 && *id != target)
                    logWarning(rec.sourceFile + ": key " + key + " belongs to object " + std::to_string(*id) +
                               " but another key of the same record names object " + std::to_string(target) +
                               "; keeping the first");
                if (target < 0) target = *id;
            }
        }
        const bool hasPos = rec.ra && rec.dec && std::isfinite(*rec.ra) && std::isfinite(*rec.dec);
        if (target < 0 && hasPos)
            for (int64_t candidate : sky_.within(*rec.ra, *rec.dec))
                if (!idsConflict(rec.keys, catalog_.objectKeys(candidate))) { target = candidate; break; }
        if (target >= 0) {
            const bool hadPos = bool(catalog_.objectPosition(target));
            catalog_.mergeIntoObject(target, rec);
            if (!hadPos && hasPos) pending_.push_back({target, *rec.ra, *rec.dec});
            return true;
        }
        const int64_t id = catalog_.addObject(rec);
        if (hasPos) pending_.push_back({id, *rec.ra, *rec.dec});
        return false;
    }
    // Positions become visible to later files only once their file's transaction committed.
    void commit() {
        for (const auto& p : pending_) sky_.add(p.id, p.ra, p.dec);
        pending_.clear();
    }
    void rollback() { pending_.clear(); }

private:
    Catalog& catalog_;
    SkyMatcher sky_;
    std::vector<ObjectPosition> pending_;
};

} // namespace

IngestSummary ingestPaths(Catalog& catalog, const std::vector<std::string>& paths, const ReaderRegistry& readers,
                          const IngestParams& params, const ProgressFn& progress) {
    IngestSummary summary;
    std::vector<FileOutcome> missing;
    const auto files = expandPaths(paths, missing);
    for (auto& m : missing) summary.files.push_back(m);

    const fs::path catalogPath = fs::absolute(catalog.path()).lexically_normal();
    ObjectLinker linker(catalog, params.matchRadiusArcsec);
    int64_t done = 0;
    for (const auto& file : files) {
        report(progress, {"ingest", done, int64_t(files.size()), file.filename().string()});
        ++done;
        FileOutcome out;
        out.path = file.string();
        // The catalog's own files (and SQLite's -wal/-shm companions) are not input.
        if (file.string().rfind(catalogPath.string(), 0) == 0) continue;

        std::error_code ec;
        const int64_t size = int64_t(fs::file_size(file, ec));
        const int64_t mtime = mtimeSeconds(file);
        // What the catalog remembers of this path, looked up once per file.
        const std::optional<IngestedFile> prev = catalog.file(out.path);
        const bool previouslyOk = prev && prev->status == "ok";
        if (!params.reingestUnchanged) {
            if (previouslyOk && prev->size == size && prev->mtime == mtime) {
                out.status = FileOutcome::Status::Skipped;
                out.reader = prev->reader;
                out.message = "already ingested, unchanged";
                summary.files.push_back(out);
                continue;
            }
        }

        const FileProbe probe = probeFile(out.path);
        const Reader* reader = (probe.isFits || probe.isText) ? readers.select(probe) : nullptr;
        if (!probe.isFits && !probe.isText) {
            out.status = FileOutcome::Status::Skipped;
            out.message = "not a FITS file or a table";
        } else if (!reader) {
            out.status = probe.isFits && probe.hdus.empty() ? FileOutcome::Status::Failed : FileOutcome::Status::Skipped;
            out.message = probe.isFits && probe.hdus.empty() ? "damaged FITS file: its header cannot be read"
                                                             : "no reader recognises this file's layout";
        } else {
            out.reader = reader->name();
            try {
                ReadResult result = reader->read(probe, params.reader);
                if (result.skipped) {
                    out.status = FileOutcome::Status::Skipped;
                    out.message = result.skipReason;
                } else if (result.objects.empty()) {
                    out.status = FileOutcome::Status::Skipped;
                    out.message = "holds no objects";
                } else {
                    Catalog::Transaction tx(catalog);
                    try {
                        // A changed file replaces what it contributed before, never adds copies.
                        if (previouslyOk) catalog.forgetFileData(out.path);
                        for (auto& rec : result.objects) {
                            if (rec.sourceFile.empty()) rec.sourceFile = out.path;
                            if (linker.store(rec)) ++out.objectsLinked;
                            else ++out.objectsCreated;
                        }
                        catalog.recordFile({out.path, size, mtime, "ok", out.reader, "", int64_t(result.objects.size())});
                        tx.commit();
                        linker.commit();
                    } catch (...) {
                        linker.rollback();
                        throw;
                    }
                    for (const auto& w : result.warnings) out.message += (out.message.empty() ? "" : "; ") + w;
                }
            } catch (const Cancelled&) {
                throw;
            } catch (const FileError& e) {
                out.status = FileOutcome::Status::Failed;
                out.message = e.problem();
                out.objectsCreated = out.objectsLinked = 0;
            } catch (const std::exception& e) {
                out.status = FileOutcome::Status::Failed;
                out.message = e.what();
                out.objectsCreated = out.objectsLinked = 0;
            }
        }
        if (out.status != FileOutcome::Status::Ok) {
            // Failures and skips are remembered too (info reports them), but never in place
            // of an earlier good ingest of the same path.
            if (!previouslyOk)
                catalog.recordFile({out.path, size, mtime, statusName(out.status), out.reader, out.message, 0});
        }
        summary.files.push_back(out);
    }
    report(progress, {"ingest", done, int64_t(files.size()), ""});
    for (const auto& f : summary.files) {
        switch (f.status) {
        case FileOutcome::Status::Ok: ++summary.ok; break;
        case FileOutcome::Status::Skipped: ++summary.skipped; break;
        case FileOutcome::Status::Failed: ++summary.failed; break;
        }
        summary.objectsCreated += f.objectsCreated;
        summary.objectsLinked += f.objectsLinked;
    }
    return summary;
}

} // namespace astroclip
