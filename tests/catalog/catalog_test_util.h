#pragma once
// Records with known contents for the catalog tests.
#include "core/catalog/catalog.h"
#include "core/data/wavegrid.h"

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace astroclip::testing {

inline SpectrumRecord makeSpectrum(uint32_t seed, const std::string& path) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.f, 1.f);
    SpectrumRecord s;
    s.flux.resize(DesiGrid::kSize);
    s.ivar.resize(DesiGrid::kSize);
    s.mask.resize(DesiGrid::kSize);
    for (int i = 0; i < DesiGrid::kSize; ++i) {
        s.mask[i] = (rng() % 17 == 0) ? 1 : 0;
        s.flux[i] = s.mask[i] ? 0.f : 5.f + noise(rng);
        s.ivar[i] = s.mask[i] ? 0.f : 0.25f + 0.01f * static_cast<float>(rng() % 100);
    }
    s.path = path;
    s.format = "desi-coadd";
    s.native = "B,R,Z arms row " + std::to_string(seed % 500);
    s.nativeWaveMin = 3600.4 + seed % 7;
    s.nativeWaveMax = 9823.6;
    return s;
}

inline ImageRecord makeCutout(const std::string& path, int hdu) {
    ImageRecord img;
    img.kind = ImageRecord::Kind::Cutout;
    img.path = path;
    img.hdu = hdu;
    img.bands = {"g", "r", "z"};
    img.planes = {0, 1, 2};
    img.width = img.height = 152;
    img.pixscaleArcsec = 0.262;
    img.unit = "nanomaggy";
    img.ivarRef = path + "[2]";
    img.segmapRef = path + "[3]";
    img.depthmapRef = path + "[4]";
    img.psfRef = path + "[5]";
    return img;
}

inline ImageRecord makeBandImage(const std::string& path, uint32_t seed) {
    std::mt19937 rng(seed);
    ImageRecord img;
    img.kind = ImageRecord::Kind::BandImage;
    img.path = path;
    img.hdu = 2;
    img.bands = {"F606W", "F814W"};
    img.width = 7;
    img.height = 5;
    img.pixscaleArcsec = 0.03;
    img.unit = "electron/s";
    img.pixels.resize(2 * 7 * 5);
    for (auto& p : img.pixels) p = std::uniform_real_distribution<float>(-1.f, 100.f)(rng);
    return img;
}

inline bool sameBytes(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline bool sameImage(const ImageRecord& a, const ImageRecord& b) {
    return a.kind == b.kind && a.path == b.path && a.hdu == b.hdu && a.bands == b.bands && a.planes == b.planes &&
           a.width == b.width && a.height == b.height && a.pixscaleArcsec == b.pixscaleArcsec && a.unit == b.unit &&
           a.ivarRef == b.ivarRef && a.segmapRef == b.segmapRef && a.depthmapRef == b.depthmapRef &&
           a.psfRef == b.psfRef && sameBytes(a.pixels, b.pixels);
}

inline bool sameSpectrum(const SpectrumRecord& a, const SpectrumRecord& b) {
    return sameBytes(a.flux, b.flux) && sameBytes(a.ivar, b.ivar) && a.mask == b.mask && a.path == b.path &&
           a.format == b.format && a.native == b.native && a.unit == b.unit && a.nativeWaveMin == b.nativeWaveMin &&
           a.nativeWaveMax == b.nativeWaveMax;
}

// One integer a PRAGMA or query returns, read without the Catalog's help.
inline int64_t queryInt(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return -1;
    const int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

inline std::string queryText(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return "<error>";
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

} // namespace astroclip::testing
