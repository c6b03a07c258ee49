#include "core/sim/spectral_templates.h"

#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/io/fits.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace astroclip::sim {

const std::vector<EmissionLine>& nebularLines() {
    // Vacuum wavelengths (NIST / SDSS line lists).
    static const std::vector<EmissionLine> lines = {
        {"[OII]3727", 3727.092}, {"[OII]3729", 3729.875}, {"[NeIII]3869", 3870.160}, {"H8", 3890.166},
        {"[NeIII]3968", 3968.600}, {"Hepsilon", 3971.198}, {"Hdelta", 4102.892}, {"Hgamma", 4341.692},
        {"[OIII]4363", 4364.436}, {"Hbeta", 4862.683}, {"[OIII]4959", 4960.295}, {"[OIII]5007", 5008.240},
        {"HeI5876", 5877.249}, {"[OI]6300", 6302.046}, {"[OI]6363", 6365.536}, {"[NII]6548", 6549.861},
        {"Halpha", 6564.608}, {"[NII]6584", 6585.273}, {"[SII]6716", 6718.294}, {"[SII]6731", 6732.674},
        {"[ArIII]7135", 7137.770}, {"[OII]7320", 7321.940}, {"[OII]7330", 7332.210}, {"[SIII]9069", 9071.100},
        {"[SIII]9532", 9533.200}};
    return lines;
}

namespace {
int lineIndex(const char* name) {
    const auto& l = nebularLines();
    for (size_t i = 0; i < l.size(); ++i)
        if (std::string(l[i].name) == name) return int(i);
    assert(false && "unknown line name");
    return -1;
}
} // namespace

const std::vector<int>& truthLineMembers(TruthLine t) {
    static const std::array<std::vector<int>, kTruthLines> members = {
        std::vector<int>{lineIndex("[OII]3727"), lineIndex("[OII]3729")}, {lineIndex("Hbeta")},
        {lineIndex("[OIII]4959")}, {lineIndex("[OIII]5007")}, {lineIndex("Halpha")}, {lineIndex("[NII]6548")},
        {lineIndex("[NII]6584")}, {lineIndex("[SII]6716")}, {lineIndex("[SII]6731")}};
    return members[t];
}

KcorrectTemplates::KcorrectTemplates(const std::string& path) : path_(path) {
    FitsFile f = FitsFile::open(path);
    if (!f.moveToName("FLUX")) throw FileError(path, "no FLUX table: not a kcorrect template file");
    const int cw = f.columnIndex("wave"), cf = f.columnIndex("flux");
    if (!cw || !cf) throw FileError(path, "FLUX table lacks the 'wave' or 'flux' column");
    wave_ = f.readCellDouble(cw, 1);
    const std::vector<double> flux = f.readCellDouble(cf, 1);
    if (wave_.size() < 100 || flux.size() != wave_.size() * kTemplates)
        throw FileError(path, "FLUX table: expected 5 templates on the wave grid, got " + std::to_string(flux.size()) +
                                  " values for " + std::to_string(wave_.size()) + " wavelengths");
    for (size_t i = 1; i < wave_.size(); ++i)
        if (!(wave_[i] > wave_[i - 1])) throw FileError(path, "FLUX table: wavelengths are not increasing");
    for (int t = 0; t < kTemplates; ++t)
        full_[t].assign(flux.begin() + t * wave_.size(), flux.begin() + (t + 1) * wave_.size());
    auto readVec = [&](const char* name, std::array<double, kTemplates>& out) {
        if (!f.moveToName(name)) throw FileError(path, std::string("no ") + name + " image HDU");
        const auto v = f.readImageDouble();
        if (v.size() != kTemplates) throw FileError(path, std::string(name) + ": expected 5 values");
        std::copy(v.begin(), v.end(), out.begin());
    };
    readVec("MREMAIN", mremain_);
    readVec("M300", m300_);
    readVec("METS", mets_);
    std::array<double, kTemplates> intsfh{};
    readVec("INTSFH", intsfh);
    for (int t = 0; t < kTemplates; ++t)
        if (std::abs(intsfh[t] - 1.0) > 1e-3)
            throw FileError(path, "INTSFH is not 1: templates are expected per solar mass formed");
    splitLines();
}

const KcorrectTemplates& KcorrectTemplates::shipped() {
    static const KcorrectTemplates t(resourcePath("templates/kcorrect-default-v4.fits").string());
    return t;
}

