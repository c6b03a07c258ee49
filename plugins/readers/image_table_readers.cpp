#include "plugins/readers/builtin.h"

namespace astroclip {
void registerImageAndTableReaders(ReaderRegistry&) {}
} // namespace astroclip
