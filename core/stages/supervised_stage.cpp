#include "core/stages/supervised_stage.h"

#include "core/common/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <set>
#include <sstream>

namespace astroclip::stages {

namespace {

// Puts every module of a tree into eval mode and gives each its own mode back afterwards
// (the backbone may hold frozen parts in eval mode and trainable ones in training mode).
class EvalModeGuard {
public:
    explicit EvalModeGuard(const std::vector<std::shared_ptr<torch::nn::Module>>& roots) {
        for (const auto& root : roots)
            for (const auto& m : root->modules(/*include_self=*/true)) saved_.emplace_back(m, m->is_training());
        for (const auto& root : roots) root->eval();
    }
    ~EvalModeGuard() {
        // saved_ is in pre-order (modules() lists a parent before its children), so a parent's
        // recursive train() is overridden by each child's own mode right after.
        for (auto& [module, training] : saved_) module->train(training);
    }
    EvalModeGuard(const EvalModeGuard&) = delete;
    EvalModeGuard& operator=(const EvalModeGuard&) = delete;

private:
    std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> saved_;
};

// Initial head weights from their own generator: the head is built before the trainer seeds
// LibTorch, and a run should not depend on what was drawn before the stage existed.
void initHead(torch::nn::Sequential& head, uint64_t seed) {
    auto generator = at::detail::createCPUGenerator(seed);
    torch::NoGradGuard noGrad;
    const auto layers = head->modules(/*include_self=*/false);
    std::vector<torch::nn::LinearImpl*> linears;
    for (const auto& m : layers)
        if (auto* linear = m->as<torch::nn::LinearImpl>()) linears.push_back(linear);
    for (size_t i = 0; i < linears.size(); ++i) {
        // MAE's probe: N(0, 0.01²) on the output layer; ViT-style 0.02 on hidden layers.
        const double std = i + 1 == linears.size() ? 0.01 : 0.02;
        auto& w = linears[i]->weight;
        w.copy_(torch::randn(w.sizes(), generator, w.options()) * std);
        linears[i]->bias.zero_();
    }
}

const std::vector<double>& requireColumn(const DatasetSnapshot& snapshot, const std::string& name) {
    const auto it = snapshot.columns.find(name);
    if (name.empty() || it == snapshot.columns.end()) {
        std::string have;
        for (const auto& [column, values] : snapshot.columns) have += (have.empty() ? "" : ", ") + column;
        throw UsageError("the supervised target '" + name + "' is not a column of the snapshot of " +
                         snapshot.catalogPath + " (" + (have.empty() ? "it has none" : "it has: " + have) +
                         "): add it to the snapshot's columns");
    }
    return it->second;
}

std::string formatNumber(double v) {
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
}

} // namespace

const char* supervisedTaskName(SupervisedTask task) {
    return task == SupervisedTask::Regression ? "regression" : "classification";
}

SupervisedTask parseSupervisedTask(const std::string& text) {
    if (text == "regression") return SupervisedTask::Regression;
    if (text == "classification") return SupervisedTask::Classification;
    throw UsageError("supervised task '" + text + "' is not known: use 'regression' or 'classification'");
}

const char* supervisedHeadName(SupervisedHead head) { return head == SupervisedHead::Linear ? "linear" : "mlp"; }

SupervisedHead parseSupervisedHead(const std::string& text) {
    if (text == "linear") return SupervisedHead::Linear;
    if (text == "mlp") return SupervisedHead::Mlp;
    throw UsageError("supervised head '" + text + "' is not known: use 'linear' or 'mlp'");
}

train::TrainParams supervisedTrainParams(const FineTuneOptions& finetune) {
    train::TrainParams p;
    p.lr = finetune.freeze == FreezeMode::All ? 1e-3 : 1e-4;
    p.minLr = p.lr / 100.0;
    p.warmupSteps = p.steps / 20;
    p.weightDecay = 0.05;
    return p;
}

double coefficientOfDetermination(const std::vector<double>& predicted, const std::vector<double>& truth) {
    assert(predicted.size() == truth.size());
    double sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < truth.size(); ++i)
        if (std::isfinite(truth[i]) && std::isfinite(predicted[i])) sum += truth[i], ++n;
    if (n < 2) return NAN;
    const double mean = sum / double(n);
    double residual = 0, total = 0;
    for (size_t i = 0; i < truth.size(); ++i)
        if (std::isfinite(truth[i]) && std::isfinite(predicted[i])) {
            residual += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
            total += (truth[i] - mean) * (truth[i] - mean);
        }
    return total > 0 ? 1.0 - residual / total : NAN;
}

