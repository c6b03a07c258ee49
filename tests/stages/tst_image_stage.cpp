// DINOv2-style image stage (core/stages/image_stage.h) and its losses (dino_losses.h):
// hand-computed DINO, iBOT and KoLeo values, the centering and EMA formulas, Sinkhorn–Knopp
// equipartition, iBOT mask coverage, schedules, the head's initial scale and prototype
// freezing, parameter groups and presets, and real training runs through the trainer on
// synthetic galaxies: the DINO loss falls, the teacher's assignments become image-dependent
// without collapsing, the teacher follows the student, and a cancelled run leaves a
// checkpoint that resumes to exactly the straight run and holds a loadable encoder.
#include "core/common/error.h"
#include "core/models/state_dict.h"
#include "core/models/torch_safetensors.h"
#include "core/stages/dino_losses.h"
#include "core/stages/image_stage.h"
#include "core/train/trainer.h"

#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cmath>
#include <numbers>
#include <random>

using namespace astroclip;
using namespace astroclip::stages;

namespace {

// Two populations of smooth elliptical galaxies on a faint noisy sky (nanomaggies): red
// compact ones and blue extended ones, with random size, shape, angle, flux and a small
// centre offset.
torch::Tensor syntheticGalaxies(int64_t count, int64_t side, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> n(0.0, 1.0);
    auto images = torch::empty({count, 3, side, side});
    auto px = images.accessor<float, 4>();
    for (int64_t i = 0; i < count; ++i) {
        const bool red = i % 2 == 0;
        const double radius = red ? 1.2 + 1.0 * u(rng) : 3.0 + 2.5 * u(rng);
        const double axis = 0.35 + 0.65 * u(rng);
        const double angle = std::numbers::pi * u(rng);
        const double flux = 1.0 + 4.0 * u(rng);
        const double cx = (side - 1) / 2.0 + 2.0 * (u(rng) - 0.5), cy = (side - 1) / 2.0 + 2.0 * (u(rng) - 0.5);
        const double colour[3] = {red ? 0.4 : 1.0, red ? 1.0 : 0.9, red ? 1.8 : 0.7};
        for (int64_t y = 0; y < side; ++y)
            for (int64_t x = 0; x < side; ++x) {
                const double dx = x - cx, dy = y - cy;
                const double a = dx * std::cos(angle) + dy * std::sin(angle);
                const double b = -dx * std::sin(angle) + dy * std::cos(angle);
                const double r = std::sqrt(a * a + (b / axis) * (b / axis));
                const double profile = std::exp(-1.68 * r / radius) * flux / (2 * std::numbers::pi * radius * radius);
                for (int64_t c = 0; c < 3; ++c) px[i][c][y][x] = float(profile * colour[c] + 0.005 * n(rng));
            }
    }
    return images;
}

// A ViT of 64 × 2 blocks on 24-px global and 12-px local crops of 32-px cutouts: a model that
// makes a training step in a fraction of a second.
ImageStageConfig tinyConfig() {
    ImageStageConfig config;
    config.vit.name = "test-64x2";
    config.vit.imageSize = 32;
    config.vit.patchSize = 4;
    config.vit.embedDim = 64;
    config.vit.depth = 2;
    config.vit.numHeads = 2;
    config.vit.layerScaleInit = 1.0;
    config.dinoHead = {128, 32, 64};
    config.batchSize = 16;
    config.globalCropSize = 24;
    config.localCrops = 4;
    config.localCropSize = 12;
    config.teacherTemperatureWarmupSteps = 20;
    config.seed = 4;
    return config;
}

train::TrainParams quickParams(int64_t steps) {
    train::TrainParams params;
    params.steps = steps;
    params.warmupSteps = std::min<int64_t>(10, steps / 4);
    params.lr = 3e-4;
    params.minLr = 1e-5;
    params.weightDecay = 0.04;
    params.gradClip = 3.0;
    params.device = "cpu";
    // One thread: the models are so small that an intra-op pool costs more than it gives.
    params.threads = 1;
    params.seed = 1;
    params.mixedPrecision = false;
    return params;
}

double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// How much the teacher's prototype assignment depends on the image: the mutual information
// H(mean of rows) − mean H(row) (nats) of its centred, sharpened softmax on the unaugmented
// centre crops of `images`, centred by their own mean logits. 0 both when every image gets the
// same assignment (collapse) and when every assignment is uniform.
double teacherMutualInformation(ImageStage& stage, const torch::Tensor& images) {
    torch::NoGradGuard noGrad;
    const auto& config = stage.settings();
    const int64_t offset = (images.size(2) - config.globalCropSize) / 2;
    const auto crops = images.slice(2, offset, offset + config.globalCropSize)
                           .slice(3, offset, offset + config.globalCropSize);
    const auto logits = stage.teacher->dino_head->forward(
        stage.teacher->backbone->forward(normalizeNanomaggies(crops, config.normalization)).cls);
    const auto probs = centeredTeacherProbs(logits, logits.mean(0, true), config.teacherTemperature);
    return meanEntropy(probs.mean(0, true)) - meanEntropy(probs);
}

} // namespace

