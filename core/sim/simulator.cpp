#include "core/sim/simulator.h"

#include "core/common/error.h"
#include "core/data/wavegrid.h"
#include "core/sim/population.h"
#include "core/sim/render.h"
#include "core/sim/survey_files.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <thread>

namespace astroclip::sim {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSpeedOfLightKmS = 299792.458;
// Random-stream purposes for makeRng(seed, index, purpose).
enum Purpose : uint64_t { kPlacement = 1, kCentral = 2, kNeighbour = 3, kTidal = 4, kSpectrumNoise = 5, kRedshiftFit = 6, kRender = 7 };

struct Rendered {
    SimObject object;
    RenderedCutout cutout;
};

Sample drawSample(const SimParams& p, Rng& rng) {
    const double total = p.fractionBgs + p.fractionLrg + p.fractionElg;
    const double u = std::uniform_real_distribution<double>(0, total)(rng);
    if (u < p.fractionBgs) return Sample::BGS;
    if (u < p.fractionBgs + p.fractionLrg) return Sample::LRG;
    return Sample::ELG;
}

// Tidal features are more common around massive and early-type galaxies (e.g. Bílek et al. 2020;
// Atkinson et al. 2013); the weights average to ~1 over the target mix.
double tidalWeight(const GalaxyTruth& g) {
    const double w = (g.quenched ? 1.4 : 0.5) * std::pow(10.0, 0.5 * (g.logMstar - 10.8));
    return std::clamp(w, 0.1, 4.0);
}

TidalKind drawTidalKind(const GalaxyTruth& g, Rng& rng) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    // Shells mostly around ellipticals; tails and streams around discs.
    const std::array<double, 3> p = g.quenched ? std::array<double, 3>{0.5, 0.3, 0.2} : std::array<double, 3>{0.1, 0.4, 0.5};
    if (u < p[0]) return TidalKind::Shells;
    if (u < p[0] + p[1]) return TidalKind::Stream;
    return TidalKind::Tail;
}

