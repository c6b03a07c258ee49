#include "core/stages/image_stage.h"

#include "core/common/error.h"
#include "core/stages/dino_losses.h"
#include "core/stages/stage_data.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace astroclip::stages {

DinoModelImpl::DinoModelImpl(const models::ViTConfig& vit, const DinoHeadConfig& dino, const DinoHeadConfig* ibot) {
    backbone = register_module("backbone", models::VisionTransformer(vit));
    dino_head = register_module("dino_head", DinoHead(vit.embedDim, dino));
    if (ibot) ibot_head = register_module("ibot_head", DinoHead(vit.embedDim, *ibot));
}

namespace {

// Validated before the sampler is built, so a bad input is reported as such.
torch::Tensor checkedImages(const torch::Tensor& images, const ImageStageConfig& config) {
    if (!images.defined() || images.dim() != 4 || images.size(1) != 3 || images.size(2) != images.size(3))
        throw UsageError("image stage takes square g,r,z images [N, 3, S, S]");
    config.validate(images.size(2));
    if (images.size(0) < config.batchSize)
        throw UsageError("image stage has " + std::to_string(images.size(0)) + " images, fewer than one batch of " +
                         std::to_string(config.batchSize));
    auto copy = images.to(torch::kCPU, torch::kFloat32).contiguous().clone();
    if (!torch::isfinite(copy).all().item<bool>())
        throw UsageError("image stage: the training images contain NaN or infinite pixels");
    return copy;
}

} // namespace

ImageStage::ImageStage(ImageStageConfig config, torch::Tensor images, nlohmann::json provenance)
    : config_(std::move(config)),
      images_(checkedImages(images, config_)),
      provenance_(std::move(provenance)),
      sampler_(images_.size(0), config_.batchSize, config_.seed),
      augmenter_(config_.augment, config_.seed ^ 0x9e3779b97f4a7c15ULL) {
    const DinoHeadConfig* ibot = config_.ibotSeparateHead ? &config_.ibotHead : nullptr;
    student = DinoModel(config_.vit, config_.dinoHead, ibot);
    // DINOv2 builds the teacher without stochastic depth: its targets must not be noisier
    // than the network it averages. Same parameters, so the EMA pairs them by name.
    auto teacherVit = config_.vit;
    teacherVit.dropPathRate = 0.0;
    teacher = DinoModel(teacherVit, config_.dinoHead, ibot);
    syncTeacherToStudent();
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    dinoCenter = torch::zeros({1, config_.dinoHead.prototypes});
    ibotCenter = torch::zeros({1, student->ibotHead().config.prototypes});
    if (provenance_.is_null()) provenance_ = nlohmann::json::object();
    provenance_["images"] = images_.size(0);
    provenance_["image_side"] = images_.size(2);
    prefetcher_ = std::make_unique<Prefetcher<CropBatch>>([this] { return makeBatch(); });
}

ImageStage::CropBatch ImageStage::makeBatch() {
    CropBatch out;
    out.stateBefore = liveDataState();
    const auto indices = sampler_.next();
    auto [globals, locals] = makeCrops(indices);
    const int64_t gridSide = config_.globalCropSize / config_.vit.patchSize;
    out.masks = sampleIbotMasks(config_.globalCrops * int64_t(indices.size()), gridSide * gridSide,
                                config_.ibotMinFraction, config_.ibotMaxFraction, config_.ibotSampleProbability,
                                augmenter_.engine());
    out.globals = pinBatches_ ? globals.pin_memory() : globals;
    out.locals = pinBatches_ ? locals.pin_memory() : locals;
    if (pinBatches_) out.masks = out.masks.pin_memory();
    return out;
}

std::unique_ptr<ImageStage> ImageStage::fromSnapshot(const ImageStageConfig& config, const DatasetSnapshot& snapshot,
                                                     const std::vector<size_t>& indices) {
    if (!snapshot.hasImages()) throw UsageError("the dataset snapshot holds no images");
    const int64_t side = snapshot.cropSize;
    const int64_t perImage = 3 * side * side;
    auto images = torch::empty({int64_t(indices.size()), 3, side, side});
    float* out = images.data_ptr<float>();
    for (size_t k = 0; k < indices.size(); ++k) {
        if (indices[k] >= snapshot.size()) throw UsageError("image stage: snapshot index out of range");
        std::copy_n(snapshot.images.data() + int64_t(indices[k]) * perImage, perImage, out + int64_t(k) * perImage);
    }
    nlohmann::json provenance{{"catalog", snapshot.catalogPath}, {"fingerprint", snapshot.fingerprint},
                              {"where", snapshot.params.where}, {"units", snapshot.imageUnits}};
    return std::make_unique<ImageStage>(config, images, provenance);
}