class TestImageStage : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void dinoLossMatchesHandComputation();
    void ibotLossMatchesHandComputation();
    void centeringUpdateFormula();
    void sinkhornKnoppEquipartitions();
    void koleoOnKnownPoints();
    void ibotMasksCoverRequestedFraction();
    void schedules();
    void headStartsAtUnitScaleAndFreezesPrototypes();
    void teacherFollowsEmaFormula();
    void teacherHasNoStochasticDepth();
    void parameterGroupsFollowFineTuning();
    void presetsAreValid();
    void dataStateReproducesCrops();
    void shortTrainingRunLearnsWithoutCollapse();
    void cancelledRunResumesExactly_data();
    void cancelledRunResumesExactly();
};

void TestImageStage::dinoLossMatchesHandComputation() {
    // B = 1, K = 3, two global crops and one local crop.
    const double tauS = 0.5;
    const double student[3][3] = {{1.0, 0.0, -1.0}, {0.5, 0.2, 0.1}, {-0.3, 0.8, 0.0}};
    const double teacher[2][3] = {{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}};
    auto s = torch::empty({3, 3}, torch::kFloat64);
    auto t = torch::empty({2, 3}, torch::kFloat64);
    for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k) s[i][k] = student[i][k];
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 3; ++k) t[i][k] = teacher[i][k];
    auto logSoftmax = [&](int row, int k) {
        double z = 0;
        for (int j = 0; j < 3; ++j) z += std::exp(student[row][j] / tauS);
        return student[row][k] / tauS - std::log(z);
    };
    double total = 0;
    int pairs = 0;
    for (int ti = 0; ti < 2; ++ti)
        for (int si = 0; si < 3; ++si) {
            if (si == ti) continue;
            double ce = 0;
            for (int k = 0; k < 3; ++k) ce -= teacher[ti][k] * logSoftmax(si, k);
            total += ce;
            ++pairs;
        }
    QCOMPARE(pairs, 4);
    const double expected = total / pairs;
    QVERIFY(std::abs(dinoLoss(s, t, 2, tauS).item<double>() - expected) < 1e-6);
}

