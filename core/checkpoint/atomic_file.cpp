#include "core/checkpoint/atomic_file.h"

#include "core/common/error.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace astroclip {

namespace {

std::string errnoText(int error) { return std::strerror(error); }

std::string folderOf(const std::string& path) {
    const auto parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

std::string randomSuffix() {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device device;
    std::string suffix(8, '0');
    for (char& c : suffix) c = kChars[device() % (sizeof(kChars) - 1)];
    return suffix;
}

} // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    const std::filesystem::path target(path_);
    const std::string folder = folderOf(path_);
    const std::string stem = "." + target.filename().string() + ".tmp-";
    // O_EXCL with a random name rather than mkstemp: mkstemp makes 0600 files, and the
    // finished file should get the usual 0666 & ~umask like any other output.
    for (int attempt = 0; attempt < 16; ++attempt) {
        tempPath_ = (std::filesystem::path(folder) / (stem + randomSuffix())).string();
        fd_ = ::open(tempPath_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ >= 0) return;
        if (errno != EEXIST) break;
    }
    const int error = errno;
    tempPath_.clear();
    throw FileError(path_, "cannot create a temporary file in folder '" + folder +
                               "' to write it: " + errnoText(error));
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tempPath_.empty()) ::unlink(tempPath_.c_str());
    tempPath_.clear();
}

void AtomicFile::setObserver(std::function<void(std::span<const uint8_t>)> observer) {
    observer_ = std::move(observer);
}

void AtomicFile::write(std::string_view text) {
    write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void AtomicFile::write(std::span<const uint8_t> bytes) {
    assert(fd_ >= 0 && "write() after commit() or after a failed write");
    const uint8_t* at = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        // Linux writes at most ~2 GiB per call; loop for partial writes and EINTR.
        const ssize_t done = ::write(fd_, at, std::min<std::size_t>(left, std::size_t(1) << 30));
        if (done < 0) {
            if (errno == EINTR) continue;
            const int error = errno;
            discard();
            throw FileError(path_, "cannot write (" + errnoText(error) +
                                       "); the previous file, if any, is unchanged");
        }
        at += done;
        left -= std::size_t(done);
    }
    written_ += bytes.size();
    if (observer_) observer_(bytes);
}

void AtomicFile::commit() {
    assert(fd_ >= 0 && "commit() twice or after a failed write");
    auto fail = [this](const std::string& step) {
        const int error = errno;
        discard();
        throw FileError(path_, "cannot " + step + " (" + errnoText(error) +
                                   "); the previous file, if any, is unchanged");
    };
    if (::fsync(fd_) != 0) fail("flush the data to disk");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close the temporary file");
    if (std::rename(tempPath_.c_str(), path_.c_str()) != 0) fail("replace the file");
    tempPath_.clear();
    // The rename lives in the folder's entries; without this a power cut may undo it.
    // Failing to sync a folder (some file systems refuse) does not undo a finished rename.
    const int folderFd = ::open(folderOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folderFd >= 0) {
        ::fsync(folderFd);
        ::close(folderFd);
    }
}

void writeJsonAtomic(const std::string& path, const nlohmann::json& json) {
    AtomicFile file(path);
    file.write(json.dump(2) + "\n");
    file.commit();
}

nlohmann::json readJsonFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path, "cannot open the JSON file: " + errnoText(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw FileError(path, "cannot read the JSON file");
    try {
        return nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw FileError(path, "is not valid JSON (byte " + std::to_string(e.byte) + "): " + e.what());
    }
}

} // namespace astroclip
