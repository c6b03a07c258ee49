#pragma once
// In-memory snapshots of galaxy-like objects for the stage tests: spectra on the DESI grid
// downsampled 16× (486 px) with a continuum, a 4000 Å break and redshifted emission lines,
// and small g,r,z cutouts of a Gaussian galaxy whose band fluxes follow its spectrum's
// continuum and whose size grows with redshift, so images and spectra share what CLIP aligns.
#include "core/dataset/snapshot.h"

#include <cstdint>
#include <memory>

namespace astroclip::stagetest {

inline constexpr int kDownsample = 16;

// n objects with ids 1..n; images (crop × crop) only when crop > 0.
std::shared_ptr<DatasetSnapshot> galaxySnapshot(int n, int crop, uint64_t seed);

} // namespace astroclip::stagetest
