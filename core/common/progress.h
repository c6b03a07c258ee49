#pragma once
// Long work reports through one callback that can cancel (llama.cpp style): the CLI draws a
// progress bar from it, the GUI forwards it to a QPromise. Returning false asks the job to
// stop at the next safe point; the job then throws astroclip::Cancelled after leaving
// everything it stored consistent.
#include <cstdint>
#include <functional>
#include <string>

namespace astroclip {

struct Progress {
    std::string stage;      // short phase name, e.g. "simulate", "ingest"
    int64_t done = 0;       // units finished
    int64_t total = 0;      // units in all (0 = unknown)
    std::string detail;     // free text: current file, loss values ...
};

using ProgressFn = std::function<bool(const Progress&)>;

// Calls fn if set; throws Cancelled when it asks to stop.
void report(const ProgressFn& fn, const Progress& p);

} // namespace astroclip
