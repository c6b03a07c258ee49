#include "core/analysis/dense_heads.h"

#include "core/common/error.h"
#include "core/dataset/snapshot.h"
#include "core/dataset/split.h"
#include "core/dataset/truth_maps.h"
#include "core/embed/encode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace astroclip::analysis {

namespace {

namespace F = torch::nn::functional;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The cutout record buildSnapshot chooses (the first at least S wide with the most bands).
const ImageRecord* chosenCutout(const std::vector<ImageRecord>& images, int size) {
    const ImageRecord* best = nullptr;
    int bestBands = -1;
    for (const auto& im : images) {
        if (im.kind != ImageRecord::Kind::Cutout || im.width < size || im.height < size) continue;
        const int bands = int(std::count_if(im.planes.begin(), im.planes.end(), [](int p) { return p >= 0; }));
        if (bands > bestBands) best = &im, bestBands = bands;
    }
    return best;
}

// logits [B, C, g, g] → [B, C, S, S], bilinear as DINOv2's linear evaluation.
torch::Tensor toPixels(const torch::Tensor& patchLogits, int64_t size) {
    return F::interpolate(patchLogits, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{size, size})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
}

struct Heads {
    torch::nn::Linear segmentation{nullptr}, depth{nullptr};
};

// tokens [B, P, D] standardised → (segmentation logits [B, C, S, S], depth [B, S, S]).
std::pair<torch::Tensor, torch::Tensor> forward(Heads& h, const torch::Tensor& tokens, int64_t grid, int64_t size) {
    const int64_t b = tokens.size(0);
    const auto seg = h.segmentation->forward(tokens).permute({0, 2, 1}).reshape({b, kTruthClasses, grid, grid});
    const auto dep = h.depth->forward(tokens).permute({0, 2, 1}).reshape({b, 1, grid, grid});
    return {toPixels(seg, size), toPixels(dep, size).squeeze(1)};
}

} // namespace

