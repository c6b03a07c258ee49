#pragma once
// Shared ground for the "learning is real" tests: the simulated survey the ctest fixture
// `fixture_learn_survey` makes (3,000 galaxies, 64-px cutouts, DESI-grid spectra with their
// true redshifts), one snapshot of it cached beside the survey, one held-out split that every
// learning test and every stage uses (a third of the objects, by hash of id and seed, so the
// same objects whatever the test), and the zero-shot redshift score the tests compare.
#include "core/dataset/snapshot.h"
#include "core/models/specformer.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace astroclip::learntest {

// Held out of every training run here; the figures are measured on these objects.
inline constexpr double kHeldOutFraction = 1.0 / 3.0;
inline constexpr uint64_t kSplitSeed = 23;
// Images are cropped to the tiny ViT's 64 px (the survey is simulated at 64 px).
inline constexpr int kCropSize = 64;
// Neighbours of the zero-shot k-NN redshift estimate.
inline constexpr int64_t kNeighbours = 16;

// LibTorch threads for training and embedding: ASTROCLIP_LEARN_THREADS, default 2 (both cores
// of a CI machine, which runs these tests alone). The figures are deterministic for a thread
// count; on a machine busy with other work, 1 thread avoids the convoys of parallel regions
// waiting for a descheduled worker (slow runs beside builds).
int trainingThreads();

// <fixtures>/learn-survey: the survey and its catalog.sqlite.
std::string surveyDir();
std::string catalogPath();
// <fixtures>/learn-work: the snapshot cache and the backbones the tests hand on to each other.
// Kept out of the survey folder, which the fixture ingests on every run: files appearing
// there would change the catalog's fingerprint and so invalidate the snapshot cache.
std::string workDir();

// Every object with both an image and a spectrum: g,r,z 64-px cutouts, spectra on the DESI
// grid downsampled by `spectrumDownsample` (spectrum_arrays.h), column truth_z. Built once and
// cached as <workDir>/snapshot-both-64-ds<k>.safetensors (rebuilt when the catalog changed).
// Empty pointer, with `whyNot` set, when the survey has not been made.
std::shared_ptr<const DatasetSnapshot> loadSurveySnapshot(int spectrumDownsample, std::string* whyNot);

// The tiny SpecFormer preset (128-d, 4 layers, 4 heads, patches of 80 px every 40) built for
// spectra downsampled by `spectrumDownsample`: factor 1 is the preset as it is (193 patches of
// the 7781-px grid); factor 4 keeps the architecture on 1945 px (47 patches), a quarter of
// the cost.
models::SpecFormerConfig tinySpecFormerConfig(int spectrumDownsample);

// Snapshot rows on each side of the split (as the stages compute it).
struct SplitRows {
    std::vector<int64_t> train;
    std::vector<int64_t> heldOut;
};
SplitRows splitRows(const DatasetSnapshot& snapshot);

// Float32 CPU tensors of the given rows: spectra [n, L] and images [n, 3, S, S].
at::Tensor spectraOf(const DatasetSnapshot& snapshot, const std::vector<int64_t>& rows);
at::Tensor imagesOf(const DatasetSnapshot& snapshot, const std::vector<int64_t>& rows);
// A target column at the given rows (UsageError-free: asserts the column exists).
std::vector<double> columnOf(const DatasetSnapshot& snapshot, const std::string& column,
                             const std::vector<int64_t>& rows);

// Zero-shot redshift score: k-NN (kNeighbours, standardised, distance-weighted, AstroCLIP's
// recipe) from the reference objects' embeddings and redshifts to the queries', R² against
// the queries' true redshifts.
double knnRedshiftR2(const at::Tensor& referenceEmbedding, const std::vector<double>& referenceZ,
                     const at::Tensor& queryEmbedding, const std::vector<double>& queryZ);

} // namespace astroclip::learntest