void TestImageStage::ibotLossMatchesHandComputation() {
    // 3 images of 4 patches: image 0 has 2 masked patches, image 1 none, image 2 one.
    auto masks = torch::zeros({3, 4}, torch::kBool);
    masks[0][1] = true;
    masks[0][3] = true;
    masks[2][0] = true;
    const auto student = torch::tensor({{2.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}, torch::kFloat64);
    const auto teacher = torch::tensor({{0.9, 0.1}, {0.5, 0.5}, {0.2, 0.8}}, torch::kFloat64);
    auto ce = [&](int row) {
        const double z0 = student[row][0].item<double>(), z1 = student[row][1].item<double>();
        const double lse = std::log(std::exp(z0) + std::exp(z1));
        return -(teacher[row][0].item<double>() * (z0 - lse) + teacher[row][1].item<double>() * (z1 - lse));
    };
    const double expected = ((ce(0) + ce(1)) / 2.0 + ce(2)) / 3.0;  // per image, then over all 3 images
    QVERIFY(std::abs(ibotLoss(student, teacher, masks, 1.0).item<double>() - expected) < 1e-6);  // float32 inside
    QCOMPARE(ibotLoss(torch::zeros({0, 2}), torch::zeros({0, 2}), torch::zeros({2, 4}, torch::kBool), 1.0).item<double>(),
             0.0);
}

void TestImageStage::centeringUpdateFormula() {
    const auto center = torch::tensor({{1.0f, -2.0f, 0.5f}});
    const auto logits = torch::tensor({{3.0f, 0.0f, 1.0f}, {1.0f, 2.0f, -1.0f}});
    const auto next = updatedCenter(center, logits, 0.9);
    // 0.9 c + 0.1 mean = 0.9·(1, −2, 0.5) + 0.1·(2, 1, 0)
    QVERIFY(maxAbsDiff(next, torch::tensor({{1.1f, -1.7f, 0.45f}})) < 1e-6);
    // Centred, sharpened teacher softmax by hand for one row.
    const auto probs = centeredTeacherProbs(logits, center, 0.5);
    const double z[3] = {(3.0 - 1.0) / 0.5, (0.0 + 2.0) / 0.5, (1.0 - 0.5) / 0.5};
    const double norm = std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]);
    for (int k = 0; k < 3; ++k) QVERIFY(std::abs(probs[0][k].item<double>() - std::exp(z[k]) / norm) < 1e-6);
}

void TestImageStage::sinkhornKnoppEquipartitions() {
    torch::manual_seed(5);
    const auto logits = torch::randn({12, 5}) * 0.3;
    const auto q = sinkhornKnoppTeacherProbs(logits, 0.1);
    QCOMPARE(q.sizes(), logits.sizes());
    // The last normalisation is per row: each row a distribution.
    QVERIFY(maxAbsDiff(q.sum(1), torch::ones({12})) < 1e-5);
    QVERIFY((q >= 0).all().item<bool>());
    // Run long enough, every prototype gets N/K of the mass (3 iterations get close).
    const auto converged = sinkhornKnoppTeacherProbs(logits, 0.1, 200);
    QVERIFY(maxAbsDiff(converged.sum(0), torch::full({5}, 12.0 / 5.0)) < 1e-4);
    const double spread3 = (q.sum(0) - 12.0 / 5.0).abs().max().item<double>();
    const double softmaxSpread = (torch::softmax(logits / 0.1, 1).sum(0) - 12.0 / 5.0).abs().max().item<double>();
    QVERIFY(spread3 < 0.25 * softmaxSpread);
    // A batch whose images all give the same logits (a collapsed teacher) is spread evenly.
    const auto same = torch::randn({1, 5}).expand({10, 5}).contiguous();
    QVERIFY(maxAbsDiff(sinkhornKnoppTeacherProbs(same, 0.04), torch::full({10, 5}, 0.2)) < 1e-5);
    // Rows are assigned, not reordered: permuting the batch permutes the result.
    const auto order = torch::randperm(12);
    QVERIFY(maxAbsDiff(sinkhornKnoppTeacherProbs(logits.index_select(0, order), 0.1), q.index_select(0, order)) < 1e-5);
    // Cosine logits at a low temperature stay finite (exp(−2/T) underflows float32).
    QVERIFY(torch::isfinite(sinkhornKnoppTeacherProbs(torch::tensor({{1.0f, -1.0f}, {-1.0f, 1.0f}}), 0.01)).all().item<bool>());
}

