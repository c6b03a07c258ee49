#include "plugins/readers/spec_common.h"

#include "core/common/error.h"
#include "core/data/wavegrid.h"


#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

namespace astroclip::spec {

namespace {
bool validPixel(double flux, double ivar) { return ivar > 0 && std::isfinite(ivar) && std::isfinite(flux); }

std::string fmtAngstrom(double w) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", w);
    return buf;
}
} // namespace

GridMerger::GridMerger() : ivarSum_(DesiGrid::kSize, 0.0), weightedFlux_(DesiGrid::kSize, 0.0) {}

void GridMerger::noteNativeRange(double lo, double hi) {
    if (!(std::isfinite(lo) && std::isfinite(hi))) return;
    if (!anyRange_) {
        waveMin_ = lo;
        waveMax_ = hi;
        anyRange_ = true;
    } else {
        waveMin_ = std::min(waveMin_, lo);
        waveMax_ = std::max(waveMax_, hi);
    }
}

std::optional<int> GridMerger::gridOffset(std::span<const double> wave) {
    if (wave.empty() || !std::isfinite(wave[0])) return std::nullopt;
    const double start = (wave[0] - DesiGrid::kWaveMin) / DesiGrid::kStep;
    const double rounded = std::round(start);
    if (std::abs(start - rounded) > 1e-3 || std::abs(rounded) > 1e7) return std::nullopt;
    const int offset = int(rounded);
    for (size_t i = 0; i < wave.size(); ++i) {
        const double expected = DesiGrid::kWaveMin + DesiGrid::kStep * (offset + double(i));
        if (!(std::abs(wave[i] - expected) <= 1e-3 * DesiGrid::kStep)) return std::nullopt;
    }
    return offset;
}

void GridMerger::addOnGrid(int offset, std::span<const float> flux, std::span<const float> ivar) {
    const long n = long(flux.size());
    if (n > 0) noteNativeRange(DesiGrid::wave(offset), DesiGrid::wave(offset + int(n) - 1));
    for (long i = 0; i < n; ++i) {
        const long g = offset + i;
        const double f = flux[i], iv = ivar[i];
        if (!validPixel(f, iv)) {
            ++invalidInput_;
            continue;
        }
        if (g < 0 || g >= DesiGrid::kSize) continue;
        ivarSum_[g] += iv;
        weightedFlux_[g] += iv * f;
    }
    if (offset < DesiGrid::kSize && offset + n > 0) overlapsGrid_ = true;
}

void GridMerger::addResampled(std::span<const double> wave, std::span<const double> flux,
                              std::span<const double> ivar) {
    if (wave.size() < 2) return;
    noteNativeRange(wave.front(), wave.back());
    for (size_t i = 0; i < flux.size(); ++i)
        if (!validPixel(flux[i], ivar[i])) ++invalidInput_;
    const double gridLo = DesiGrid::kWaveMin - DesiGrid::kStep / 2, gridHi = DesiGrid::kWaveMax + DesiGrid::kStep / 2;
    if (wave.back() <= gridLo || wave.front() >= gridHi) return;
    overlapsGrid_ = true;
    static const std::vector<double> grid = DesiGrid::waves();
    const Rebinned r = rebinSpectrum(wave, flux, ivar, grid);
    for (int g = 0; g < DesiGrid::kSize; ++g) {
        if (r.mask[g]) continue;
        ivarSum_[g] += r.ivar[g];
        weightedFlux_[g] += double(r.ivar[g]) * r.flux[g];
    }
}

SpectrumRecord GridMerger::finish(const std::string& path, const std::string& format, const std::string& native) {
    const std::string coverage =
        anyRange_ ? " (native coverage " + fmtAngstrom(waveMin_) + "–" + fmtAngstrom(waveMax_) + " Å)" : std::string();
    if (!overlapsGrid_)
        throw FileError(path, native + ": spectrum does not overlap 3600–9824 Å" + coverage);
    SpectrumRecord s;
    s.flux.assign(DesiGrid::kSize, 0.f);
    s.ivar.assign(DesiGrid::kSize, 0.f);
    s.mask.assign(DesiGrid::kSize, 1);
    int valid = 0;
    for (int g = 0; g < DesiGrid::kSize; ++g) {
        if (!(ivarSum_[g] > 0)) continue;
        const double f = weightedFlux_[g] / ivarSum_[g];
        const float fv = float(f), iv = float(ivarSum_[g]);
        if (!std::isfinite(fv) || !std::isfinite(iv) || !(iv > 0)) continue;
        s.flux[g] = fv;
        s.ivar[g] = iv;
        s.mask[g] = 0;
        ++valid;
    }
    if (valid == 0)
        throw FileError(path, native + ": spectrum has no valid pixel (inverse variance all zero, or every pixel "
                                       "masked or not finite, within 3600–9824 Å)" + coverage);
    s.path = path;
    s.format = format;
    s.native = native;
    s.nativeWaveMin = waveMin_;
    s.nativeWaveMax = waveMax_;
    return s;
}

double airToVacuum(double air) {
    if (!(air > 2000)) return air;
    const double s2 = (1e4 / air) * (1e4 / air);
    const double n = 1 + 0.00008336624212083 + 0.02408926869968 / (130.1065924522 - s2) +
                     0.0001599740894897 / (38.92568793293 - s2);
    return air * n;
}

