#pragma once
// Writing files so that a crash, a full disk or an exception never leaves a half-written
// file under the final name: bytes go to a temporary file in the same folder, are fsync'ed,
// and the temporary is renamed over the target (atomic on POSIX file systems); the folder is
// then fsync'ed so the rename itself survives a power cut.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace astroclip {

class AtomicFile {
public:
    // Creates "<folder>/.<name>.tmp-XXXXXX" beside `path`. Throws FileError(path, ...) when
    // the folder is missing or not writable.
    explicit AtomicFile(std::string path);
    // Without commit() the temporary file is removed and the target is left as it was.
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Throws FileError(path, ...) on a write error (disk full, I/O error).
    void write(std::span<const uint8_t> bytes);
    void write(std::string_view text);
    // Called with every block written, e.g. to hash the file while it streams out.
    void setObserver(std::function<void(std::span<const uint8_t>)> observer);
    uint64_t bytesWritten() const { return written_; }

    // fsync, rename over the target, fsync the folder. Throws FileError(path, ...) on failure,
    // in which case the target is untouched and the temporary removed.
    void commit();

    const std::string& path() const { return path_; }
    const std::string& temporaryPath() const { return tempPath_; }

private:
    void discard() noexcept;

    std::string path_;
    std::string tempPath_;
    int fd_ = -1;
    uint64_t written_ = 0;
    std::function<void(std::span<const uint8_t>)> observer_;
};

// Writes json.dump(2) + "\n" atomically.
void writeJsonAtomic(const std::string& path, const nlohmann::json& json);
// Throws FileError(path, ...) when the file cannot be read or is not valid JSON (the
// message gives the byte offset of the problem).
nlohmann::json readJsonFile(const std::string& path);

} // namespace astroclip
