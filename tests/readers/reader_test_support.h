#pragma once
// Helpers shared by the image/table reader tests: a registry with the image and table
// readers, reading a file through it, and astropy as the independent peer.
#include "core/common/error.h"
#include "core/ingest/reader.h"
#include "plugins/readers/builtin.h"

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QtTest>

#include <filesystem>
#include <map>
#include <string>

namespace readertest {

inline QString sharedData() { return QStringLiteral(ASTROCLIP_SHARED_DATA); }
inline bool haveSharedData() { return std::filesystem::is_directory(ASTROCLIP_SHARED_DATA "/real"); }
inline std::string real(const char* rel) { return std::string(ASTROCLIP_SHARED_DATA) + "/real/" + rel; }

inline astroclip::ReaderRegistry& imageTableRegistry() {
    static astroclip::ReaderRegistry reg = [] {
        astroclip::ReaderRegistry r;
        astroclip::registerImageAndTableReaders(r);
        return r;
    }();
    return reg;
}

// Every built-in reader (spectral ones included), as the ingest driver sees them.
inline astroclip::ReaderRegistry& builtinRegistry() {
    static astroclip::ReaderRegistry reg = [] {
        astroclip::ReaderRegistry r;
        astroclip::registerBuiltinReaders(r);
        return r;
    }();
    return reg;
}

// Probes the file, picks the reader; nullptr when none wants it.
inline const astroclip::Reader* readerFor(const std::string& path) {
    return imageTableRegistry().select(astroclip::probeFile(path));
}

inline astroclip::ReadResult readFile(const std::string& path, const astroclip::ReaderOptions& options = {}) {
    const auto probe = astroclip::probeFile(path);
    const astroclip::Reader* r = imageTableRegistry().select(probe);
    if (!r) throw std::runtime_error("no reader selected for " + path);
    return r->read(probe, options);
}

// Runs a Python snippet with the system python (astropy, numpy); returns stdout lines.
inline QStringList runPython(const QString& script) {
    QProcess p;
    p.start("/usr/bin/python3", {"-c", script});
    if (!p.waitForFinished(120000) || p.exitCode() != 0) {
        qWarning("python failed: %s", p.readAllStandardError().constData());
        return {};
    }
    return QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
}

struct SkyPos {
    double ra = 0, dec = 0;
};
// astropy.wcs world coordinates of the centre of the first image HDU with data, per file.
inline std::map<std::string, SkyPos> astropyCentres(const std::vector<std::string>& paths) {
    QString list;
    for (const auto& p : paths) list += "'" + QString::fromStdString(p) + "',";
    const QString script = QStringLiteral(
        "import warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from astropy.io import fits\n"
        "from astropy.wcs import WCS\n"
        "for p in [%1]:\n"
        "    with fits.open(p) as h:\n"
        "        hdu = next(x for x in h if x.is_image and x.data is not None)\n"
        "        w = WCS(hdu.header, naxis=2)\n"
        "        ny, nx = hdu.data.shape[-2:]\n"
        "        ra, dec = w.all_pix2world((nx - 1) / 2.0, (ny - 1) / 2.0, 0)\n"
        "        print(p, repr(float(ra)), repr(float(dec)))\n").arg(list);
    std::map<std::string, SkyPos> out;
    for (const QString& line : runPython(script)) {
        const auto f = line.split(' ');
        if (f.size() == 3) out[f[0].toStdString()] = {f[1].toDouble(), f[2].toDouble()};
    }
    return out;
}

inline double sepArcsec(double ra1, double dec1, double ra2, double dec2) {
    const double d = M_PI / 180;
    const double a = std::pow(std::sin((dec2 - dec1) * d / 2), 2) +
                     std::cos(dec1 * d) * std::cos(dec2 * d) * std::pow(std::sin((ra2 - ra1) * d / 2), 2);
    return 2 * std::asin(std::sqrt(a)) / d * 3600;
}

inline bool hasKey(const astroclip::ObjectRecord& o, const std::string& k) {
    return std::find(o.keys.begin(), o.keys.end(), k) != o.keys.end();
}

} // namespace readertest