void TestImageStage::koleoOnKnownPoints() {
    // Four points at 0°, 90°, 180°, 270° (any length: KoLeo normalises): every nearest
    // neighbour is √2 away.
    const auto square = torch::tensor({{2.0, 0.0}, {0.0, 3.0}, {-1.0, 0.0}, {0.0, -0.5}}, torch::kFloat64);
    QVERIFY(std::abs(koleoLoss(square).item<double>() + std::log(std::sqrt(2.0))) < 1e-6);
    // 0°, 10°, 180°: distances 2 sin 5°, 2 sin 5°, 2 sin 85°.
    const double a = 10.0 * std::numbers::pi / 180.0;
    const auto three = torch::tensor({{1.0, 0.0}, {std::cos(a), std::sin(a)}, {-1.0, 0.0}}, torch::kFloat64);
    const double d1 = 2 * std::sin(a / 2), d3 = 2 * std::sin((std::numbers::pi - a) / 2);
    const double expected = -(2 * std::log(d1) + std::log(d3)) / 3.0;
    QVERIFY(std::abs(koleoLoss(three).item<double>() - expected) < 1e-6);
}

void TestImageStage::ibotMasksCoverRequestedFraction() {
    std::mt19937_64 rng(17);
    int64_t totalMasked = 0;
    double fractionSum = 0;
    for (int trial = 0; trial < 50; ++trial) {
        const auto masks = sampleIbotMasks(40, 49, 0.1, 0.5, 0.5, rng);
        const auto perSample = masks.sum(1);
        QCOMPARE((perSample > 0).sum().item<int64_t>(), int64_t(20));  // exactly half the samples
        for (int64_t i = 0; i < 40; ++i) {
            const auto count = perSample[i].item<int64_t>();
            if (count == 0) continue;
            QVERIFY(count >= std::llround(0.1 * 49) && count <= std::llround(0.5 * 49));
            fractionSum += double(count) / 49.0;
            ++totalMasked;
        }
    }
    // Fractions uniform in [0.1, 0.5]: mean 0.3 (± rounding).
    QVERIFY(std::abs(fractionSum / double(totalMasked) - 0.3) < 0.02);
    QVERIFY_THROWS_EXCEPTION(UsageError, sampleIbotMasks(4, 9, 0.6, 0.5, 0.5, rng));
}

void TestImageStage::schedules() {
    auto config = tinyConfig();
    config.scheduleSteps = 100;
    config.teacherMomentumStart = 0.992;
    QCOMPARE(teacherMomentum(config, 0), 0.992);
    QVERIFY(std::abs(teacherMomentum(config, 50) - 0.996) < 1e-12);
    QCOMPARE(teacherMomentum(config, 100), 1.0);
    config.teacherTemperatureStart = 0.04;
    config.teacherTemperature = 0.07;
    config.teacherTemperatureWarmupSteps = 30;
    QCOMPARE(teacherTemperatureAt(config, 0), 0.04);
    QVERIFY(std::abs(teacherTemperatureAt(config, 15) - 0.055) < 1e-12);
    QCOMPARE(teacherTemperatureAt(config, 30), 0.07);
    QCOMPARE(teacherTemperatureAt(config, 500), 0.07);
}

void TestImageStage::headStartsAtUnitScaleAndFreezesPrototypes() {
    // A narrow head (64 → 128 → 128 → 32) on LayerNorm-scaled inputs: the bottleneck before
    // the L2 normalisation must be of order one. With DINOv2's fixed std 0.02 it was ~0.01,
    // so the first AdamW steps on the biases (≈ lr each) erased every difference between images.
    torch::manual_seed(2);
    DinoHead head(64, DinoHeadConfig{128, 32, 64});
    const auto x = torch::layer_norm(torch::randn({256, 64}), {64});
    const auto z = head->mlp->forward(x);
    const double norm = z.norm(2, 1).mean().item<double>();
    const double imageSpread = (z - z.mean(0, true)).norm(2, 1).mean().item<double>();
    qInfo("bottleneck |z| %.3f, spread between inputs %.3f", norm, imageSpread);
    QVERIFY(norm > 0.3 && norm < 10.0);
    QVERIFY(imageSpread > 0.3 * norm);
    // Prototypes are unit vectors whatever weight_v's length: logits are cosines.
    const auto logits = head->forward(x);
    QVERIFY(logits.abs().max().item<double>() <= 1.0 + 1e-5);

    // Frozen prototypes: no gradient reaches weight_v, the MLP still learns.
    head->last_layer->frozen = true;
    head->forward(x).pow(2).sum().backward();
    QVERIFY(!head->last_layer->weight_v.grad().defined());
    QVERIFY(head->mlp->parameters().front().grad().abs().sum().item<double>() > 0);
    head->last_layer->frozen = false;
    head->zero_grad();
    head->forward(x).pow(2).sum().backward();
    QVERIFY(head->last_layer->weight_v.grad().defined());
}

