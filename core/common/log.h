#pragma once
// Core logs through one callback; the CLI maps it to stderr (--verbose), the GUI to Qt
// logging categories and a log file.
#include <functional>
#include <string>

namespace astroclip {

enum class LogLevel { Debug, Info, Warning, Error };
using LogFn = std::function<void(LogLevel, const std::string&)>;

void setLogHandler(LogFn fn);  // nullptr restores the default (warnings and errors to stderr)
void log(LogLevel level, const std::string& message);
inline void logDebug(const std::string& m) { log(LogLevel::Debug, m); }
inline void logInfo(const std::string& m) { log(LogLevel::Info, m); }
inline void logWarning(const std::string& m) { log(LogLevel::Warning, m); }

} // namespace astroclip