Rendered simulateOne(const SimParams& p, int64_t index) {
    Rendered out;
    SimObject& o = out.object;
    o.index = index;
    o.targetId = 39600000000000000LL + int64_t(p.seed % 100000) * 10000000LL + index;
    Rng place = makeRng(p.seed, index, kPlacement);
    const Sample sample = drawSample(p, place);
    std::uniform_real_distribution<double> u01(0, 1);
    const double d2r = kPi / 180;
    o.ra = p.raCentreDeg + p.halfWidthDeg * (2 * u01(place) - 1);
    const double s0 = std::sin((p.decCentreDeg - p.halfWidthDeg) * d2r), s1 = std::sin((p.decCentreDeg + p.halfWidthDeg) * d2r);
    o.dec = std::asin(s0 + (s1 - s0) * u01(place)) / d2r;
    o.program = sample == Sample::BGS ? Program::Bright : Program::Dark;

    Rng central = makeRng(p.seed, index, kCentral);
    o.truth = drawGalaxy(sample, central);
    o.truth.galaxy.id = o.targetId;

    // A blend: a galaxy of the parent population at another redshift, a few to ~25 px away.
    Rng nb = makeRng(p.seed, index, kNeighbour);
    if (u01(nb) < p.blendFraction) {
        o.hasNeighbour = true;
        GalaxyTruth n = drawGalaxy(Sample::Neighbour, nb, o.truth.z);
        const double rMax = std::max(6.0, std::min(25.0, 0.5 * p.size - 6.0));
        const double r = 4.0 + (rMax - 4.0) * u01(nb), phi = 2 * kPi * u01(nb);
        o.neighbour.galaxy = n.galaxy;
        o.neighbour.dxPix = r * std::cos(phi);
        o.neighbour.dyPix = r * std::sin(phi);
        o.neighbourMagR = 22.5 - 2.5 * std::log10(n.flux[1]);
    }
    Rng td = makeRng(p.seed, index, kTidal);
    if (u01(td) < std::min(1.0, p.tidalFraction * tidalWeight(o.truth))) {
        o.tidal = drawTidalKind(o.truth, td);
        // Rest-frame ridge brightness of observed shells and streams (~24.5–26.5 r mag/arcsec²),
        // then Tolman dimming, 10 log10(1+z) mag: what the survey sees fades with redshift, so
        // features are easy to spot at z ≈ 0.1 (observed ≈ 25–27) and all but lost at z ≈ 1.
        o.tidalMuR = 24.5 + 2.0 * u01(td) + 10.0 * std::log10(1.0 + o.truth.z);
    }

    // Spectrum: noiseless fibre model, then the three arms with their own noise.
    const std::vector<double> model = modelOnDesiGrid(o.truth.model, o.truth.pop.vdispKms, o.truth.specAperture);
    o.truth.model = ObservedModel{};  // large; not needed any more
    o.trueFlux.assign(model.begin(), model.end());
    Rng noise = makeRng(p.seed, index, kSpectrumNoise);
    o.spectrum = observeSpectrum(model, o.program, noise);

    // Redshift fit as redrock would report it: the true z within a velocity error that shrinks
    // with S/N; a small, S/N-dependent share of failures flagged with ZWARN (SMALL_DELTA_CHI2).
    Rng fit = makeRng(p.seed, index, kRedshiftFit);
    const double snr = o.spectrum.medianSnrR;
    const double oii = o.truth.lineFlux[kOII3727], ha = o.truth.lineFlux[kHalpha];
    const double lineStrength = std::max(oii, o.truth.z < 0.45 ? ha : 0.0);
    const double failP = std::clamp(0.03 / (1 + snr * snr) + 0.02 / (1 + lineStrength / 5.0), 0.0, 0.2);
    if (u01(fit) < failP) {
        const SampleRange r = sampleRange(sample);
        o.zRedrock = r.zMin + (r.zMax - r.zMin) * u01(fit);
        o.zErr = (1 + o.zRedrock) * 200.0 / kSpeedOfLightKmS;
        o.zwarn = 4;
        o.deltaChi2 = 1 + 8 * u01(fit);
    } else {
        const double sigmaV = 8.0 + 60.0 / (1 + snr + lineStrength / 3.0);  // km/s
        o.zErr = (1 + o.truth.z) * sigmaV / kSpeedOfLightKmS;
        o.zRedrock = o.truth.z + std::normal_distribution<double>(0, o.zErr)(fit);
        o.zwarn = 0;
        o.deltaChi2 = 25 + 400 * snr * snr + 50 * lineStrength;
    }

    CutoutScene scene;
    scene.central = o.truth.galaxy;
    if (o.hasNeighbour) scene.neighbours.push_back(o.neighbour);
    scene.tidal = o.tidal;
    scene.tidalMuR = o.tidal != TidalKind::None ? o.tidalMuR : 26.0;
    scene.size = p.size;
    Rng render = makeRng(p.seed, index, kRender);
    out.cutout = renderCutout(scene, render);
    o.cutoutFile = "cutouts/cutout-" + std::to_string(o.targetId) + ".fits";
    return out;
}

void validate(const SimParams& p) {
    if (p.outDir.empty()) throw UsageError("simulate: an output folder is required");
    if (p.n <= 0) throw UsageError("simulate: the number of galaxies must be positive (got " + std::to_string(p.n) + ")");
    if (p.size < 32) throw UsageError("simulate: cutouts must be at least 32 pixels (got " + std::to_string(p.size) + ")");
    if (p.fractionBgs < 0 || p.fractionLrg < 0 || p.fractionElg < 0 || p.fractionBgs + p.fractionLrg + p.fractionElg <= 0)
        throw UsageError("simulate: sample fractions must be non-negative with a positive sum");
    if (p.blendFraction < 0 || p.blendFraction > 1 || p.tidalFraction < 0 || p.tidalFraction > 1)
        throw UsageError("simulate: blend and tidal fractions must lie in [0, 1]");
    if (p.targetsPerFile <= 0) throw UsageError("simulate: targets per spectrum file must be positive");
    if (p.halfWidthDeg <= 0 || std::abs(p.decCentreDeg) + p.halfWidthDeg >= 90)
        throw UsageError("simulate: the survey patch must lie inside -90 < Dec < 90");
}

} // namespace

