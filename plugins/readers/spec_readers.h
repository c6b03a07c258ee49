#pragma once
// Factories of the built-in spectral readers (registered by spectrum_readers.cpp).
#include "core/ingest/reader.h"

#include <memory>

namespace astroclip::spec {

// Specific formats score this; the generic spectrum table scores far less so they win.
inline constexpr int kSpecificFormatScore = 100;
inline constexpr int kGenericSpectrumTableScore = 30;

std::unique_ptr<Reader> makeDesiCoaddReader();
std::unique_ptr<Reader> makeDesiRedrockReader();
std::unique_ptr<Reader> makeSdssSpecReader();
std::unique_ptr<Reader> makeDeimosSpec1dReader();
std::unique_ptr<Reader> makeSpectrumTableReader();

} // namespace astroclip::spec
