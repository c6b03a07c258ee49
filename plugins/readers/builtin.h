#pragma once
#include "core/ingest/reader.h"

namespace astroclip {
// Every built-in reader.
void registerBuiltinReaders(ReaderRegistry& registry);
// What an executable that ingests uses: the built-in readers plus the user's plugins
// (ReaderRegistry::loadPluginsFromSearchPath). Plugins that fail to load are logged.
ReaderRegistry defaultReaderRegistry();
// Spectral formats: DESI coadd + redrock, SDSS spec, DEIMOS spec1d, generic spectrum tables.
void registerSpectrumReaders(ReaderRegistry& registry);
// Images and catalogues: g,r,z / multi-band cubes, single-band images with WCS (DECam, HST),
// FITS binary tables, CSV, ECSV.
void registerImageAndTableReaders(ReaderRegistry& registry);
} // namespace astroclip
