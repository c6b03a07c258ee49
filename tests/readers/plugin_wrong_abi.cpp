// A reader plugin that claims another reader ABI version: the host must refuse it before it
// ever calls the factory (which therefore aborts, so a host that called it would crash).
#include "core/ingest/plugin_abi.h"

#include <cstdlib>

extern "C" ASTROCLIP_PLUGIN_EXPORT int astroclip_plugin_abi_version() { return ASTROCLIP_READER_ABI_VERSION + 1000; }
extern "C" ASTROCLIP_PLUGIN_EXPORT astroclip::Reader* astroclip_create_reader() { std::abort(); }