void TestImageStage::teacherFollowsEmaFormula() {
    torch::manual_seed(3);
    ImageStage stage(tinyConfig(), syntheticGalaxies(16, 32, 1));
    // Teacher starts equal to the student.
    auto teacherParams = stage.teacher->named_parameters(true);
    auto studentParams = stage.student->named_parameters(true);
    for (const auto& item : studentParams) QCOMPARE(maxAbsDiff(item.value(), teacherParams[item.key()]), 0.0);
    for (const auto& item : teacherParams) QVERIFY(!item.value().requires_grad());
    // Move the student, then one EMA update with the schedule's momentum at step 7.
    {
        torch::NoGradGuard noGrad;
        for (auto& item : studentParams) item.value().add_(torch::randn_like(item.value()) * 0.1);
    }
    std::map<std::string, torch::Tensor> before;
    for (const auto& item : teacherParams) before[item.key()] = item.value().clone();
    const double m = teacherMomentum(stage.settings(), 7);
    stage.afterOptimizerStep(7);
    for (const auto& item : teacherParams) {
        const auto expected = before[item.key()] * m + studentParams[item.key()].detach() * (1.0 - m);
        QVERIFY2(maxAbsDiff(item.value(), expected) < 1e-6, item.key().c_str());
    }
}

void TestImageStage::teacherHasNoStochasticDepth() {
    auto config = tinyConfig();
    config.vit.dropPathRate = 0.5;
    ImageStage stage(config, syntheticGalaxies(16, 32, 1));
    QVERIFY(stage.student->backbone->blockList().back()->dropPathRate > 0.4);
    for (const auto& block : stage.teacher->backbone->blockList()) QCOMPARE(block->dropPathRate, 0.0);
    // The iBOT head is the DINO head unless asked for separately.
    QVERIFY(!stage.student->ibot_head);
    QVERIFY(&stage.student->ibotHead() == stage.student->dino_head.get());
    config.ibotSeparateHead = true;
    config.ibotHead = {64, 16, 32};
    ImageStage separate(config, syntheticGalaxies(16, 32, 1));
    QVERIFY(separate.student->ibot_head && separate.teacher->ibot_head);
    QCOMPARE(separate.ibotCenter.size(1), int64_t(32));
}

void TestImageStage::parameterGroupsFollowFineTuning() {
    auto config = tinyConfig();
    config.finetune = FineTuneOptions::parseFreeze("last:1");
    config.finetune.layerDecay = 0.5;
    config.patchEmbedLrMultiplier = 0.2;
    ImageStage stage(config, syntheticGalaxies(16, 32, 1));
    const auto groups = stage.parameterGroups();
    std::map<std::string, const train::ParamGroup*> byParam;
    for (const auto& g : groups)
        for (const auto& p : g.parameters) {
            QVERIFY2(!byParam.count(p.name), p.name.c_str());
            byParam[p.name] = &g;
        }
    // Every student parameter is in one group; no teacher parameter is in any.
    for (const auto& item : stage.student->named_parameters(true)) QVERIFY(byParam.count("student." + item.key()));
    QCOMPARE(byParam.size(), stage.student->parameters().size());
    // last:1 of 2 blocks: embeddings and block 0 frozen, block 1, the final norm and the head train.
    QVERIFY(byParam.at("student.backbone.patch_embed.proj.weight")->frozen);
    QVERIFY(byParam.at("student.backbone.blocks.0.attn.qkv.weight")->frozen);
    QVERIFY(!byParam.at("student.backbone.blocks.1.attn.qkv.weight")->frozen);
    QVERIFY(!byParam.at("student.backbone.norm.weight")->frozen);
    const auto* head = byParam.at("student.dino_head.last_layer.weight_v");
    QVERIFY(!head->frozen);
    QCOMPARE(head->lrMultiplier, 1.0);
    QCOMPARE(byParam.at("student.backbone.blocks.1.mlp.fc1.weight")->lrMultiplier, 0.5);  // d^(L − 1)
    // The patch embedding in its own group at 0.2 × the embeddings' rate (d^(L + 1) = 0.125).
    const auto* patch = byParam.at("student.backbone.patch_embed.proj.weight");
    QCOMPARE(patch->lrMultiplier, 0.2 * 0.125);
    QCOMPARE(byParam.at("student.backbone.pos_embed")->lrMultiplier, 0.125);
    QVERIFY(patch != byParam.at("student.backbone.pos_embed"));

    // The trainer accepts the groups and leaves frozen weights exactly as they were.
    const auto before = stage.student->backbone->blockList()[0]->attn->qkv->weight.clone();
    const auto result = train::train(stage, quickParams(2));
    QCOMPARE(result.status, train::TrainStatus::Completed);
    QVERIFY(torch::equal(before, stage.student->backbone->blockList()[0]->attn->qkv->weight));

    auto bad = tinyConfig();
    bad.finetune = FineTuneOptions::parseFreeze("last:3");  // only 2 blocks
    QVERIFY_THROWS_EXCEPTION(UsageError, ImageStage(bad, syntheticGalaxies(16, 32, 1)));
}

