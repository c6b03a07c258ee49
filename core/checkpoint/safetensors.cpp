#include "core/checkpoint/safetensors.h"

#include "core/checkpoint/atomic_file.h"
#include "core/checkpoint/sha256.h"
#include "core/common/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace astroclip {

namespace {

// The reference implementation's limit: a larger "header" means the file is something else.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

std::string knownDTypes() {
    std::string list;
    for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32,
                    DType::I16, DType::I8, DType::U64, DType::U32, DType::U16, DType::U8, DType::Bool}) {
        if (!list.empty()) list += ", ";
        list += dtypeName(t);
    }
    return list;
}

std::string offsetsText(uint64_t begin, uint64_t end) {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

struct HeaderEntry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;
    uint64_t end = 0;
};

// Byte count of shape x dtype, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> byteCount(const std::vector<int64_t>& shape, DType dtype) {
    uint64_t bytes = dtypeSize(dtype);
    for (int64_t dim : shape)
        if (__builtin_mul_overflow(bytes, uint64_t(dim), &bytes)) return std::nullopt;
    return bytes;
}

HeaderEntry parseEntry(const std::string& path, const std::string& name, const nlohmann::json& entry,
                       uint64_t bufferBytes) {
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object())
        throw FileError(path, where + "header entry is not an object with dtype, shape and data_offsets");
    HeaderEntry parsed;
    parsed.name = name;

    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string())
        throw FileError(path, where + "'dtype' is missing or not a string");
    const auto type = parseDType(dtype->get_ref<const std::string&>());
    if (!type)
        throw FileError(path, where + "unknown dtype '" + dtype->get<std::string>() + "' (known: " +
                                  knownDTypes() + ")");
    parsed.dtype = *type;

    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array())
        throw FileError(path, where + "'shape' is missing or not an array");
    for (const auto& dim : *shape) {
        if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t(INT64_MAX))
            throw FileError(path, where + "'shape' " + shape->dump() + " must hold non-negative integers");
        parsed.shape.push_back(dim.get<int64_t>());
    }

    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
        throw FileError(path, where + "'data_offsets' must be two non-negative integers [begin, end]");
    parsed.begin = (*offsets)[0].get<uint64_t>();
    parsed.end = (*offsets)[1].get<uint64_t>();
    if (parsed.end < parsed.begin)
        throw FileError(path, where + "data_offsets " + offsetsText(parsed.begin, parsed.end) +
                                  " end before they begin");
    if (parsed.end > bufferBytes)
        throw FileError(path, where + "data_offsets " + offsetsText(parsed.begin, parsed.end) +
                                  " reach past the end of the data buffer (" + std::to_string(bufferBytes) +
                                  " bytes): the file is truncated");
    const auto needed = byteCount(parsed.shape, parsed.dtype);
    const uint64_t held = parsed.end - parsed.begin;
    if (!needed || *needed != held)
        throw FileError(path, where + "data_offsets " + offsetsText(parsed.begin, parsed.end) + " hold " +
                                  std::to_string(held) + " bytes but shape " + shapeText(parsed.shape) +
                                  " of " + std::string(dtypeName(parsed.dtype)) + " needs " +
                                  (needed ? std::to_string(*needed) : std::string("more than 2^64")));
    return parsed;
}

SafetensorsMetadata parseMetadata(const std::string& path, const nlohmann::json& metadata) {
    if (!metadata.is_object())
        throw FileError(path, "'__metadata__' is not an object mapping strings to strings");
    SafetensorsMetadata parsed;
    for (const auto& [key, value] : metadata.items()) {
        if (!value.is_string())
            throw FileError(path, "'__metadata__' entry '" + key + "' is " + value.type_name() +
                                      ", but metadata values must be strings");
        parsed[key] = value.get<std::string>();
    }
    return parsed;
}