double classificationAccuracy(const std::vector<double>& predicted, const std::vector<double>& truth) {
    assert(predicted.size() == truth.size());
    if (truth.empty()) return NAN;
    int64_t equal = 0;
    for (size_t i = 0; i < truth.size(); ++i) equal += predicted[i] == truth[i];
    return double(equal) / double(truth.size());
}

SupervisedStage::SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, SupervisedStageOptions options,
                                 int64_t embedDim)
    : snapshot_(std::move(snapshot)),
      options_(std::move(options)),
      embedDim_(embedDim),
      column_(&requireColumn(*snapshot_, options_.target)),
      split_(trainingSplit(*snapshot_, options_.heldOutFraction, options_.splitSeed)),
      augmenter_(options_.augmentParams, options_.samplerSeed ^ 0x5deece66dULL) {
    if (options_.batchSize < 1) throw UsageError("the supervised stage's batch size must be at least 1");
    if (options_.head == SupervisedHead::Mlp && options_.mlpHidden < 1)
        throw UsageError("the MLP head's hidden width must be at least 1");
    if (!(options_.backboneLrScale > 0))
        throw UsageError("the backbone's learning-rate scale must be positive (freeze the backbone with 'all' instead)");
    options_.augmentParams.validate();
    prepareTargets();

    const int64_t outputs = options_.task == SupervisedTask::Regression ? 1 : int64_t(classes_.size());
    head_ = torch::nn::Sequential();
    if (options_.head == SupervisedHead::Linear) {
        head_->push_back("linear", torch::nn::Linear(embedDim_, outputs));
    } else {
        head_->push_back("fc1", torch::nn::Linear(embedDim_, options_.mlpHidden));
        head_->push_back("act", torch::nn::GELU());
        head_->push_back("fc2", torch::nn::Linear(options_.mlpHidden, outputs));
    }
    initHead(head_, options_.samplerSeed ^ 0x68656164ULL);
    if (options_.batchSize > int64_t(trainRows_.size()))
        throw UsageError("batch size " + std::to_string(options_.batchSize) + " exceeds the " +
                         std::to_string(trainRows_.size()) + " training objects with a '" + options_.target +
                         "' value: lower the batch size or select more objects");
    sampler_.emplace(int64_t(trainRows_.size()), options_.batchSize, options_.samplerSeed);
}

SupervisedStage::SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::VisionTransformer backbone,
                                 SupervisedStageOptions options)
    : SupervisedStage(std::move(snapshot), std::move(options), backbone->config().embedDim) {
    vit_ = std::move(backbone);
    const auto& cfg = vit_->config();
    options_.finetune.validate(cfg.depth);
    if (!snapshot_->hasImages())
        throw UsageError("an image backbone needs images, but the snapshot of " + snapshot_->catalogPath +
                         " was built without them (use modality 'image' or 'both')");
    if (snapshot_->cropSize % cfg.patchSize != 0)
        throw UsageError("cutouts of " + std::to_string(snapshot_->cropSize) + " pixels are not a multiple of ViT '" +
                         cfg.name + "' patches (" + std::to_string(cfg.patchSize) + " pixels): choose another crop size");
}

SupervisedStage::SupervisedStage(std::shared_ptr<const DatasetSnapshot> snapshot, models::SpecFormer backbone,
                                 SupervisedStageOptions options)
    : SupervisedStage(std::move(snapshot), std::move(options), backbone->config().embedDim) {
    specformer_ = std::move(backbone);
    const auto& cfg = specformer_->config();
    options_.finetune.validate(cfg.depth);
    if (!snapshot_->hasSpectra())
        throw UsageError("a spectrum backbone needs spectra, but the snapshot of " + snapshot_->catalogPath +
                         " was built without them (use modality 'spectrum' or 'both')");
    const int64_t patches = cfg.numPatches(snapshot_->spectrumLength);
    if (patches == 0 || 1 + patches > cfg.maxTokens)
        throw UsageError("spectra of " + std::to_string(snapshot_->spectrumLength) + " pixels do not fit SpecFormer '" +
                         cfg.name + "' (patches of " + std::to_string(cfg.patchLength) + ", at most " +
                         std::to_string(cfg.maxTokens) + " tokens): choose another downsampling factor");
    if (options_.augment)
        throw UsageError("augmentation is for images; the spectrum backbone trains without it");
}

