#pragma once
// The evaluation's figures, drawn with PLplot (its cairo PNG driver): predicted against true
// redshift with the 1:1 line, and the histogram of cross-modal retrieval ranks.
#include "core/analysis/eval.h"

#include <string>
#include <vector>

namespace astroclip::cli {

// Writes DIR/redshift-<modality>.png per k-NN redshift probe and DIR/retrieval-ranks.png when
// the report has retrieval; returns the files written. FileError when PLplot cannot write one.
std::vector<std::string> writeEvalPlots(const analysis::EvalReport& report, const std::string& dir);

} // namespace astroclip::cli
