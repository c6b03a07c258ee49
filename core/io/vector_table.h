#pragma once
// Tables of vectors computed elsewhere (embeddings from another pipeline), keyed per row by a
// catalog object id or an object key: the reading half of `astroclip import-embeddings`.
// Qt-free and LibTorch-free. Formats, chosen by extension (then by content):
//   - FITS (.fits, .fit, .fits.gz): the first binary table holding the id (or key) column;
//     the vectors in one vector column (TFORM nE/nD/nJ ...) or one column per component.
//   - CSV and ECSV (.csv, .ecsv; core/io/text_table.h): one column per component, or one
//     column whose cells hold a whole vector: "[0.1, 0.2, ...]" (how Astropy writes a
//     multidimensional column to ECSV) or numbers separated by blanks or semicolons.
//   - HDF5 (.h5, .hdf5; the HDF5 C library): a 2-D dataset [n, d] of numbers plus a 1-D ids
//     (integers) or keys (strings, fixed or variable length) dataset of n rows; a relative
//     name of the ids/keys dataset is looked up in the vectors dataset's group.
// Every problem is a FileError naming the file and what to do: a missing column (listing
// those present), a ragged vector, values that are not finite (with their rows), a repeated id
// or key (with its rows), an empty table.
#include <cstdint>
#include <string>
#include <vector>

namespace astroclip {

struct VectorTableOptions {
    std::string idColumn = "object_id";  // integer object ids; ignored when keyColumn is set
    std::string keyColumn;               // match rows by catalog key (text) instead of id
    std::string vectorColumn;            // one column (HDF5: dataset) with the whole vector;
                                         // "" = "embedding" unless columnsPrefix is given
    std::string columnsPrefix;           // one column per component: every column named PREFIX...
                                         // (ordered by the number after the prefix when all have one)
    std::string dataset;                 // HDF5: the [n, d] dataset's path (overrides vectorColumn)
};

struct VectorTable {
    std::string path;
    std::string format;                  // "fits", "csv", "ecsv" or "hdf5"
    std::vector<int64_t> ids;            // per row, when matched by id
    std::vector<std::string> keys;       // per row, when matched by key
    int dim = 0;
    std::vector<float> values;           // [rows, dim], row-major, all finite
    std::string vectorsFrom;             // where the vectors were read: "column 'embedding'",
                                         // "12 columns emb_0..emb_11", "dataset '/emb'"
    size_t rows() const { return dim > 0 ? values.size() / size_t(dim) : 0; }
};

// Throws FileError (see above).
VectorTable readVectorTable(const std::string& path, const VectorTableOptions& options);

} // namespace astroclip