void SupervisedStage::prepareTargets() {
    const auto& y = *column_;
    assert(y.size() == snapshot_->size());
    const std::set<int64_t> training(split_.trainRows.begin(), split_.trainRows.end());
    for (int64_t row = 0; row < int64_t(y.size()); ++row) {
        if (!std::isfinite(y[size_t(row)])) continue;
        (training.count(row) ? trainRows_ : heldOutRows_).push_back(row);
    }
    if (trainRows_.empty())
        throw UsageError("none of the " + std::to_string(split_.trainRows.size()) + " training objects has a value of '" +
                         options_.target + "': select objects that have one");

    if (options_.task == SupervisedTask::Regression) {
        double sum = 0;
        for (auto r : trainRows_) sum += y[size_t(r)];
        targetMean_ = sum / double(trainRows_.size());
        double squares = 0;
        for (auto r : trainRows_) squares += (y[size_t(r)] - targetMean_) * (y[size_t(r)] - targetMean_);
        targetStd_ = std::sqrt(squares / double(trainRows_.size()));
        if (!(targetStd_ > 0))
            throw UsageError("'" + options_.target + "' has one value (" + formatNumber(targetMean_) +
                             ") over the training objects: there is nothing to regress");
        return;
    }
    std::set<double> distinct;
    for (double v : y)
        if (std::isfinite(v)) distinct.insert(v);
    if (int64_t(distinct.size()) > kMaxClasses)
        throw UsageError("'" + options_.target + "' takes " + std::to_string(distinct.size()) +
                         " distinct values, more than the " + std::to_string(kMaxClasses) +
                         " classes a classification allows: it looks continuous, use the regression task");
    if (distinct.size() < 2)
        throw UsageError("'" + options_.target + "' has a single class: there is nothing to classify");
    classes_.assign(distinct.begin(), distinct.end());
}

std::string SupervisedStage::name() const { return std::string("supervised-") + supervisedTaskName(options_.task); }

std::shared_ptr<torch::nn::Module> SupervisedStage::backbone() const {
    return vit_ ? std::static_pointer_cast<torch::nn::Module>(vit_.ptr())
                : std::static_pointer_cast<torch::nn::Module>(specformer_.ptr());
}

nlohmann::json SupervisedStage::config() const {
    nlohmann::json backbone;
    if (vit_) {
        const auto& c = vit_->config();
        backbone = {{"kind", "vit"}, {"preset", c.name}, {"image_size", c.imageSize}, {"patch_size", c.patchSize},
                    {"embed_dim", c.embedDim}, {"depth", c.depth}, {"num_heads", c.numHeads},
                    {"register_tokens", c.numRegisterTokens}, {"vector", "cls"}};
    } else {
        const auto& c = specformer_->config();
        backbone = {{"kind", "specformer"}, {"preset", c.name}, {"input_length", c.inputLength},
                    {"patch_length", c.patchLength}, {"patch_stride", c.patchStride}, {"embed_dim", c.embedDim},
                    {"depth", c.depth}, {"num_heads", c.numHeads}, {"max_tokens", c.maxTokens},
                    {"vector", "mean_token"}};
    }
    const int64_t outputs = options_.task == SupervisedTask::Regression ? 1 : int64_t(classes_.size());
    nlohmann::json j = {{"task", supervisedTaskName(options_.task)},
                        {"target", options_.target},
                        {"backbone", backbone},
                        {"head", {{"kind", supervisedHeadName(options_.head)},
                                  {"hidden", options_.head == SupervisedHead::Mlp ? options_.mlpHidden : 0},
                                  {"outputs", outputs}}},
                        {"batch_size", options_.batchSize},
                        {"finetune", options_.finetune.toJson()},
                        {"backbone_lr_scale", options_.backboneLrScale},
                        {"sampler_seed", options_.samplerSeed}};
    if (options_.task == SupervisedTask::Regression) {
        // Predictions are standardised: value = output × target_std + target_mean.
        j["target_mean"] = targetMean_;
        j["target_std"] = targetStd_;
    } else {
        j["classes"] = classes_;
    }
    if (vit_) {
        j["crop_size"] = snapshot_->cropSize;
        j["normalization"] = options_.normalization.toJson();
        j["augment"] = options_.augment ? options_.augmentParams.toJson() : nlohmann::json(false);
    } else {
        j["spectrum_length"] = snapshot_->spectrumLength;
    }
    return j;
}

