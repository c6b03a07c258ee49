#pragma once
// Shared by vector_table.cpp (dispatch, text and FITS tables, the checks every format gets)
// and vector_table_hdf5.cpp. Not a public header.
#include "core/io/vector_table.h"

namespace astroclip::vector_table {

// The vectors' column or dataset name the options ask for (default "embedding").
std::string vectorName(const VectorTableOptions& options);

// Reads an HDF5 file (see vector_table.h); the checks below are applied by the caller.
VectorTable readHdf5(const std::string& path, const VectorTableOptions& options);

} // namespace astroclip::vector_table