DenseHeadResult trainDenseHeads(Catalog& catalog, runs::TrainedEncoders& encoders, const DenseHeadParams& params) {
    runs::requireEncoder(encoders, Modality::Image, runs::EmbeddingSpace::Backbone);
    if (params.epochs < 1 || params.batchImages < 1 || !(params.learningRate > 0))
        throw UsageError("dense heads need epochs ≥ 1, a batch ≥ 1 and a positive learning rate");
    DenseHeadResult r;
    r.classNames.assign(std::begin(kTruthClassNames), std::end(kTruthClassNames));
    r.patchSize = int((*encoders.vit)->config().patchSize);

    // Objects whose chosen cutout carries truth maps, then their pixels and maps.
    SnapshotParams sp = encoders.snapshotParams(Modality::Image);
    std::vector<int64_t> withMaps;
    for (const int64_t id : params.ids) {
        const auto* im = chosenCutout(catalog.images(id), sp.cropSize);
        if (im && hasTruthMaps(*im))
            withMaps.push_back(id);
        else
            ++r.withoutTruth;
    }
    std::sort(withMaps.begin(), withMaps.end());
    withMaps.erase(std::unique(withMaps.begin(), withMaps.end()), withMaps.end());
    if (withMaps.empty()) throw UsageError(catalog.path() + ": none of the selected objects has truth maps (simulated cutouts do)");
    sp.ids = withMaps;
    const auto snap = buildSnapshot(catalog, sp, params.progress);
    const int64_t n = int64_t(snap.size()), s = snap.cropSize;
    r.cropSize = int(s);
    auto truthSeg = torch::empty({n, s, s}, torch::kLong);
    auto truthDepth = torch::empty({n, s, s}, torch::kFloat);
    for (int64_t i = 0; i < n; ++i) {
        const auto maps = loadTruthMaps(*chosenCutout(catalog.images(snap.ids[size_t(i)]), int(s)), int(s));
        for (int64_t p = 0; p < s * s; ++p) {
            truthSeg.data_ptr<int64_t>()[i * s * s + p] = maps.segmentation[size_t(p)];
            truthDepth.data_ptr<float>()[i * s * s + p] = maps.depth[size_t(p)];
        }
    }

    // Frozen patch tokens of every image.
    embed::EncodeOptions eo;
    eo.device = encoders.device;
    eo.progress = params.progress;
    const auto images = torch::from_blob(const_cast<float*>(snap.images.data()), {n, 3, s, s}, torch::kFloat);
    auto tokens = embed::encodeImagePatches(**encoders.vit, images, encoders.imageNormalization, eo);  // [N, P, D]
    r.grid = int(s / r.patchSize);

    std::vector<int64_t> trainRows, testRows;
    for (int64_t i = 0; i < n; ++i) {
        if (isHeldOut(snap.ids[size_t(i)], params.heldOutFraction, params.splitSeed))
            testRows.push_back(i);
        else
            trainRows.push_back(i);
    }
    r.trainImages = int64_t(trainRows.size());
    r.testImages = int64_t(testRows.size());
    if (r.trainImages < 2 || r.testImages < 2)
        throw UsageError("dense heads need at least 2 training and 2 held-out images with truth maps; there are " +
                         std::to_string(r.trainImages) + " and " + std::to_string(r.testImages) + " (select more objects)");
    const auto trainIdx = torch::tensor(trainRows, torch::kLong), testIdx = torch::tensor(testRows, torch::kLong);
    const auto trainTokens = tokens.index_select(0, trainIdx);
    const auto mean = trainTokens.mean(std::vector<int64_t>{0, 1}, /*keepdim=*/true);
    const auto stdev = trainTokens.std(std::vector<int64_t>{0, 1}, /*unbiased=*/false, /*keepdim=*/true).clamp_min(1e-6);
    tokens = (tokens - mean) / stdev;

    torch::manual_seed(params.seed);
    const int64_t d = tokens.size(2);
    Heads heads{torch::nn::Linear(d, kTruthClasses), torch::nn::Linear(d, 1)};
    std::vector<torch::Tensor> parameters = heads.segmentation->parameters();
    for (const auto& p : heads.depth->parameters()) parameters.push_back(p);
    torch::optim::AdamW opt(parameters, torch::optim::AdamWOptions(params.learningRate).weight_decay(params.weightDecay));

    // Depth is learnt and scored where the truth has a source; its scale is the training mean.
    const auto trainSeg = truthSeg.index_select(0, trainIdx), trainDepth = truthDepth.index_select(0, trainIdx);
    const double depthMean = trainDepth.masked_select(trainSeg > 0).mean().item<double>();
    for (int epoch = 0; epoch < params.epochs; ++epoch) {
        const auto order = torch::randperm(r.trainImages, torch::kLong);
        for (int64_t start = 0; start < r.trainImages; start += params.batchImages) {
            const auto rows = order.narrow(0, start, std::min(params.batchImages, r.trainImages - start));
            const auto [segLogits, depth] = forward(heads, trainTokens.index_select(0, rows).sub(mean).div(stdev), r.grid, s);
            const auto seg = trainSeg.index_select(0, rows);
            const auto source = seg > 0;
            auto loss = F::cross_entropy(segLogits, seg);
            if (source.any().item<bool>())
                loss = loss + F::mse_loss(depth.masked_select(source) + depthMean,
                                          trainDepth.index_select(0, rows).masked_select(source));
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        report(params.progress, {"dense heads", epoch + 1, params.epochs, ""});
    }

    // Held-out scores.
    torch::NoGradGuard noGrad;
    const auto [segLogits, depth] = forward(heads, tokens.index_select(0, testIdx), r.grid, s);
    const auto predicted = segLogits.argmax(1);
    const auto truth = truthSeg.index_select(0, testIdx);
    r.pixelAccuracy = (predicted == truth).to(torch::kDouble).mean().item<double>();
    const auto counts = torch::bincount(trainSeg.flatten(), {}, kTruthClasses);
    r.majorityAccuracy = (truth == counts.argmax()).to(torch::kDouble).mean().item<double>();
    double iouSum = 0;
    int present = 0;
    for (int c = 0; c < kTruthClasses; ++c) {
        const auto t = truth == c, p = predicted == c;
        const double inter = (t & p).sum().item<double>(), uni = (t | p).sum().item<double>();
        r.classPixels.push_back(t.sum().item<int64_t>());
        r.classIoU.push_back(uni > 0 ? inter / uni : kNaN);
        if (r.classPixels.back() > 0) iouSum += r.classIoU.back(), ++present;
    }
    r.meanIoU = present ? iouSum / present : kNaN;
    const auto source = truth > 0;
    const auto testDepth = truthDepth.index_select(0, testIdx).masked_select(source);
    r.depthPixels = testDepth.numel();
    if (r.depthPixels > 0) {
        r.depthRmse = (depth.masked_select(source) + depthMean - testDepth).pow(2).mean().sqrt().item<double>();
        r.depthRmseMean = (testDepth - depthMean).pow(2).mean().sqrt().item<double>();
    }
    double centralSum = 0;
    int64_t centralCount = 0;
    for (int64_t k = 0; k < r.testImages; ++k) {
        r.testIds.push_back(snap.ids[size_t(testRows[size_t(k)])]);
        const auto t = truth[k] == 1, p = predicted[k] == 1;
        const double uni = (t | p).sum().item<double>();
        r.centralIoU.push_back(uni > 0 ? (t & p).sum().item<double>() / uni : kNaN);
        if (uni > 0) centralSum += r.centralIoU.back(), ++centralCount;
    }
    r.meanCentralIoU = centralCount ? centralSum / double(centralCount) : kNaN;
    return r;
}

} // namespace astroclip::analysis