SimSummary simulateSurvey(const SimParams& params, const ProgressFn& progress) {
    validate(params);
    const auto start = std::chrono::steady_clock::now();
    namespace fs = std::filesystem;
    const fs::path out(params.outDir);
    std::error_code ec;
    fs::create_directories(out / "cutouts", ec);
    if (!ec) fs::create_directories(out / "spectra", ec);
    if (ec) throw FileError(params.outDir, "cannot create the output folders: " + ec.message());

    // Load the shared tables before the workers start (they are built once, on first use).
    KcorrectTemplates::shipped();
    ContinuumBandTable::shipped();
    skySpectrum(Program::Dark);

    const int threads = std::max(1, params.threads > 0 ? params.threads : int(std::thread::hardware_concurrency()));
    const int batch = std::max(8, 4 * threads);
    SimSummary summary;
    summary.outDir = params.outDir;
    summary.n = params.n;
    std::vector<SimObject> done;  // spectra released once their file is written
    done.reserve(params.n);
    std::vector<size_t> fileRows;  // indices into `done` waiting for the current spectrum file
    int fileIndex = 0;

    auto flushSpectra = [&]() {
        if (fileRows.empty()) return;
        const std::string stem = "spectra/";
        const std::string coadd = stem + "coadd-sim-" + std::to_string(fileIndex) + ".fits";
        const std::string redrock = stem + "redrock-sim-" + std::to_string(fileIndex) + ".fits";
        std::vector<const SimObject*> rows;
        for (size_t i = 0; i < fileRows.size(); ++i) {
            SimObject& o = done[fileRows[i]];
            o.specFile = coadd;
            o.specRow = int(i);
            rows.push_back(&o);
        }
        writeCoaddFile((out / coadd).string(), rows);
        writeRedrockFile((out / redrock).string(), rows);
        summary.spectraFiles.push_back(coadd);
        summary.spectraFiles.push_back(redrock);
        for (size_t i : fileRows) {  // keep the truth, drop the pixels
            done[i].trueFlux = {};
            done[i].spectrum.arms = {};
        }
        fileRows.clear();
        ++fileIndex;
    };

    for (int64_t first = 0; first < params.n; first += batch) {
        const int64_t count = std::min<int64_t>(batch, params.n - first);
        std::vector<Rendered> results(count);
        std::atomic<int64_t> next{0};
        std::vector<std::exception_ptr> errors(threads);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                try {
                    for (int64_t k; (k = next++) < count;) results[k] = simulateOne(params, first + k);
                } catch (...) {
                    errors[t] = std::current_exception();
                    next = count;
                }
            });
        for (auto& th : pool) th.join();
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
        // Sequential writing, in index order.
        for (int64_t k = 0; k < count; ++k) {
            Rendered& r = results[k];
            writeCutoutFits((out / r.object.cutoutFile).string(), r.cutout, r.object.targetId, r.object.ra, r.object.dec);
            r.cutout = RenderedCutout{};
            SimObject& o = done.emplace_back(std::move(r.object));
            ++summary.perSample[int(o.truth.sample)];
            summary.blends += o.hasNeighbour;
            summary.tidal += o.tidal != TidalKind::None;
            fileRows.push_back(done.size() - 1);
            if (int(fileRows.size()) == params.targetsPerFile) flushSpectra();
            report(progress, Progress{"simulate", int64_t(done.size()), params.n, o.cutoutFile});
        }
    }
    flushSpectra();
    summary.truthFile = "truth.fits";
    writeTruthFile((out / summary.truthFile).string(), done, params.seed);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

} // namespace astroclip::sim