std::vector<train::NamedModule> ImageStage::modules() {
    return {{"student.", student.ptr()}, {"teacher.", teacher.ptr()}};
}

std::vector<train::ParamGroup> ImageStage::parameterGroups() {
    auto groups = backboneParamGroups("student.backbone.", *student->backbone, config_.finetune);
    if (config_.patchEmbedLrMultiplier != 1.0) {
        // DINOv2's patch_embed_lr_mult: the patch embedding learns slower than its block group.
        std::vector<train::ParamGroup> patchGroups;
        for (auto& group : groups) {
            train::ParamGroup patch{group.name + "/patch_embed", {}, group.lrMultiplier * config_.patchEmbedLrMultiplier,
                                    group.frozen};
            std::vector<train::NamedTensor> rest;
            for (auto& p : group.parameters)
                (p.name.find(".patch_embed.") != std::string::npos ? patch.parameters : rest).push_back(p);
            group.parameters = std::move(rest);
            if (!patch.parameters.empty()) patchGroups.push_back(std::move(patch));
        }
        std::erase_if(groups, [](const train::ParamGroup& g) { return g.parameters.empty(); });
        groups.insert(groups.begin(), patchGroups.begin(), patchGroups.end());
    }
    groups.push_back(train::ParamGroup::fromModule("student.dino_head", "student.dino_head.", *student->dino_head));
    if (student->ibot_head)
        groups.push_back(train::ParamGroup::fromModule("student.ibot_head", "student.ibot_head.", *student->ibot_head));
    return groups;
}

std::vector<train::HealthGuard> ImageStage::healthGuards() const {
    // Unit vectors spread over the sphere have a per-dimension std near 1/√D; a collapsed
    // batch has 0. Flag (not stop) when the spread falls under 2 % of that for 20 steps.
    train::HealthGuard spread{"embedding_std", 0.02 / std::sqrt(double(config_.vit.embedDim)), std::nullopt, 20, false};
    train::HealthGuard entropy{"teacher_entropy", 1e-3, std::nullopt, 20, false};
    return {spread, entropy};
}

void ImageStage::syncTeacherToStudent() {
    torch::NoGradGuard noGrad;
    const auto source = student->named_parameters(true);
    auto target = teacher->named_parameters(true);
    for (const auto& item : source) target[item.key()].copy_(item.value());
    const auto sourceBuffers = student->named_buffers(true);
    auto targetBuffers = teacher->named_buffers(true);
    for (const auto& item : sourceBuffers) targetBuffers[item.key()].copy_(item.value());
}

void ImageStage::updateTeacher(double momentum) {
    torch::NoGradGuard noGrad;
    const auto source = student->named_parameters(true);
    auto target = teacher->named_parameters(true);
    for (const auto& item : source) {
        auto& t = target[item.key()];
        t.mul_(momentum).add_(item.value().detach().to(t.device(), t.scalar_type()), 1.0 - momentum);
    }
}

std::pair<torch::Tensor, torch::Tensor> ImageStage::makeCrops(const std::vector<int64_t>& indices) {
    const auto batch = int64_t(indices.size());
    const int64_t g = config_.globalCropSize, l = config_.localCropSize;
    const int64_t perImage = config_.globalCrops + config_.localCrops;
    // Each crop gets its own augmenter, seeded from the stage's RNG in a fixed order: images can
    // then be cropped on all threads (a GPU step outruns one CPU thread making 640 crops) and
    // the crops stay the same for any thread count.
    std::vector<uint64_t> seeds(static_cast<size_t>(batch * perImage));
    for (auto& seed : seeds) seed = augmenter_.engine()();
    auto globals = torch::empty({config_.globalCrops * batch, 3, g, g});
    auto locals = torch::empty({config_.localCrops * batch, 3, l, l});
    // Inside at::parallel_for every tensor op runs on its calling thread: a crop's hundreds of
    // tiny ops would lose more to an intra-op pool's wake-ups than they gain (a blur of a 56-px
    // crop: 0.4 ms on one thread, 10–25 ms on two busy cores).
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
            const auto image = images_[indices[size_t(b)]];
            const uint64_t* seed = seeds.data() + b * perImage;
            for (int64_t c = 0; c < config_.globalCrops; ++c) {
                ImageAugmenter crop(config_.augment, *seed++);
                globals[c * batch + b].copy_(crop.augment(crop.randomCrop(image, g)));
            }
            for (int64_t c = 0; c < config_.localCrops; ++c) {
                ImageAugmenter crop(config_.augment, *seed++);
                locals[c * batch + b].copy_(crop.augment(crop.randomCrop(image, l)));
            }
        }
    });
    return {normalizeNanomaggies(globals, config_.normalization), normalizeNanomaggies(locals, config_.normalization)};
}

