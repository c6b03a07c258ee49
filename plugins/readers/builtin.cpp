#include "plugins/readers/builtin.h"

namespace astroclip {

void registerBuiltinReaders(ReaderRegistry& registry) {
    registerSpectrumReaders(registry);
    registerImageAndTableReaders(registry);
}

} // namespace astroclip
