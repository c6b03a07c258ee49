#pragma once
// The reader seam: one Reader per file format, found through a registry. Built-in readers
// live in plugins/readers; a user adds one for another survey as a shared library (see
// plugin_abi.h) dropped into a plugins folder.
#include "core/data/records.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace astroclip {

// What the ingest driver learns about a file once, so readers can decide cheaply.
struct FileProbe {
    struct Hdu {
        int index = 0;                    // CFITSIO HDU number, 1 = primary
        std::string extname;              // upper-case, "" if none
        enum class Type { Image, Table } type = Type::Image;
        std::vector<long> shape;          // images: C order; tables: {nrows}
        std::vector<std::string> columns; // tables: upper-case column names
        std::map<std::string, std::string> keys;  // a few header keywords, upper-case name → raw value text
    };
    std::string path;
    std::string extension;                // lower-case, with dot: ".fits", ".csv", ".ecsv", ".gz"
    bool isFits = false;
    bool isText = false;                  // CSV or ECSV
    std::vector<Hdu> hdus;                // FITS only

    const Hdu* hduNamed(const std::string& upperName) const;
    bool hasColumns(const Hdu& h, std::initializer_list<const char*> upperNames) const;
};

// Options a user sets at ingest time that readers may need.
struct ReaderOptions {
    // Band names, in plane order, for image cubes whose header does not name them
    // (e.g. HSC cutouts: {"g","r","i","z","y"}).
    std::vector<std::string> cubeBands;
};

// What reading one file gave. A file that holds nothing the catalog keeps (a PSF cube with
// no WCS, a README) is `skipped` with a reason; real problems throw FileError instead.
struct ReadResult {
    std::vector<ObjectRecord> objects;
    std::vector<std::string> warnings;   // e.g. "412 pixels with zero ivar masked"
    bool skipped = false;
    std::string skipReason;
};

class Reader {
public:
    virtual ~Reader() = default;
    virtual std::string name() const = 0;         // short id, e.g. "desi-coadd"
    virtual std::string description() const = 0;  // one line for `astroclip readers`
    // 0 = not this reader's file; higher = more specific. Must not throw.
    virtual int score(const FileProbe& probe) const = 0;
    // Reads the whole file into records. Throws FileError on bad input.
    virtual ReadResult read(const FileProbe& probe, const ReaderOptions& options) const = 0;
};

// Builds the probe (never throws for unreadable files: isFits=false, hdus empty).
FileProbe probeFile(const std::string& path);

class ReaderRegistry {
public:
    ReaderRegistry();
    ~ReaderRegistry();
    ReaderRegistry(ReaderRegistry&&) noexcept;
    ReaderRegistry& operator=(ReaderRegistry&&) noexcept;

    void add(std::unique_ptr<Reader> reader);
    // Highest-scoring reader, or nullptr when none wants the file.
    const Reader* select(const FileProbe& probe) const;
    std::vector<const Reader*> readers() const;

    struct PluginLoad {
        std::string path;
        bool ok = false;
        std::string message;  // reader name on success, the reason on failure
    };
    // Loads every *.so in dir. A plugin built for another ABI version is refused with a
    // message; the registry is unchanged by a failed load.
    std::vector<PluginLoad> loadPluginDir(const std::string& dir);
    PluginLoad loadPlugin(const std::string& path);

    // Loads the plugins found in $ASTROCLIP_PLUGIN_PATH (colon-separated folders) and in
    // <exe>/../plugins. The built-in readers are not core's business: see
    // plugins/readers/builtin.h, defaultReaderRegistry().
    std::vector<PluginLoad> loadPluginsFromSearchPath();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace astroclip