void TestImageStage::presetsAreValid() {
    for (const char* name : {"tiny", "small", "base", "large"}) {
        const auto config = imageStageConfig(name);
        const int64_t side = std::string(name) == "tiny" ? 64 : 152;  // the cutouts each is made for
        config.validate(side);
        const auto params = imageTrainParams(config);
        train::validate(params);
        QCOMPARE(params.steps, config.scheduleSteps);
        QVERIFY(config.teacherTemperatureWarmupSteps < config.scheduleSteps);
        const auto short60 = imageStageConfig(name, 60);
        QCOMPARE(short60.scheduleSteps, int64_t(60));
        QVERIFY(short60.teacherTemperatureWarmupSteps <= config.teacherTemperatureWarmupSteps);
        QVERIFY(config.freezeLastLayerSteps < params.warmupSteps);
        // DINOv2's square-root scaling from a batch of 1024.
        const double base = config.vit.embedDim >= 1024 ? 2e-4 : 4e-3;
        QVERIFY(std::abs(params.lr - base * std::sqrt(config.batchSize / 1024.0)) < 1e-12);
        QVERIFY(nlohmann::json::parse(config.toJson().dump()).contains("finetune"));
    }
    const auto large = imageStageConfig("large");
    QCOMPARE(large.vit.embedDim, int64_t(1024));
    QCOMPARE(large.vit.patchSize, int64_t(12));
    QCOMPARE(large.globalCropSize, int64_t(144));
    QCOMPARE(large.localCropSize, int64_t(60));
    QCOMPARE(large.dinoHead.prototypes, int64_t(65536));
    QVERIFY(!large.ibotSeparateHead);
    QVERIFY_THROWS_EXCEPTION(UsageError, imageStageConfig("huge"));
}

void TestImageStage::dataStateReproducesCrops() {
    const auto images = syntheticGalaxies(20, 32, 2);
    ImageStage a(tinyConfig(), images);
    a.makeCrops({0, 1, 2});
    const auto state = a.dataState();
    const auto [g1, l1] = a.makeCrops({3, 4});
    ImageStage b(tinyConfig(), images);
    b.loadDataState(state);
    const auto [g2, l2] = b.makeCrops({3, 4});
    QVERIFY(torch::equal(g1, g2));
    QVERIFY(torch::equal(l1, l2));
    QCOMPARE(g1.sizes(), (c10::IntArrayRef{4, 3, 24, 24}));
    QCOMPARE(l1.sizes(), (c10::IntArrayRef{8, 3, 12, 12}));

    // Crops are made on several threads but do not depend on how many.
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);
    ImageStage single(tinyConfig(), images);
    const auto [g3, l3] = single.makeCrops({0, 1, 2, 3, 4, 5});
    torch::set_num_threads(2);
    ImageStage several(tinyConfig(), images);
    const auto [g4, l4] = several.makeCrops({0, 1, 2, 3, 4, 5});
    torch::set_num_threads(threads);
    QVERIFY(torch::equal(g3, g4));
    QVERIFY(torch::equal(l3, l4));
}

