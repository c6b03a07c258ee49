#include "plugins/readers/builtin.h"

namespace astroclip {
void registerSpectrumReaders(ReaderRegistry&) {}
} // namespace astroclip
