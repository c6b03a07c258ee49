#include "core/ingest/reader.h"

namespace astroclip {

void registerBuiltinReaders(ReaderRegistry& registry) {
    (void)registry;
}

} // namespace astroclip
