// HDF5 tables of vectors through the HDF5 C library: a 2-D dataset [n, d] of numbers and a
// 1-D dataset of n ids (integers) or keys (strings). HDF5 converts any integer or float type
// to the memory type asked for, so float64 vectors and int32 ids read as well as float32 and
// int64. Errors are caught from the return codes (the library's own printing is switched off
// while reading) and turned into FileErrors that name the dataset.
#include "core/common/error.h"
#include "core/io/vector_table_parts.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>

namespace astroclip::vector_table {

namespace {

// One HDF5 identifier, closed by its own close function.
class Handle {
public:
    using Close = herr_t (*)(hid_t);
    Handle(hid_t id, Close close) : id_(id), close_(close) {}
    ~Handle() {
        if (id_ >= 0) close_(id_);
    }
    Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle& operator=(Handle&&) = delete;
    hid_t get() const { return id_; }
    bool ok() const { return id_ >= 0; }

private:
    hid_t id_;
    Close close_;
};

// Switches the library's error printing off for the scope (errors are reported by us).
class QuietErrors {
public:
    QuietErrors() {
        H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

// The datasets in a group, for messages ("datasets here: /a, /b").
std::string datasetsIn(hid_t file, const std::string& group) {
    Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) return "none";
    H5G_info_t info{};
    if (H5Gget_info(g.get(), &info) < 0) return "none";
    std::string out;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t len = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0) continue;
        std::string name(size_t(len) + 1, '\0');
        H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(size_t(len));
        H5O_info_t object{};
#if H5_VERSION_GE(1, 12, 0)
        if (H5Oget_info_by_name3(g.get(), name.c_str(), &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0) continue;
#else
        if (H5Oget_info_by_name2(g.get(), name.c_str(), &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0) continue;
#endif
        if (object.type != H5O_TYPE_DATASET) continue;
        out += (out.empty() ? "" : ", ") + (group == "/" ? "/" : group + "/") + name;
    }
    return out.empty() ? "none" : out;
}

std::string parentGroup(const std::string& datasetPath) {
    const size_t slash = datasetPath.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return datasetPath.substr(0, slash);
}

// Whether every link on the way to `path` exists (H5Lexists wants the parents to exist).
bool exists(hid_t file, const std::string& path) {
    size_t at = 1;
    while (true) {
        const size_t slash = path.find('/', at);
        const std::string part = path.substr(0, slash);
        if (part.size() > 1 && H5Lexists(file, part.c_str(), H5P_DEFAULT) <= 0) return false;
        if (slash == std::string::npos) return true;
        at = slash + 1;
    }
}

struct Dataset {
    Handle set, space;
    std::vector<hsize_t> shape;
    H5T_class_t typeClass = H5T_NO_CLASS;
};

Dataset openDataset(hid_t file, const std::string& path, const std::string& fileName, const std::string& role) {
    if (!exists(file, path))
        throw FileError(fileName, "has no " + role + " dataset '" + path + "' (datasets in " + parentGroup(path) + ": " +
                                      datasetsIn(file, parentGroup(path)) + ")");
    Handle set(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) throw FileError(fileName, "'" + path + "' is not a dataset (the " + role + " must be one)");
    Handle space(H5Dget_space(set.get()), H5Sclose);
    Dataset d{std::move(set), std::move(space), {}, H5T_NO_CLASS};
    const int rank = d.space.ok() ? H5Sget_simple_extent_ndims(d.space.get()) : -1;
    if (rank < 0) throw FileError(fileName, "cannot read the shape of dataset '" + path + "'");
    d.shape.resize(size_t(rank));
    H5Sget_simple_extent_dims(d.space.get(), d.shape.data(), nullptr);
    const Handle type(H5Dget_type(d.set.get()), H5Tclose);
    d.typeClass = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
    return d;
}

std::string shapeText(const std::vector<hsize_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

std::vector<std::string> readStrings(const Dataset& d, size_t n, const std::string& fileName, const std::string& path) {
    const Handle fileType(H5Dget_type(d.set.get()), H5Tclose);
    std::vector<std::string> out;
    out.reserve(n);
    if (H5Tis_variable_str(fileType.get()) > 0) {
        const Handle memType(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(memType.get(), H5T_VARIABLE);
        H5Tset_cset(memType.get(), H5Tget_cset(fileType.get()));
        std::vector<char*> cells(n, nullptr);
        if (H5Dread(d.set.get(), memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, cells.data()) < 0)
            throw FileError(fileName, "cannot read the strings of dataset '" + path + "'");
        for (char* c : cells) out.emplace_back(c ? c : "");
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(memType.get(), d.space.get(), H5P_DEFAULT, cells.data());
#else
        H5Dvlen_reclaim(memType.get(), d.space.get(), H5P_DEFAULT, cells.data());
#endif
    } else {
        // One byte more than the file's width: a null-terminated memory type of the same width
        // would drop the last character of null-padded strings (numpy's 'S' arrays).
        const size_t width = H5Tget_size(fileType.get()) + 1;
        const Handle memType(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(memType.get(), width);
        std::vector<char> buffer(n * width);
        if (H5Dread(d.set.get(), memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
            throw FileError(fileName, "cannot read the strings of dataset '" + path + "'");
        for (size_t i = 0; i < n; ++i) {
            const char* cell = buffer.data() + i * width;
            std::string s(cell, strnlen(cell, width));
            s.erase(s.find_last_not_of(' ') + 1);  // space-padded strings
            out.push_back(std::move(s));
        }
    }
    return out;
}

} // namespace

VectorTable readHdf5(const std::string& path, const VectorTableOptions& o) {
    const QuietErrors quiet;
    if (H5Fis_hdf5(path.c_str()) <= 0) throw FileError(path, "is not an HDF5 file");
    const Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) throw FileError(path, "cannot be opened as HDF5 (damaged, or locked by a writer?)");

    std::string vectorsPath = o.dataset.empty() ? vectorName(o) : o.dataset;
    if (vectorsPath.front() != '/') vectorsPath = "/" + vectorsPath;
    const Dataset vectors = openDataset(file.get(), vectorsPath, path, "vectors");
    if (vectors.shape.size() != 2 || vectors.shape[0] == 0 || vectors.shape[1] == 0)
        throw FileError(path, "dataset '" + vectorsPath + "' has shape " + shapeText(vectors.shape) +
                                  "; the vectors must be a 2-D dataset [rows, dimensions]");
    if (vectors.typeClass != H5T_FLOAT && vectors.typeClass != H5T_INTEGER)
        throw FileError(path, "dataset '" + vectorsPath + "' does not hold numbers");
    const size_t n = size_t(vectors.shape[0]), dim = size_t(vectors.shape[1]);

    VectorTable t;
    t.path = path;
    t.format = "hdf5";
    t.dim = int(dim);
    t.values.resize(n * dim);
    if (H5Dread(vectors.set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()) < 0)
        throw FileError(path, "cannot read dataset '" + vectorsPath + "'");
    t.vectorsFrom = "dataset '" + vectorsPath + "'";

    const bool byKey = !o.keyColumn.empty();
    std::string rowsPath = byKey ? o.keyColumn : o.idColumn;
    if (rowsPath.front() != '/') rowsPath = (parentGroup(vectorsPath) == "/" ? "" : parentGroup(vectorsPath)) + "/" + rowsPath;
    const Dataset rows = openDataset(file.get(), rowsPath, path, byKey ? "keys" : "ids");
    const bool column = rows.shape.size() == 1 || (rows.shape.size() == 2 && rows.shape[1] == 1);
    if (!column || rows.shape[0] != n)
        throw FileError(path, "dataset '" + rowsPath + "' has shape " + shapeText(rows.shape) + "; expected one " +
                                  (byKey ? "key" : "id") + " per row of '" + vectorsPath + "' ([" + std::to_string(n) +
                                  "])");
    if (byKey) {
        if (rows.typeClass == H5T_STRING) {
            t.keys = readStrings(rows, n, path, rowsPath);
        } else if (rows.typeClass == H5T_INTEGER) {
            std::vector<int64_t> ints(n);
            if (H5Dread(rows.set.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints.data()) < 0)
                throw FileError(path, "cannot read dataset '" + rowsPath + "'");
            for (const int64_t k : ints) t.keys.push_back(std::to_string(k));
        } else {
            throw FileError(path, "dataset '" + rowsPath + "' holds neither strings nor integers");
        }
        for (size_t r = 0; r < n; ++r)
            if (t.keys[r].empty()) throw FileError(path, "row " + std::to_string(r + 1) + " of '" + rowsPath + "' has no key");
    } else {
        if (rows.typeClass != H5T_INTEGER)
            throw FileError(path, "dataset '" + rowsPath + "' does not hold integer object ids" +
                                      (rows.typeClass == H5T_STRING ? " (it holds strings: match by catalog key with --key-column)"
                                                                    : ""));
        t.ids.resize(n);
        if (H5Dread(rows.set.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.ids.data()) < 0)
            throw FileError(path, "cannot read dataset '" + rowsPath + "'");
    }
    return t;
}

} // namespace astroclip::vector_table