namespace {

// The teacher's targets from its logits [N, K]: Sinkhorn–Knopp, or softmax after centering.
// With bias correction the center is the EMA divided by the weight its zero start left out
// (1 − m^updates, tracked as `weight`); before any update, the batch's own mean.
torch::Tensor teacherTargets(const ImageStageConfig& config, const torch::Tensor& logits, const torch::Tensor& center,
                             double weight, double temperature) {
    if (config.centering == TeacherCentering::SinkhornKnopp) return sinkhornKnoppTeacherProbs(logits, temperature);
    if (!config.centerBiasCorrection) return centeredTeacherProbs(logits, center, temperature);
    const auto corrected = weight > 0 ? center / weight : logits.mean(0, true);
    return centeredTeacherProbs(logits, corrected, temperature);
}

} // namespace

train::LossTerms ImageStage::step(int64_t globalStep, const train::StepContext& ctx) {
    // DINOv2 loads the student's weights into the teacher when training starts; here that also
    // covers a student initialised from a file after the stage was built (--init).
    if (globalStep == 0 && ctx.microStep == 0) syncTeacherToStudent();
    setFrozenPartsToEval(*student->backbone, config_.finetune);
    const bool freezePrototypes = globalStep < config_.freezeLastLayerSteps;
    student->dino_head->last_layer->frozen = freezePrototypes;
    student->ibotHead().last_layer->frozen = freezePrototypes;

    pinBatches_ = pinnedFor(ctx.device);
    const CropBatch crops = prefetcher_->next(/*ahead=*/ctx.device.is_cuda() || prefetchAlways_);
    const int64_t batch = crops.globals.size(0) / config_.globalCrops;
    const auto globals = toDevice(crops.globals, ctx.device);
    const auto masks = toDevice(crops.masks, ctx.device);
    const auto maskedRows = masks.nonzero();  // [M, 2] (image, patch)
    const double teacherTemp = teacherTemperatureAt(config_, globalStep);
    dinoCenter = dinoCenter.to(ctx.device);
    ibotCenter = ibotCenter.to(ctx.device);

    torch::Tensor teacherDinoLogits, teacherDinoProbs, teacherIbotLogits, teacherIbotProbs;
    {
        torch::NoGradGuard noGrad;
        const auto out = teacher->backbone->forward(globals);
        teacherDinoLogits = teacher->dino_head->forward(out.cls).to(torch::kFloat32);
        teacherDinoProbs = teacherTargets(config_, teacherDinoLogits, dinoCenter, dinoCenterWeight_, teacherTemp);
        const auto maskedPatches = out.patches.index({maskedRows.select(1, 0), maskedRows.select(1, 1)});
        teacherIbotLogits = teacher->ibotHead().forward(maskedPatches).to(torch::kFloat32);
        teacherIbotProbs = teacherTargets(config_, teacherIbotLogits, ibotCenter, ibotCenterWeight_, teacherTemp);
    }

    const auto studentGlobal = student->backbone->forward(globals, masks);
    std::vector<torch::Tensor> clsTokens{studentGlobal.cls};
    if (config_.localCrops > 0) clsTokens.push_back(student->backbone->forward(toDevice(crops.locals, ctx.device)).cls);
    const auto studentDinoLogits = student->dino_head->forward(torch::cat(clsTokens, 0));
    const auto studentMasked = studentGlobal.patches.index({maskedRows.select(1, 0), maskedRows.select(1, 1)});
    const auto studentIbotLogits = student->ibotHead().forward(studentMasked);

    const auto dino = dinoLoss(studentDinoLogits, teacherDinoProbs, config_.globalCrops, config_.studentTemperature);
    const auto ibot = ibotLoss(studentIbotLogits, teacherIbotProbs, masks, config_.studentTemperature);
    torch::Tensor koleo = torch::zeros({}, dino.options());
    for (const auto& chunk : studentGlobal.cls.chunk(config_.globalCrops, 0)) koleo = koleo + koleoLoss(chunk);
    const auto total = dino * config_.dinoWeight + ibot * config_.ibotWeight + koleo * config_.koleoWeight;

    // Teacher logits for the center update after the optimizer step (summed over micro-batches).
    if (config_.centering == TeacherCentering::Center) {
        const auto dinoSum = teacherDinoLogits.sum(0, true);
        pendingDinoSum_ = pendingDinoSum_.defined() ? pendingDinoSum_ + dinoSum : dinoSum;
        pendingDinoRows_ += teacherDinoLogits.size(0);
        if (teacherIbotLogits.size(0) > 0) {
            const auto ibotSum = teacherIbotLogits.sum(0, true);
            pendingIbotSum_ = pendingIbotSum_.defined() ? pendingIbotSum_ + ibotSum : ibotSum;
            pendingIbotRows_ += teacherIbotLogits.size(0);
        }
    }

    train::LossTerms terms;
    terms.terms = {{"loss", total}, {"dino", dino.detach()}, {"ibot", ibot.detach()}, {"koleo", koleo.detach()}};
    terms.health["teacher_entropy"] = meanEntropy(teacherDinoProbs);
    {
        torch::NoGradGuard noGrad;
        namespace F = torch::nn::functional;
        const auto normalized = F::normalize(studentGlobal.cls.detach().to(torch::kFloat32),
                                             F::NormalizeFuncOptions().dim(-1).p(2).eps(1e-8));
        terms.health["embedding_std"] = normalized.std(0).mean().item<double>();
    }
    terms.samples = batch;
    return terms;
}

