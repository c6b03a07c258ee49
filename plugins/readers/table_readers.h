#pragma once
// The built-in catalogue-table readers (see image_table_readers.cpp for the conventions).
#include "core/ingest/reader.h"

#include <memory>

namespace astroclip::readers {

std::unique_ptr<Reader> makeFitsTableReader();   // "fits-table"
std::unique_ptr<Reader> makeCsvTableReader();    // "csv-table"
std::unique_ptr<Reader> makeEcsvTableReader();   // "ecsv-table"

} // namespace astroclip::readers