// The spec: tensors cover the buffer back to back. Sorted by offsets, each must begin where
// the previous one ended; earlier means overlap, later a hole; the last must end the buffer.
void checkCoverage(const std::string& path, std::vector<HeaderEntry>& entries, uint64_t bufferBytes) {
    std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    uint64_t covered = 0;
    const HeaderEntry* previous = nullptr;
    for (const auto& entry : entries) {
        if (entry.begin < covered)
            throw FileError(path, "tensors '" + previous->name + "' " + offsetsText(previous->begin, previous->end) +
                                      " and '" + entry.name + "' " + offsetsText(entry.begin, entry.end) +
                                      " overlap in the data buffer");
        if (entry.begin > covered)
            throw FileError(path, "bytes [" + std::to_string(covered) + ", " + std::to_string(entry.begin) +
                                      ") of the data buffer belong to no tensor (the format allows no holes)");
        covered = entry.end;
        previous = &entry;
    }
    if (covered != bufferBytes)
        throw FileError(path, "bytes [" + std::to_string(covered) + ", " + std::to_string(bufferBytes) +
                                  ") of the data buffer belong to no tensor (the format allows no holes)");
}

nlohmann::json parseHeader(const std::string& path, std::string_view text) {
    // Duplicate names would silently shadow each other in a plain parse; catch them here.
    std::set<std::string> seen;
    std::string duplicate;
    auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
            !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
            duplicate = parsed.get<std::string>();
        return true;
    };
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::parse_error& e) {
        throw FileError(path, "header is not valid JSON (byte " + std::to_string(8 + e.byte - 1) +
                                  " of the file): " + e.what());
    }
    if (!header.is_object())
        throw FileError(path, std::string("header is not a JSON object but ") + header.type_name());
    if (!duplicate.empty()) throw FileError(path, "header names '" + duplicate + "' more than once");
    return header;
}

} // namespace

struct SafetensorsFile::Mapping {
    void* address = nullptr;
    std::size_t size = 0;
    ~Mapping() {
        if (address) ::munmap(address, size);
    }
    std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(address), size}; }
};

SafetensorsFile::SafetensorsFile(std::string path, std::unique_ptr<Mapping> mapping)
    : path_(std::move(path)), mapping_(std::move(mapping)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

std::vector<std::string> SafetensorsFile::names() const {
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& tensor : tensors_) names.push_back(tensor.name);
    return names;
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) != 0; }

const TensorView& SafetensorsFile::get(const std::string& name) const {
    const auto found = index_.find(name);
    if (found == index_.end()) throw FileError(path_, "has no tensor named '" + name + "'");
    return tensors_[found->second];
}

std::span<const uint8_t> SafetensorsFile::fileBytes() const { return mapping_->bytes(); }

SafetensorsFile readSafetensors(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        throw FileError(path, "is not a regular file");
    }
    auto mapping = std::make_unique<SafetensorsFile::Mapping>();
    mapping->size = std::size_t(info.st_size);
    if (mapping->size > 0) {
        void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
        const int error = errno;
        ::close(fd);
        if (address == MAP_FAILED) throw FileError(path, std::string("cannot map into memory: ") + std::strerror(error));
        mapping->address = address;
    } else {
        ::close(fd);
    }

    const std::span<const uint8_t> file = mapping->bytes();
    if (file.size() < 8)
        throw FileError(path, "is too short to be a safetensors file (" + std::to_string(file.size()) +
                                  " bytes; the header length alone takes 8)");
    uint64_t headerBytes = 0;
    std::memcpy(&headerBytes, file.data(), 8);  // little-endian on this host (see dtype.cpp)
    if (headerBytes > file.size() - 8)
        throw FileError(path, "header length " + std::to_string(headerBytes) + " is larger than the " +
                                  std::to_string(file.size() - 8) +
                                  " bytes that follow it: the file is truncated or not a safetensors file");
    if (headerBytes > kMaxHeaderBytes)
        throw FileError(path, "header length " + std::to_string(headerBytes) +
                                  " is implausibly large: not a safetensors file");
    const std::string_view headerText(reinterpret_cast<const char*>(file.data()) + 8, headerBytes);
    const nlohmann::json header = parseHeader(path, headerText);

    const uint64_t bufferStart = 8 + headerBytes;
    const uint64_t bufferBytes = file.size() - bufferStart;
    SafetensorsFile result(path, std::move(mapping));
    std::vector<HeaderEntry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == kMetadataKey)
            result.metadata_ = parseMetadata(path, value);
        else
            entries.push_back(parseEntry(path, key, value, bufferBytes));
    }
    checkCoverage(path, entries, bufferBytes);

    const uint8_t* buffer = result.mapping_->bytes().data() + bufferStart;
    for (auto& entry : entries) {
        result.index_[entry.name] = result.tensors_.size();
        result.tensors_.push_back({std::move(entry.name), entry.dtype, std::move(entry.shape),
                                   std::span(buffer + entry.begin, entry.end - entry.begin)});
    }
    return result;
}

