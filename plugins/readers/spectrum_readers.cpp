#include "plugins/readers/builtin.h"
#include "plugins/readers/spec_readers.h"

namespace astroclip {

void registerSpectrumReaders(ReaderRegistry& registry) {
    registry.add(spec::makeDesiCoaddReader());
    registry.add(spec::makeDesiRedrockReader());
    registry.add(spec::makeSdssSpecReader());
    registry.add(spec::makeDeimosSpec1dReader());
    registry.add(spec::makeSpectrumTableReader());
}

} // namespace astroclip
