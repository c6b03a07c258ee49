#pragma once
// Ingest: files and folders → readers → catalog. Each file is read on its own; a bad file is
// reported (named, with its problem) and the rest go on; each file's records are written in
// one transaction, so a failure leaves nothing of that file and never touches what was
// already stored. Objects from different files are linked by a shared key, else by sky
// position within the match radius.
#include "core/catalog/catalog.h"
#include "core/common/progress.h"
#include "core/ingest/reader.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace astroclip {

struct IngestParams {
    double matchRadiusArcsec = 1.0;
    ReaderOptions reader;
    bool reingestUnchanged = false;  // false: a file already ingested with the same size and mtime is skipped
};

struct FileOutcome {
    enum class Status { Ok, Skipped, Failed };
    std::string path;
    Status status = Status::Ok;
    std::string reader;
    std::string message;             // why skipped/failed, or the reader's warnings
    int64_t objectsCreated = 0;
    int64_t objectsLinked = 0;       // records merged into an existing object
};

struct IngestSummary {
    int64_t ok = 0, skipped = 0, failed = 0;
    int64_t objectsCreated = 0, objectsLinked = 0;
    std::vector<FileOutcome> files;
};

const char* statusName(FileOutcome::Status s);  // "ok", "skipped", "failed"

// Expands folders recursively (sorted, hidden files left out) and ingests every file.
IngestSummary ingestPaths(Catalog& catalog, const std::vector<std::string>& paths, const ReaderRegistry& readers,
                          const IngestParams& params, const ProgressFn& progress = {});

// Finds objects within a radius on the sphere. Cells of a 3-D grid over unit vectors, so
// there is no special case at RA = 0/360 or at the poles.
class SkyMatcher {
public:
    explicit SkyMatcher(double radiusArcsec);
    void add(int64_t id, double raDeg, double decDeg);
    // Nearest object within the radius, or -1.
    int64_t nearest(double raDeg, double decDeg) const;
    // Every object within the radius, nearest first.
    std::vector<int64_t> within(double raDeg, double decDeg) const;
    size_t size() const { return points_.size(); }

private:
    struct Point { int64_t id; double x, y, z; };
    int64_t cellKey(long ix, long iy, long iz) const;
    double chord_;     // chord length of the radius on the unit sphere
    double cellSize_;
    std::vector<Point> points_;
    std::unordered_multimap<int64_t, size_t> cells_;
};

} // namespace astroclip
