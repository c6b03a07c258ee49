#include "stage_test_data.h"

#include "core/dataset/spectrum_arrays.h"

#include <cmath>
#include <random>

namespace astroclip::stagetest {

namespace {

constexpr double kRestLines[] = {3727.0, 4861.0, 5007.0, 6563.0};
constexpr double kLineStrength[] = {3.0, 2.0, 4.0, 6.0};

double bandMean(const std::vector<float>& flux, const std::vector<double>& wave, double lo, double hi) {
    double sum = 0;
    int count = 0;
    for (size_t k = 0; k < wave.size(); ++k)
        if (wave[k] >= lo && wave[k] < hi) {
            sum += flux[k];
            ++count;
        }
    return count > 0 ? sum / count : 0.0;
}

} // namespace

std::shared_ptr<DatasetSnapshot> galaxySnapshot(int n, int crop, uint64_t seed) {
    auto snap = std::make_shared<DatasetSnapshot>();
    const int length = downsampledLength(kDownsample);
    snap->catalogPath = "in-memory test survey";
    snap->params.modality = crop > 0 ? Modality::Both : Modality::Spectrum;
    snap->params.cropSize = crop;
    snap->params.spectrumDownsample = kDownsample;
    snap->counts.selected = snap->counts.loaded = n;
    snap->cropSize = crop;
    snap->spectrumLength = length;

    std::vector<double> wave(static_cast<size_t>(length));
    for (int k = 0; k < length; ++k) wave[size_t(k)] = downsampledWave(k, kDownsample);

    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> gauss(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
        snap->ids.push_back(i + 1);
        const double z = 0.5 * unit(rng), amp = 1.0 + 4.0 * unit(rng), slope = -1.0 + 2.0 * unit(rng);
        const double lineAmp = 0.5 + 1.5 * unit(rng), noise = 0.05 * amp;
        std::vector<float> flux(static_cast<size_t>(length)), ivar(static_cast<size_t>(length));
        for (int k = 0; k < length; ++k) {
            const double lam = wave[size_t(k)];
            double f = amp * std::pow(lam / 6000.0, slope) * (lam < 4000.0 * (1 + z) ? 0.6 : 1.0);
            for (int l = 0; l < 4; ++l) {
                const double d = (lam - kRestLines[l] * (1 + z)) / 15.0;
                f += amp * lineAmp * kLineStrength[l] * 0.3 * std::exp(-0.5 * d * d);
            }
            const bool dead = unit(rng) < 0.03;
            flux[size_t(k)] = dead ? 0.0f : float(f + noise * gauss(rng));
            ivar[size_t(k)] = dead ? 0.0f : float(1.0 / (noise * noise));
        }
        if (crop > 0) {
            const double bands[3] = {bandMean(flux, wave, 4000, 5500), bandMean(flux, wave, 5500, 7000),
                                     bandMean(flux, wave, 8500, 9800)};
            const double sigma = 1.0 + 6.0 * z, c = 0.5 * (crop - 1);
            for (int b = 0; b < 3; ++b)
                for (int y = 0; y < crop; ++y)
                    for (int x = 0; x < crop; ++x) {
                        const double r2 = ((x - c) * (x - c) + (y - c) * (y - c)) / (sigma * sigma);
                        snap->images.push_back(float(0.3 * bands[b] * std::exp(-0.5 * r2) + 0.02 * gauss(rng)));
                        snap->imageMask.push_back(1);
                    }
            snap->bandPresent.insert(snap->bandPresent.end(), {1, 1, 1});
        }
        snap->spectrumFlux.insert(snap->spectrumFlux.end(), flux.begin(), flux.end());
        snap->spectrumIvar.insert(snap->spectrumIvar.end(), ivar.begin(), ivar.end());
    }
    return snap;
}

} // namespace astroclip::stagetest
