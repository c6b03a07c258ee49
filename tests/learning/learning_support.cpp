#include "learning_support.h"

#include "core/analysis/knn.h"
#include "core/catalog/catalog.h"
#include "core/dataset/snapshot_cache.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/dataset/split.h"
// stage_data.h names torch::Tensor but includes ATen only; torch/types.h declares it first.
#include <torch/types.h>
#include "core/stages/stage_data.h"

#include <cassert>
#include <cstdlib>
#include <filesystem>

namespace astroclip::learntest {

int trainingThreads() {
    const char* text = std::getenv("ASTROCLIP_LEARN_THREADS");
    const int n = text ? std::atoi(text) : 0;
    return n > 0 ? n : 2;
}

std::string surveyDir() { return std::string(ASTROCLIP_TEST_FIXTURE_DIR) + "/learn-survey"; }

std::string catalogPath() { return surveyDir() + "/catalog.sqlite"; }

std::string workDir() {
    const std::string dir = std::string(ASTROCLIP_TEST_FIXTURE_DIR) + "/learn-work";
    std::filesystem::create_directories(dir);
    return dir;
}

std::shared_ptr<const DatasetSnapshot> loadSurveySnapshot(int spectrumDownsample, std::string* whyNot) {
    if (!std::filesystem::exists(catalogPath())) {
        if (whyNot)
            *whyNot = catalogPath() + " does not exist: run the learning tests through ctest, whose "
                      "fixture_learn_survey makes it (astroclip simulate --out " + surveyDir() +
                      " --n 3000 --size 64 --seed 11)";
        return nullptr;
    }
    SnapshotParams params;
    params.modality = Modality::Both;
    params.cropSize = kCropSize;
    params.spectrumDownsample = spectrumDownsample;
    params.columns = {"truth_z"};
    auto catalog = Catalog::open(catalogPath());
    return std::make_shared<const DatasetSnapshot>(
        loadOrBuildSnapshot(catalog, params, workDir() + "/snapshot-both-64-ds" + std::to_string(spectrumDownsample) +
                                                ".safetensors"));
}

models::SpecFormerConfig tinySpecFormerConfig(int spectrumDownsample) {
    auto config = models::SpecFormerConfig::preset("tiny");
    config.inputLength = downsampledLength(spectrumDownsample);
    config.maxTokens = 1 + config.numPatches(config.inputLength);
    return config;
}

SplitRows splitRows(const DatasetSnapshot& snapshot) {
    const auto split = splitHeldOut(snapshot.ids, kHeldOutFraction, kSplitSeed);
    SplitRows rows;
    rows.train.assign(split.train.begin(), split.train.end());
    rows.heldOut.assign(split.heldOut.begin(), split.heldOut.end());
    return rows;
}

at::Tensor spectraOf(const DatasetSnapshot& snapshot, const std::vector<int64_t>& rows) {
    return stages::gatherRows(snapshot.spectrumFlux, {snapshot.spectrumLength}, rows);
}

at::Tensor imagesOf(const DatasetSnapshot& snapshot, const std::vector<int64_t>& rows) {
    const int64_t s = snapshot.cropSize;
    return stages::gatherRows(snapshot.images, {3, s, s}, rows);
}

std::vector<double> columnOf(const DatasetSnapshot& snapshot, const std::string& column,
                             const std::vector<int64_t>& rows) {
    const auto it = snapshot.columns.find(column);
    assert(it != snapshot.columns.end());
    std::vector<double> out;
    out.reserve(rows.size());
    for (auto r : rows) out.push_back(it->second.at(size_t(r)));
    return out;
}

double knnRedshiftR2(const at::Tensor& referenceEmbedding, const std::vector<double>& referenceZ,
                     const at::Tensor& queryEmbedding, const std::vector<double>& queryZ) {
    analysis::KnnOptions options;
    options.k = kNeighbours;
    options.standardize = true;
    options.distanceWeighted = true;
    return analysis::r2Score(queryZ, analysis::knnRegress(referenceEmbedding, referenceZ, queryEmbedding, options));
}

} // namespace astroclip::learntest
