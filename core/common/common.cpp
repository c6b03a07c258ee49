#include "core/common/log.h"
#include "core/common/error.h"
#include "core/common/progress.h"
#include "core/common/paths.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace astroclip {

void report(const ProgressFn& fn, const Progress& p) {
    if (fn && !fn(p)) throw Cancelled();
}

namespace {
std::mutex g_logMutex;
LogFn g_logHandler;
} // namespace

void setLogHandler(LogFn fn) {
    std::lock_guard lock(g_logMutex);
    g_logHandler = std::move(fn);
}

void log(LogLevel level, const std::string& message) {
    std::lock_guard lock(g_logMutex);
    if (g_logHandler) {
        g_logHandler(level, message);
        return;
    }
    if (level >= LogLevel::Warning)
        std::fprintf(stderr, "%s: %s\n", level == LogLevel::Error ? "error" : "warning", message.c_str());
}

std::filesystem::path resourceDir() {
    if (const char* env = std::getenv("ASTROCLIP_RESOURCES"); env && *env) return env;
    // An installed app keeps resources beside bin/ (../share/astroclip); a build tree uses
    // the source tree's resources/ (compiled in).
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto installed = exe.parent_path().parent_path() / "share" / "astroclip";
        if (std::filesystem::exists(installed / "templates", ec)) return installed;
    }
    return ASTROCLIP_RESOURCE_DIR;
}

std::filesystem::path resourcePath(const std::string& relative) {
    auto p = resourceDir() / relative;
    if (!std::filesystem::exists(p))
        throw FileError(p.string(), "resource file missing (set ASTROCLIP_RESOURCES to the resources/ folder)");
    return p;
}

} // namespace astroclip
