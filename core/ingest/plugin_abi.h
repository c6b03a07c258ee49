#pragma once
// The contract a reader plugin (a shared library) fulfils. The host checks the ABI version
// before it calls the factory, so a plugin built against another version of this interface
// (or of records.h) is refused with a message instead of crashing.
//
//   extern "C" ASTROCLIP_PLUGIN_EXPORT int astroclip_plugin_abi_version() { return ASTROCLIP_READER_ABI_VERSION; }
//   extern "C" ASTROCLIP_PLUGIN_EXPORT astroclip::Reader* astroclip_create_reader() { return new MyReader; }
//
// The host takes ownership of the returned reader and keeps the library loaded for as long
// as the registry lives.
#include "core/ingest/reader.h"

// Bump whenever Reader, ReaderOptions, ReadResult, FileProbe or the records change layout.
// The compiler's C++ ABI major is folded in: a plugin built by another toolchain is refused.
#define ASTROCLIP_READER_ABI_VERSION (1000 * 1 + __GXX_ABI_VERSION % 1000)

#define ASTROCLIP_PLUGIN_EXPORT __attribute__((visibility("default")))

extern "C" {
typedef int (*astroclip_plugin_abi_version_fn)();
typedef astroclip::Reader* (*astroclip_create_reader_fn)();
}