void KcorrectTemplates::splitLines() {
    const auto& lines = nebularLines();
    const int nl = int(lines.size()), np = int(wave_.size());
    // Lines closer than 25 Å blend at the template sampling: measure them as one group and
    // share the group's flux by nearest line centre.
    std::vector<std::vector<int>> groups;
    for (int l = 0; l < nl; ++l) {
        if (!groups.empty() && lines[l].restWave - lines[groups.back().back()].restWave < 25.0) groups.back().push_back(l);
        else groups.push_back({l});
    }
    auto pixelAt = [&](double w) { return int(std::lower_bound(wave_.begin(), wave_.end(), w) - wave_.begin()); };
    // Windows: the group's span plus 3 template pixels each side.
    std::vector<std::pair<int, int>> windows;
    for (const auto& g : groups) {
        const int a = pixelAt(lines[g.front()].restWave), b = pixelAt(lines[g.back()].restWave);
        windows.push_back({std::max(1, a - 3), std::min(np - 2, b + 3)});
    }
    auto inAnyWindow = [&](int i) {
        for (const auto& [a, b] : windows) if (i >= a && i <= b) return true;
        return false;
    };
    for (int t = 0; t < kTemplates; ++t) {
        continuum_[t] = full_[t];
        lineFlux_[t].assign(nl, 0.0);
        const auto& f = full_[t];
        for (size_t gi = 0; gi < groups.size(); ++gi) {
            const auto [a, b] = windows[gi];
            // Sidebands: the 5 nearest line-free pixels on each side; their medians anchor a
            // straight local continuum.
            auto sideband = [&](int start, int step) {
                std::vector<double> w, v;
                for (int i = start; i >= 0 && i < np && int(v.size()) < 5; i += step)
                    if (!inAnyWindow(i)) { w.push_back(wave_[i]); v.push_back(f[i]); }
                std::vector<double> vs = v;
                std::nth_element(vs.begin(), vs.begin() + vs.size() / 2, vs.end());
                double wm = 0;
                for (double x : w) wm += x;
                return std::pair<double, double>{wm / w.size(), vs[vs.size() / 2]};
            };
            const auto [wl, fl] = sideband(a - 1, -1);
            const auto [wr, fr] = sideband(b + 1, +1);
            std::vector<double> excess(b - a + 1);
            double total = 0, contAtCentre = 0;
            for (int i = a; i <= b; ++i) {
                const double c = fl + (fr - fl) * (wave_[i] - wl) / (wr - wl);
                excess[i - a] = std::max(0.0, f[i] - c);
                contAtCentre = std::max(contAtCentre, c);
                total += excess[i - a] * 0.5 * (wave_[i + 1] - wave_[i - 1]);
            }
            // A group with less than 0.3 Å of equivalent width is noise in the template, not a line.
            if (!(contAtCentre > 0) || total / contAtCentre < 0.3) continue;
            const auto& g = groups[gi];
            for (int i = a; i <= b; ++i) {
                int best = g.front();
                for (int l : g)
                    if (std::abs(wave_[i] - lines[l].restWave) < std::abs(wave_[i] - lines[best].restWave)) best = l;
                lineFlux_[t][best] += excess[i - a] * 0.5 * (wave_[i + 1] - wave_[i - 1]);
                continuum_[t][i] = f[i] - excess[i - a];
            }
        }
        // Doublets whose ratio atomic physics fixes, or the template sampling cannot split:
        // [NII] 6584/6548 = 3.05; [OII] 3729/3727 = 1.35 (n_e ~ 100 cm^-3).
        auto split = [&](const char* weak, const char* strong, double ratio) {
            const int w = lineIndex(weak), s = lineIndex(strong);
            const double sum = lineFlux_[t][w] + lineFlux_[t][s];
            lineFlux_[t][w] = sum / (1 + ratio);
            lineFlux_[t][s] = sum * ratio / (1 + ratio);
        };
        split("[NII]6548", "[NII]6584", 3.05);
        split("[OII]3727", "[OII]3729", 1.35);
        // Nebular emission always shows Hα; a template without it (EW < 3 Å) has no gas lines,
        // and what the windows picked up are wiggles of its stellar continuum: keep them there.
        const int ha = lineIndex("Halpha");
        const int iha = pixelAt(lines[ha].restWave);
        if (lineFlux_[t][ha] < 3.0 * continuum_[t][iha]) {
            continuum_[t] = full_[t];
            lineFlux_[t].assign(nl, 0.0);
        }
    }
}

double calzettiK(double waveAngstrom) {
    constexpr double rv = 4.05;
    auto blue = [](double x) {  // x = 1/λ[µm], 0.12–0.63 µm
        return 2.659 * (-2.156 + 1.509 * x - 0.198 * x * x + 0.011 * x * x * x) + rv;
    };
    const double lam = std::max(waveAngstrom, 900.0) * 1e-4;
    if (lam < 0.12) {
        const double x0 = 1 / 0.12, slope = 2.659 * (1.509 - 0.396 * x0 + 0.033 * x0 * x0);
        return blue(x0) + slope * (1 / lam - x0);
    }
    if (lam < 0.63) return blue(1 / lam);
    return std::max(0.0, 2.659 * (-1.857 + 1.040 / lam) + rv);
}

} // namespace astroclip::sim
