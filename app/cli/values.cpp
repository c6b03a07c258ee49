#include "app/cli/cli_common.h"

#include "core/common/error.h"

#include <cstdio>
#include <filesystem>

namespace astroclip::cli {

nlohmann::json valueJson(const Value& v) {
    if (auto i = std::get_if<int64_t>(&v)) return *i;
    if (auto d = std::get_if<double>(&v)) return *d;
    if (auto s = std::get_if<std::string>(&v)) return *s;
    return nullptr;
}

std::string valueText(const Value& v) {
    if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto d = std::get_if<double>(&v)) {
        char b[32];
        std::snprintf(b, sizeof b, "%.8g", *d);
        return b;
    }
    if (auto s = std::get_if<std::string>(&v)) return *s;
    return "null";
}

void createOutputFolder(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec || !std::filesystem::is_directory(path, ec))
        throw FileError(path, "cannot create the output folder" + (ec ? ": " + ec.message() : std::string()));
}

} // namespace astroclip::cli