void TestImageStage::shortTrainingRunLearnsWithoutCollapse() {
    torch::manual_seed(0);
    auto config = tinyConfig();
    const int64_t steps = 60;
    config.scheduleSteps = steps;
    // DINOv2's head proportions: a 256-d bottleneck. With 32 dimensions the cosine logits of
    // a random head spread by 1/√32 across prototypes, the student's softmax is far from flat
    // at initialisation, and flattening it (which a near-uniform teacher asks for first) pulls
    // every image to the same bottleneck vector: the teacher then loses what told images apart.
    config.dinoHead = {256, 256, 256};
    // Time constants for a 60-step run: the teacher averages over ~10 student steps and the
    // center over ~2, so the center follows the teacher's drift. A center as slow as the
    // teacher lets the common drift of all outputs show as a sharp shared assignment, which
    // drags every image onto one prototype. A sharp teacher (0.02) separates the images'
    // assignments within the run.
    config.teacherMomentumStart = 0.9;
    config.centerMomentum = 0.5;
    config.teacherTemperatureStart = config.teacherTemperature = 0.02;
    config.teacherTemperatureWarmupSteps = 0;
    config.freezeLastLayerSteps = 1;
    const auto images = syntheticGalaxies(48, 32, 5);
    ImageStage stage(config, images);
    const double informationBefore = teacherMutualInformation(stage, images);

    const auto result = train::train(stage, quickParams(steps));
    QCOMPARE(result.status, train::TrainStatus::Completed);
    QCOMPARE(int64_t(result.history.size()), steps);
    QVERIFY(!result.collapsed);
    for (const auto& m : result.history)
        for (const auto& [name, value] : m.terms) QVERIFY2(std::isfinite(value), name.c_str());

    auto meanOf = [&](const char* key, bool health, int64_t from, int64_t to) {
        double sum = 0;
        for (int64_t i = from; i < to; ++i) {
            const auto& m = result.history[size_t(i)];
            sum += health ? m.health.at(key) : m.terms.at(key);
        }
        return sum / double(to - from);
    };
    const double logK = std::log(double(config.dinoHead.prototypes));
    const double firstDino = meanOf("dino", false, 0, 10), lastDino = meanOf("dino", false, steps - 10, steps);
    qInfo("loss %.4f -> %.4f, dino %.4f -> %.4f (log K = %.4f), ibot %.4f -> %.4f, koleo %.4f -> %.4f",
          meanOf("loss", false, 0, 10), meanOf("loss", false, steps - 10, steps), firstDino, lastDino, logK,
          meanOf("ibot", false, 0, 10), meanOf("ibot", false, steps - 10, steps), meanOf("koleo", false, 0, 10),
          meanOf("koleo", false, steps - 10, steps));
    const double entropy = meanOf("teacher_entropy", true, steps - 10, steps);
    const double spread = meanOf("embedding_std", true, steps - 10, steps);
    const double informationAfter = teacherMutualInformation(stage, images);
    qInfo("teacher entropy %.4f, image-prototype information %.4f -> %.4f nats, embedding std %.4f "
          "(1/sqrt(D) = %.4f)", entropy, informationBefore, informationAfter, spread, 1.0 / std::sqrt(64.0));
    // Early in DINO the cross-entropy falls slowly: it is the teacher's entropy plus the
    // student's mismatch, and the teacher sharpens (its entropy drops by a third here) as fast
    // as the student catches up. What shows learning is that sharpening: neither collapse
    // (every image on one prototype: entropy near 0, no information) nor a uniform teacher
    // (entropy log K, no information), but assignments that depend on the image, far more
    // than at initialisation, while the student's CLS vectors keep their spread.
    QVERIFY2(lastDino < 0.99 * firstDino, "the DINO loss did not fall");
    QVERIFY(entropy > 0.1 * logK && entropy < 0.8 * logK);
    QVERIFY(informationAfter > 0.3 && informationAfter > 5.0 * informationBefore);
    QVERIFY(spread > 0.5 / std::sqrt(64.0));

    // The teacher is an average of past students, not the student; the center's EMA weight
    // is that of `steps` updates (the bias correction divides by it).
    double largest = 0;
    auto teacherParams = stage.teacher->named_parameters(true);
    for (const auto& item : stage.student->named_parameters(true))
        largest = std::max(largest, maxAbsDiff(item.value(), teacherParams[item.key()]));
    QVERIFY(largest > 1e-4);
    const auto extra = stage.extraState();
    QVERIFY(std::abs(extra.at("dino_center_weight").item<double>() - (1.0 - std::pow(0.5, double(steps)))) < 1e-12);
}