nlohmann::json SupervisedStage::provenance() const {
    auto p = snapshotProvenance(*snapshot_, split_);
    p["target"] = options_.target;
    p["train_objects_with_target"] = int64_t(trainRows_.size());
    p["held_out_objects_with_target"] = int64_t(heldOutRows_.size());
    p["objects_without_target"] = int64_t(snapshot_->size() - trainRows_.size() - heldOutRows_.size());
    return p;
}

std::vector<train::NamedModule> SupervisedStage::modules() { return {{"backbone.", backbone()}, {"head.", head_.ptr()}}; }

std::vector<train::ParamGroup> SupervisedStage::parameterGroups() {
    auto groups = vit_ ? backboneParamGroups("backbone.", *vit_, options_.finetune, options_.backboneLrScale)
                       : backboneParamGroups("backbone.", *specformer_, options_.finetune, options_.backboneLrScale);
    groups.push_back(train::ParamGroup::fromModule("head", "head.", *head_));
    return groups;
}

std::vector<train::HealthGuard> SupervisedStage::healthGuards() const {
    train::HealthGuard guard;
    guard.metric = "embedding_std";
    guard.floor = options_.embeddingStdFloor;
    guard.patience = 20;
    return {guard};
}

at::Tensor SupervisedStage::inputs(const std::vector<int64_t>& rows, bool augment, const c10::Device& device) {
    const bool pinned = pinnedFor(device);
    if (!vit_)
        return toDevice(gatherRows(snapshot_->spectrumFlux, {snapshot_->spectrumLength}, rows, pinned), device);
    const int64_t side = snapshot_->cropSize;
    auto images = gatherRows(snapshot_->images, {3, side, side}, rows, pinned);
    if (augment)
        for (int64_t b = 0; b < images.size(0); ++b) images[b].copy_(augmenter_.augment(images[b]));
    return normalizeNanomaggies(toDevice(images, device), options_.normalization);
}

at::Tensor SupervisedStage::embed(const at::Tensor& inputs) {
    if (vit_) return vit_->forward(inputs).cls.to(torch::kFloat);
    return specformer_->forward(inputs).tokens.mean(1).to(torch::kFloat);
}

at::Tensor SupervisedStage::targetsFor(const std::vector<int64_t>& rows, const c10::Device& device) const {
    const auto& y = *column_;
    if (options_.task == SupervisedTask::Regression) {
        std::vector<float> standardised;
        for (auto r : rows) standardised.push_back(float((y[size_t(r)] - targetMean_) / targetStd_));
        return torch::tensor(standardised, torch::kFloat).to(device);
    }
    std::vector<int64_t> labels;
    for (auto r : rows)
        labels.push_back(std::lower_bound(classes_.begin(), classes_.end(), y[size_t(r)]) - classes_.begin());
    return torch::tensor(labels, torch::kLong).to(device);
}