std::string writeSafetensors(const std::string& path, std::span<const TensorView> tensors,
                             const SafetensorsMetadata& metadata) {
    std::set<std::string> names;
    for (const auto& tensor : tensors) {
        if (tensor.name.empty() || tensor.name == kMetadataKey)
            throw UsageError("cannot write '" + path + "': tensor name '" + tensor.name +
                             "' is empty or reserved by the format");
        if (!names.insert(tensor.name).second)
            throw UsageError("cannot write '" + path + "': two tensors are named '" + tensor.name + "'");
        for (int64_t dim : tensor.shape)
            if (dim < 0)
                throw UsageError("cannot write '" + path + "': tensor '" + tensor.name + "' has shape " +
                                 shapeText(tensor.shape) + " with a negative dimension");
        const auto needed = byteCount(tensor.shape, tensor.dtype);
        if (!needed || *needed != tensor.bytes.size())
            throw UsageError("cannot write '" + path + "': tensor '" + tensor.name + "' has " +
                             std::to_string(tensor.bytes.size()) + " bytes but shape " + shapeText(tensor.shape) +
                             " of " + std::string(dtypeName(tensor.dtype)) + " needs " +
                             (needed ? std::to_string(*needed) : std::string("more than 2^64")));
    }

    // Largest elements first: with the buffer starting 8-aligned, every tensor then starts at
    // a multiple of its element size, so a mapped file can be used in place.
    std::vector<const TensorView*> order;
    for (const auto& tensor : tensors) order.push_back(&tensor);
    std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
        const std::size_t sa = dtypeSize(a->dtype), sb = dtypeSize(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header[kMetadataKey] = metadata;
    uint64_t offset = 0;
    for (const TensorView* tensor : order) {
        const uint64_t end = offset + tensor->bytes.size();
        header[tensor->name] = {{"dtype", dtypeName(tensor->dtype)},
                                {"shape", tensor->shape},
                                {"data_offsets", {offset, end}}};
        offset = end;
    }
    std::string headerText = header.dump();
    headerText.append((8 - headerText.size() % 8) % 8, ' ');
    const uint64_t headerBytes = headerText.size();

    Sha256 hash;
    AtomicFile file(path);
    file.setObserver([&hash](std::span<const uint8_t> bytes) { hash.update(bytes); });
    file.write(std::span(reinterpret_cast<const uint8_t*>(&headerBytes), 8));
    file.write(headerText);
    for (const TensorView* tensor : order) file.write(tensor->bytes);
    file.commit();
    return hash.finishHex();
}

std::string writeSafetensors(const std::string& path, std::span<const TensorData> tensors,
                             const SafetensorsMetadata& metadata) {
    std::vector<TensorView> views;
    views.reserve(tensors.size());
    for (const auto& tensor : tensors) views.push_back(tensor.view());
    return writeSafetensors(path, std::span<const TensorView>(views), metadata);
}

} // namespace astroclip