void TestImageStage::cancelledRunResumesExactly_data() {
    QTest::addColumn<bool>("prefetch");
    QTest::newRow("batches made on demand") << false;
    // As on CUDA: the checkpoint is written while the next batch waits, made ahead on a worker
    // thread; it must record the state before that batch.
    QTest::newRow("batches made ahead") << true;
}

void TestImageStage::cancelledRunResumesExactly() {
    QFETCH(bool, prefetch);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto config = tinyConfig();
    config.batchSize = 8;  // 4 batches per epoch: the stop falls inside the third epoch
    config.localCrops = 2;
    config.scheduleSteps = 12;
    config.freezeLastLayerSteps = 10;  // frozen before the stop, trained after it
    const auto images = syntheticGalaxies(32, 32, 9);
    const auto params = quickParams(12);

    torch::manual_seed(6);
    ImageStage straight(config, images);
    const auto full = train::train(straight, params);

    torch::manual_seed(6);
    ImageStage first(config, images);
    first.setPrefetch(prefetch);
    auto p1 = params;
    p1.outDir = dir.path().toStdString();
    train::TrainHooks stopAt9;
    stopAt9.progress = [](const train::TrainProgress& p) { return p.step < 9; };
    const auto part = train::train(first, p1, stopAt9);
    QVERIFY(part.status == train::TrainStatus::Cancelled);
    QCOMPARE(part.step, int64_t(9));
    QVERIFY(!part.lastCheckpoint.empty());

    // The cancelled checkpoint holds an encoder that loads on its own and embeds.
    const auto saved = models::readStateDict(part.lastCheckpoint + ".safetensors");
    models::VisionTransformer encoder(config.vit);
    models::importStateDict(*encoder, models::selectPrefix(saved, "teacher.backbone."), "teacher backbone");
    for (const auto& item : first.teacher->backbone->named_parameters(true))
        QVERIFY(torch::equal(item.value(), encoder->named_parameters()[item.key()]));
    encoder->eval();
    const auto embedded = encoder->forward(normalizeNanomaggies(images.slice(0, 0, 4))).cls;
    QVERIFY(torch::isfinite(embedded).all().item<bool>());

    torch::manual_seed(99);  // the weights come from the checkpoint
    ImageStage second(config, images);
    second.setPrefetch(prefetch);
    auto p2 = params;
    p2.resumeFrom = part.lastCheckpoint;
    const auto resumed = train::train(second, p2);
    QCOMPARE(resumed.step, int64_t(12));
    for (size_t i = 0; i < 12; ++i)
        for (const auto& [name, value] : full.history.at(i).terms)
            QCOMPARE(resumed.history.at(i).terms.at(name), value);
    for (const auto& module : {std::pair{straight.student, second.student}, std::pair{straight.teacher, second.teacher}})
        for (const auto& item : module.first->named_parameters(true))
            QVERIFY2(torch::equal(item.value(), module.second->named_parameters()[item.key()]), item.key().c_str());
    const auto a = straight.extraState(), b = second.extraState();
    for (const auto& [name, tensor] : a) QVERIFY2(torch::equal(tensor, b.at(name)), name.c_str());
}

QTEST_GUILESS_MAIN(TestImageStage)
#include "tst_image_stage.moc"