train::LossTerms SupervisedStage::step(int64_t /*globalStep*/, const train::StepContext& ctx) {
    if (vit_)
        setFrozenPartsToEval(*vit_, options_.finetune);
    else
        setFrozenPartsToEval(*specformer_, options_.finetune);
    std::vector<int64_t> rows;
    for (auto i : sampler_->next()) rows.push_back(trainRows_[size_t(i)]);
    const auto x = inputs(rows, options_.augment, ctx.device);
    at::Tensor features;
    if (options_.finetune.freeze == FreezeMode::All) {
        torch::NoGradGuard noGrad;  // nothing in the backbone learns: keep no graph for it
        features = embed(x);
    } else {
        features = embed(x);
    }
    const auto output = head_->forward(features).to(torch::kFloat);
    const auto target = targetsFor(rows, ctx.device);

    train::LossTerms terms;
    if (options_.task == SupervisedTask::Regression) {
        const auto predicted = output.squeeze(1);
        terms.terms["loss"] = torch::mse_loss(predicted, target);
        terms.health["prediction_std"] = predicted.detach().std().item<double>();
    } else {
        terms.terms["loss"] = torch::cross_entropy_loss(output, target);
        terms.health["batch_accuracy"] = (output.detach().argmax(1) == target).to(torch::kFloat).mean().item<double>();
    }
    terms.health["embedding_std"] = features.detach().std(0).mean().item<double>();
    terms.samples = int64_t(rows.size());
    return terms;
}

nlohmann::json SupervisedStage::dataState() const {
    return {{"sampler", sampler_->state()}, {"augment_rng", augmenter_.state()}};
}

void SupervisedStage::loadDataState(const nlohmann::json& state) {
    if (!state.is_object() || !state.contains("sampler") || !state.contains("augment_rng") ||
        !state["augment_rng"].is_string())
        throw UsageError("supervised stage data state must hold 'sampler' and 'augment_rng'");
    sampler_->load(state["sampler"]);
    augmenter_.loadState(state["augment_rng"].get<std::string>());
}

at::Tensor SupervisedStage::predict(const std::vector<int64_t>& rows, int64_t batchSize) {
    assert(batchSize >= 1);
    for (auto r : rows)
        if (r < 0 || r >= int64_t(snapshot_->size()))
            throw UsageError("row " + std::to_string(r) + " is outside the snapshot's " +
                             std::to_string(snapshot_->size()) + " objects");
    const auto device = head_->parameters().front().device();
    EvalModeGuard evalMode({backbone(), head_.ptr()});
    torch::NoGradGuard noGrad;
    std::vector<at::Tensor> parts;
    for (size_t start = 0; start < rows.size(); start += size_t(batchSize)) {
        const std::vector<int64_t> batch(rows.begin() + std::ptrdiff_t(start),
                                         rows.begin() + std::ptrdiff_t(std::min(rows.size(), start + size_t(batchSize))));
        const auto output = head_->forward(embed(inputs(batch, false, device))).to(torch::kDouble).cpu();
        parts.push_back(options_.task == SupervisedTask::Regression ? output.squeeze(1) * targetStd_ + targetMean_
                                                                    : torch::softmax(output, 1));
    }
    if (parts.empty())
        return options_.task == SupervisedTask::Regression ? torch::empty({0}, torch::kDouble)
                                                           : torch::empty({0, int64_t(classes_.size())}, torch::kDouble);
    return torch::cat(parts, 0);
}

std::vector<double> SupervisedStage::predictValues(const std::vector<int64_t>& rows, int64_t batchSize) {
    const auto p = predict(rows, batchSize);
    std::vector<double> values;
    values.reserve(rows.size());
    if (options_.task == SupervisedTask::Regression) {
        const auto a = p.accessor<double, 1>();
        for (int64_t i = 0; i < p.size(0); ++i) values.push_back(a[i]);
    } else {
        const auto best = p.argmax(1);
        const auto a = best.accessor<int64_t, 1>();
        for (int64_t i = 0; i < best.size(0); ++i) values.push_back(classes_[size_t(a[i])]);
    }
    return values;
}

HeldOutScore SupervisedStage::evaluate(const std::vector<int64_t>& rows, int64_t batchSize) {
    std::vector<int64_t> scored;
    std::vector<double> truth;
    for (auto r : rows)
        if (r >= 0 && r < int64_t(snapshot_->size()) && std::isfinite((*column_)[size_t(r)])) {
            scored.push_back(r);
            truth.push_back((*column_)[size_t(r)]);
        }
    HeldOutScore score;
    score.objects = int64_t(scored.size());
    const auto predicted = predictValues(scored, batchSize);
    if (options_.task == SupervisedTask::Regression) {
        score.metric = "r2";
        score.value = coefficientOfDetermination(predicted, truth);
    } else {
        score.metric = "accuracy";
        score.value = classificationAccuracy(predicted, truth);
    }
    return score;
}

} // namespace astroclip::stages
