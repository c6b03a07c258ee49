#pragma once
// The safetensors weight format (https://huggingface.co/docs/safetensors), read and written
// without any framework:
//   8 bytes   N, little-endian uint64: header length
//   N bytes   UTF-8 JSON object {"__metadata__": {str: str}, "<tensor>": {"dtype": "F32",
//             "shape": [..], "data_offsets": [begin, end]}, ...}, space-padded to 8 bytes
//   rest      the data buffer: tensors back to back, row-major, little-endian; offsets are
//             relative to the buffer start, and the tensors cover it without holes or overlap.
// Reading maps the file and validates every one of those rules; writing is atomic.
#include "core/checkpoint/tensor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace astroclip {

using SafetensorsMetadata = std::map<std::string, std::string>;

// A validated, memory-mapped safetensors file. Views returned by tensors()/get() point into
// the mapping and stay valid while this object (or one it was moved into) lives.
class SafetensorsFile {
public:
    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    ~SafetensorsFile();

    const std::string& path() const { return path_; }
    // Tensor names in the order their bytes appear in the file.
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const;
    // Throws FileError(path, "has no tensor named 'x'") when absent.
    const TensorView& get(const std::string& name) const;
    // All tensors in file order.
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const SafetensorsMetadata& metadata() const { return metadata_; }
    // The whole file as mapped (for checksums without a second read).
    std::span<const uint8_t> fileBytes() const;

private:
    friend SafetensorsFile readSafetensors(const std::string& path);
    struct Mapping;
    SafetensorsFile(std::string path, std::unique_ptr<Mapping> mapping);

    std::string path_;
    std::unique_ptr<Mapping> mapping_;
    std::vector<TensorView> tensors_;
    std::map<std::string, std::size_t> index_;
    SafetensorsMetadata metadata_;
};

// Maps and validates `path`. Throws FileError(path, "<what is wrong>") for a missing or
// unreadable file and for every violation of the format (see the file comment).
SafetensorsFile readSafetensors(const std::string& path);

// Writes the tensors (any order; stored by decreasing element size then name so each one is
// aligned to its element size in a mapped file) and the metadata. Atomic: the target is
// replaced only once the whole file is on disk. Throws UsageError for an empty, duplicate or
// reserved ("__metadata__") name, or bytes that do not match shape x dtype size, before
// touching the disk; FileError(path, ...) for I/O failures.
// Returns the SHA-256 (lower-case hex) of the written file, computed while streaming it out.
std::string writeSafetensors(const std::string& path, std::span<const TensorView> tensors,
                             const SafetensorsMetadata& metadata = {});
std::string writeSafetensors(const std::string& path, std::span<const TensorData> tensors,
                             const SafetensorsMetadata& metadata = {});

} // namespace astroclip