int columnIndex(const FileProbe::Hdu& h, const std::string& name) {
    const std::string want = upper(name);
    for (size_t i = 0; i < h.columns.size(); ++i)
        if (h.columns[i] == want) return int(i) + 1;
    return 0;
}

int requireColumn(const std::string& path, const FileProbe::Hdu& h, const std::string& name) {
    const int idx = columnIndex(h, name);
    if (idx <= 0) throw FileError(path, hduLabel(h) + " HDU has no " + name + " column");
    return idx;
}

TableColumn describeColumn(FitsFile& f, int index) {
    TableColumn c;
    c.index = index;
    const std::string n = std::to_string(index);
    const std::string tform = upper(trim(f.keyString("TFORM" + n).value_or("")));
    size_t digits = 0;
    while (digits < tform.size() && std::isdigit(static_cast<unsigned char>(tform[digits]))) ++digits;
    c.repeat = digits ? std::stol(tform.substr(0, digits)) : 1;
    c.kind = digits < tform.size() ? tform[digits] : 0;
    c.unit = trim(f.keyString("TUNIT" + n).value_or(""));
    return c;
}

std::vector<ColumnValues> readScalarColumns(FitsFile& f, const FileProbe::Hdu& h,
                                            const std::vector<std::string>& names, long nrows) {
    std::vector<ColumnValues> out;
    if (nrows <= 0) return out;
    for (const auto& name : names) {
        const int idx = columnIndex(h, name);
        if (idx <= 0) continue;
        const TableColumn c = describeColumn(f, idx);
        ColumnValues cv;
        cv.name = lower(name);
        cv.values.resize(size_t(nrows));
        if (c.kind == 'A') {
            auto v = f.readColumnString(idx, 1, nrows);
            for (long r = 0; r < nrows; ++r) cv.values[r] = std::move(v[r]);
        } else if (c.repeat != 1 || !std::strchr("BIJKED", c.kind)) {
            continue;  // vector, variable-length, logical, bit or complex cells are no catalogue values
        } else if (c.kind == 'E' || c.kind == 'D') {
            auto v = f.readColumnDouble(idx, 1, nrows);
            for (long r = 0; r < nrows; ++r)
                if (std::isfinite(v[r])) cv.values[r] = v[r];
        } else {
            try {
                auto v = f.readColumnInt64(idx, 1, nrows);
                for (long r = 0; r < nrows; ++r) cv.values[r] = v[r];
            } catch (const FileError&) {
                // An unsigned 64-bit column beyond int64: keep it as a real rather than fail.
                auto d = f.readColumnDouble(idx, 1, nrows);
                for (long r = 0; r < nrows; ++r) cv.values[r] = d[r];
            }
        }
        out.push_back(std::move(cv));
    }
    return out;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return s;
}
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}
std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t'");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t'");
    return s.substr(b, e - b + 1);
}
std::string baseName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::optional<double> parseSexagesimal(const std::string& textIn, bool hours) {
    std::string text = trim(textIn);
    if (text.empty()) return std::nullopt;
    for (char& c : text)
        if (c == ':' || c == 'h' || c == 'm' || c == 'd' || c == 's') c = ' ';
    bool negative = false;
    size_t pos = 0;
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) {
        negative = text[pos] == '-';
        ++pos;
    }
    double parts[3] = {0, 0, 0};
    int nparts = 0;
    const char* p = text.c_str() + pos;
    while (*p && nparts < 3) {
        char* end = nullptr;
        const double v = std::strtod(p, &end);
        if (end == p) return std::nullopt;
        parts[nparts++] = v;
        p = end;
        while (*p == ' ') ++p;
    }
    if (*p || nparts == 0) return std::nullopt;
    if (nparts == 1) return negative ? -parts[0] : parts[0];  // a plain number: degrees
    if (parts[1] < 0 || parts[1] >= 60 || parts[2] < 0 || parts[2] >= 60) return std::nullopt;
    double v = parts[0] + parts[1] / 60 + parts[2] / 3600;
    if (hours) v *= 15;
    return negative ? -v : v;
}

std::optional<FileProbe::Hdu> moveToHdu(FitsFile& f, const FileProbe& probe, const std::string& extname) {
    if (!probe.hdus.empty()) {
        const FileProbe::Hdu* h = probe.hduNamed(upper(extname));
        if (!h) return std::nullopt;
        f.moveTo(h->index);
        return *h;
    }
    if (!f.moveToName(extname)) return std::nullopt;
    FileProbe::Hdu h;
    h.index = f.currentHdu();
    h.extname = upper(extname);
    if (f.hduType() == HduType::Image) {
        h.shape = f.imageShape();
    } else {
        h.type = FileProbe::Hdu::Type::Table;
        h.shape = {f.numRows()};
        for (const auto& c : f.columns()) h.columns.push_back(upper(c.name));
    }
    return h;
}

FileProbe::Hdu requireHdu(FitsFile& f, const FileProbe& probe, const std::string& extname, const std::string& why) {
    auto h = moveToHdu(f, probe, extname);
    if (!h) throw FileError(f.path(), "no " + extname + " HDU (" + why + ")");
    return *h;
}

std::string hduLabel(const FileProbe::Hdu& h) { return h.extname.empty() ? "HDU " + std::to_string(h.index) : h.extname; }

} // namespace astroclip::spec
