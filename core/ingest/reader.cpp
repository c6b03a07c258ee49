#include "core/ingest/reader.h"

#include "core/common/error.h"
#include "core/common/log.h"
#include "core/ingest/plugin_abi.h"
#include "core/io/fits.h"
#include "core/io/text_table.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace astroclip {

namespace fs = std::filesystem;

namespace {
std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}
// Header keywords readers commonly decide on; kept in the probe so score() needs no I/O.
constexpr const char* kProbeKeys[] = {"BANDS", "FILTER", "FILTER1", "FILTER2", "BAND", "BUNIT", "CTYPE1", "CTYPE2",
                                      "TELESCOP", "INSTRUME", "SURVEY", "Z", "REDSHIFT", "OBJNO", "TARGETID",
                                      "RA", "DEC", "TRUTHTAB", "SIMULATD", "EXTNAME"};
} // namespace

const FileProbe::Hdu* FileProbe::hduNamed(const std::string& upperName) const {
    for (const auto& h : hdus)
        if (h.extname == upperName) return &h;
    return nullptr;
}

bool FileProbe::hasColumns(const Hdu& h, std::initializer_list<const char*> names) const {
    for (const char* n : names)
        if (std::find(h.columns.begin(), h.columns.end(), n) == h.columns.end()) return false;
    return true;
}

FileProbe probeFile(const std::string& path) {
    FileProbe p;
    p.path = path;
    p.extension = lower(fs::path(path).extension().string());
    if (looksLikeFits(path)) {
        p.isFits = true;
        try {
            auto f = FitsFile::open(path);
            const int n = f.hduCount();
            for (int i = 1; i <= n; ++i) {
                f.moveTo(i);
                FileProbe::Hdu h;
                h.index = i;
                h.extname = upper(f.extname());
                if (f.hduType() == HduType::Image) {
                    h.type = FileProbe::Hdu::Type::Image;
                    h.shape = f.imageShape();
                } else {
                    h.type = FileProbe::Hdu::Type::Table;
                    h.shape = {f.numRows()};
                    for (const auto& c : f.columns()) h.columns.push_back(upper(c.name));
                }
                for (const auto& [name, value] : f.keywords())
                    if (std::find_if(std::begin(kProbeKeys), std::end(kProbeKeys),
                                     [&](const char* k) { return name == k; }) != std::end(kProbeKeys))
                        h.keys.emplace(name, value);
                p.hdus.push_back(std::move(h));
            }
        } catch (const Error&) {
            // Leave what was learnt; the reader's read() reports the damage with detail.
        }
    } else if (p.extension == ".csv" || p.extension == ".ecsv" || looksLikeEcsv(path)) {
        p.isText = true;
    }
    return p;
}

struct ReaderRegistry::Impl {
    std::vector<std::unique_ptr<Reader>> readers;
    std::vector<void*> libraries;  // closed after the readers they made are destroyed
    ~Impl() {
        readers.clear();
        for (void* h : libraries) dlclose(h);
    }
};

ReaderRegistry::ReaderRegistry() : impl_(std::make_unique<Impl>()) {}
ReaderRegistry::~ReaderRegistry() = default;
ReaderRegistry::ReaderRegistry(ReaderRegistry&&) noexcept = default;
ReaderRegistry& ReaderRegistry::operator=(ReaderRegistry&&) noexcept = default;

void ReaderRegistry::add(std::unique_ptr<Reader> reader) { impl_->readers.push_back(std::move(reader)); }

const Reader* ReaderRegistry::select(const FileProbe& probe) const {
    const Reader* best = nullptr;
    int bestScore = 0;
    for (const auto& r : impl_->readers) {
        const int s = r->score(probe);
        if (s > bestScore) { best = r.get(); bestScore = s; }
    }
    return best;
}

std::vector<const Reader*> ReaderRegistry::readers() const {
    std::vector<const Reader*> out;
    for (const auto& r : impl_->readers) out.push_back(r.get());
    return out;
}

ReaderRegistry::PluginLoad ReaderRegistry::loadPlugin(const std::string& path) {
    PluginLoad result{path, false, {}};
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        result.message = std::string("cannot load plugin: ") + dlerror();
        return result;
    }
    auto abi = reinterpret_cast<astroclip_plugin_abi_version_fn>(dlsym(h, "astroclip_plugin_abi_version"));
    auto create = reinterpret_cast<astroclip_create_reader_fn>(dlsym(h, "astroclip_create_reader"));
    if (!abi || !create) {
        dlclose(h);
        result.message = "not an AstroCLIP reader plugin (astroclip_plugin_abi_version / astroclip_create_reader not exported)";
        return result;
    }
    const int pluginAbi = abi();
    if (pluginAbi != ASTROCLIP_READER_ABI_VERSION) {
        dlclose(h);
        result.message = "plugin built for reader ABI " + std::to_string(pluginAbi) + ", this build needs " +
                         std::to_string(ASTROCLIP_READER_ABI_VERSION) + ": rebuild the plugin against this version";
        return result;
    }
    std::unique_ptr<Reader> reader;
    try {
        reader.reset(create());
    } catch (const std::exception& e) {
        dlclose(h);
        result.message = std::string("plugin factory failed: ") + e.what();
        return result;
    }
    if (!reader) {
        dlclose(h);
        result.message = "plugin factory returned no reader";
        return result;
    }
    result.ok = true;
    result.message = reader->name();
    impl_->libraries.push_back(h);
    impl_->readers.push_back(std::move(reader));
    return result;
}

std::vector<ReaderRegistry::PluginLoad> ReaderRegistry::loadPluginDir(const std::string& dir) {
    std::vector<PluginLoad> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    std::vector<fs::path> libs;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file() && e.path().extension() == ".so") libs.push_back(e.path());
    std::sort(libs.begin(), libs.end());
    for (const auto& p : libs) {
        out.push_back(loadPlugin(p.string()));
        if (!out.back().ok) logWarning(p.string() + ": " + out.back().message);
    }
    return out;
}

std::vector<ReaderRegistry::PluginLoad> ReaderRegistry::loadPluginsFromSearchPath() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("ASTROCLIP_PLUGIN_PATH")) {
        std::stringstream ss(env);
        std::string d;
        while (std::getline(ss, d, ':'))
            if (!d.empty()) dirs.push_back(d);
    }
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back((exe.parent_path().parent_path() / "plugins").string());
    std::vector<PluginLoad> loads;
    for (const auto& d : dirs)
        for (auto& l : loadPluginDir(d)) loads.push_back(std::move(l));
    return loads;
}

} // namespace astroclip
