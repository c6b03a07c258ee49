#pragma once
// The built-in image readers (see image_table_readers.cpp for the formats they accept).
#include "core/ingest/reader.h"

#include <memory>

namespace astroclip::readers {

// "image-cube": a [planes][H][W] image whose planes are named by BANDS or --cube-bands.
std::unique_ptr<Reader> makeImageCubeReader();
// "band-image": a 2-D single-band image with a FILTER/BAND keyword (or a known file-name
// convention) and a WCS: DECam CCD pieces, HST/ACS cutouts.
std::unique_ptr<Reader> makeBandImageReader();

// Index into probe.hdus of the first image HDU that holds data (NAXIS > 0), or -1 when a
// table with rows comes first or there is none: the "main" image of the file.
int firstImageHduWithData(const FileProbe& probe);

} // namespace astroclip::readers