void ImageStage::afterOptimizerStep(int64_t globalStep) {
    updateTeacher(teacherMomentum(config_, globalStep));
    torch::NoGradGuard noGrad;
    const double m = config_.centerMomentum;
    if (pendingDinoRows_ > 0) {
        dinoCenter = updatedCenter(dinoCenter, pendingDinoSum_ / double(pendingDinoRows_), m);
        dinoCenterWeight_ = m * dinoCenterWeight_ + (1.0 - m);
    }
    if (pendingIbotRows_ > 0) {
        ibotCenter = updatedCenter(ibotCenter, pendingIbotSum_ / double(pendingIbotRows_), m);
        ibotCenterWeight_ = m * ibotCenterWeight_ + (1.0 - m);
    }
    pendingDinoSum_ = pendingIbotSum_ = torch::Tensor();
    pendingDinoRows_ = pendingIbotRows_ = 0;
}

std::map<std::string, torch::Tensor> ImageStage::extraState() {
    return {{"dino_center", dinoCenter.detach().to(torch::kCPU).clone()},
            {"ibot_center", ibotCenter.detach().to(torch::kCPU).clone()},
            {"dino_center_weight", torch::tensor({dinoCenterWeight_}, torch::kFloat64)},
            {"ibot_center_weight", torch::tensor({ibotCenterWeight_}, torch::kFloat64)}};
}

void ImageStage::loadExtraState(const std::map<std::string, torch::Tensor>& state) {
    auto take = [&](const char* name, torch::Tensor& target) {
        const auto it = state.find(name);
        if (it == state.end()) throw UsageError(std::string("image stage checkpoint lacks extra.") + name);
        if (!it->second.sizes().equals(target.sizes()))
            throw UsageError(std::string("image stage checkpoint's extra.") + name + " has the wrong shape");
        target = it->second.to(target.device(), torch::kFloat32).clone();
    };
    take("dino_center", dinoCenter);
    take("ibot_center", ibotCenter);
    auto weight = [&](const char* name) {
        const auto it = state.find(name);
        if (it == state.end() || it->second.numel() != 1)
            throw UsageError(std::string("image stage checkpoint lacks a scalar extra.") + name);
        return it->second.to(torch::kCPU, torch::kFloat64).item<double>();
    };
    dinoCenterWeight_ = weight("dino_center_weight");
    ibotCenterWeight_ = weight("ibot_center_weight");
}

nlohmann::json ImageStage::liveDataState() const {
    return {{"sampler", sampler_.state()}, {"augment_rng", augmenter_.state()}};
}

nlohmann::json ImageStage::dataState() const {
    // A batch made ahead has advanced the sampler and the RNG, but the run has not seen it.
    if (const CropBatch* waiting = prefetcher_->waiting()) return waiting->stateBefore;
    return liveDataState();
}

void ImageStage::loadDataState(const nlohmann::json& state) {
    if (!state.is_object() || !state.contains("sampler") || !state.contains("augment_rng"))
        throw UsageError("image stage data state must hold 'sampler' and 'augment_rng'");
    prefetcher_->discard();
    sampler_.load(state.at("sampler"));
    augmenter_.loadState(state.at("augment_rng").get<std::string>());
}

} // namespace astroclip::stages
