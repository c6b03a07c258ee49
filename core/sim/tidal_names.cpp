#include "core/sim/galaxy.h"

namespace astroclip::sim {

const char* tidalKindName(TidalKind k) {
    switch (k) {
    case TidalKind::Shells: return "shells";
    case TidalKind::Stream: return "stream";
    case TidalKind::Tail: return "tail";
    case TidalKind::None: break;
    }
    return "none";
}

} // namespace astroclip::sim
