#pragma once
// Embedding the objects of a file that is not in the catalog (`astroclip search --file`, the
// app's "search by file"): the file is read by the same readers as `ingest` into a scratch
// catalog in a temporary folder, and embedded by the same job as `embed`, so a query file is
// preprocessed exactly like the catalog's objects. The scratch catalog is removed afterwards.
#include "core/ingest/reader.h"
#include "core/runs/trained_encoders.h"

#include <string>
#include <vector>

namespace astroclip::embed {

struct FileVectors {
    std::vector<std::string> labels;  // per object: "<file> object <n> (<key>)"
    int dim = 0;
    std::vector<float> vectors;       // [labels.size(), dim] row-major
    std::vector<std::string> warnings;  // objects of the file whose data could not be read
};

// Every object of `path` holding `modality`, embedded in `space`. FileError(path, problem)
// when no reader accepts the file or it cannot be read; UsageError when it holds no object
// with that modality, or the run has no such encoder.
FileVectors embedFile(runs::TrainedEncoders& encoders, const std::string& path, const ReaderRegistry& readers,
                      Modality modality, runs::EmbeddingSpace space);

} // namespace astroclip::embed
