#include "plugins/readers/builtin.h"

namespace astroclip {

void registerBuiltinReaders(ReaderRegistry& registry) {
    registerSpectrumReaders(registry);
    registerImageAndTableReaders(registry);
}

ReaderRegistry defaultReaderRegistry() {
    ReaderRegistry registry;
    registerBuiltinReaders(registry);
    registry.loadPluginsFromSearchPath();
    return registry;
}

} // namespace astroclip
