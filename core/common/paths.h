#pragma once
#include <filesystem>
#include <string>

namespace astroclip {
// Folder holding the shipped resources (templates/, filters/). ASTROCLIP_RESOURCES overrides.
std::filesystem::path resourceDir();
// resourceDir()/relative; throws FileError if it does not exist.
std::filesystem::path resourcePath(const std::string& relative);
} // namespace astroclip
