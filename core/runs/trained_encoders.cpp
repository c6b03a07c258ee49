#include "core/runs/trained_encoders.h"

#include "core/common/error.h"
#include "core/dataset/spectrum_arrays.h"
#include "core/models/state_dict.h"
#include "core/runs/run_config.h"
#include "core/runs/run_files.h"
#include "core/train/run_checkpoint.h"
#include "core/train/device.h"

#include <torch/torch.h>

namespace astroclip::runs {

namespace {

const char* modalityText(Modality m) { return m == Modality::Image ? "image" : "spectrum"; }

// Loads the checkpoint tensors under `prefix` into `module`, completely (FileError naming the
// checkpoint when they do not fit: a run folder whose files disagree was edited or damaged).
void loadInto(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
              const std::string& prefix, const std::string& checkpoint, const std::string& what) {
    models::StateDict weights;
    for (const auto& [name, tensor] : tensors)
        if (name.rfind(prefix, 0) == 0) weights[name.substr(prefix.size())] = tensor;
    try {
        models::importStateDict(module, weights, what);
    } catch (const models::WeightsMismatch& e) {
        throw FileError(checkpoint + ".safetensors", std::string("does not hold the run's ") + what + ": " + e.what());
    }
}

// The model tensors of a checkpoint (the trainer's reserved entries hold optimizer and RNG state).
std::map<std::string, torch::Tensor> modelTensors(const std::map<std::string, torch::Tensor>& tensors) {
    std::map<std::string, torch::Tensor> kept;
    for (const auto& [name, tensor] : tensors)
        if (!train::isReservedTensorName(name)) kept.emplace(name, tensor);
    return kept;
}

} // namespace

const char* spaceName(EmbeddingSpace space) { return space == EmbeddingSpace::Aligned ? "aligned" : "backbone"; }

std::optional<EmbeddingSpace> parseSpace(const std::string& name) {
    if (name == "backbone") return EmbeddingSpace::Backbone;
    if (name == "aligned") return EmbeddingSpace::Aligned;
    return std::nullopt;
}

bool TrainedEncoders::has(Modality modality, EmbeddingSpace space) const {
    if (modality == Modality::Image) return vit && (space == EmbeddingSpace::Backbone || imageHead);
    if (modality == Modality::Spectrum) return specformer && (space == EmbeddingSpace::Backbone || spectrumHead);
    return false;
}

EmbeddingSpace TrainedEncoders::defaultSpace() const {
    return kind == StageKind::Clip ? EmbeddingSpace::Aligned : EmbeddingSpace::Backbone;
}

int64_t TrainedEncoders::dim(Modality modality, EmbeddingSpace space) const {
    assert(has(modality, space));
    if (space == EmbeddingSpace::Aligned)
        return modality == Modality::Image ? (*imageHead)->config().embedDim : (*spectrumHead)->config().embedDim;
    return modality == Modality::Image ? (*vit)->config().embedDim : (*specformer)->config().embedDim;
}

std::string TrainedEncoders::describe(Modality modality, EmbeddingSpace space) const {
    return std::string(spaceName(space)) + " " + modalityText(modality) + " vectors (" +
           std::to_string(dim(modality, space)) + "-d) of " + stageKindName(kind) + " run " + runDir;
}

SnapshotParams TrainedEncoders::snapshotParams(Modality modality) const {
    SnapshotParams p;
    p.modality = modality;
    p.cropSize = cropSize > 0 ? cropSize : 64;
    p.spectrumDownsample = spectrumDownsample;
    return p;
}

void requireEncoder(const TrainedEncoders& encoders, Modality modality, EmbeddingSpace space) {
    if (encoders.has(modality, space)) return;
    std::string holds;
    for (const auto m : {Modality::Image, Modality::Spectrum})
        for (const auto s : {EmbeddingSpace::Backbone, EmbeddingSpace::Aligned})
            if (encoders.has(m, s)) holds += (holds.empty() ? "" : ", ") + std::string(modalityText(m)) + " " + spaceName(s);
    throw UsageError(std::string(stageKindName(encoders.kind)) + " run " + encoders.runDir + " has no " +
                     modalityText(modality) + " " + spaceName(space) + " encoder (it holds: " + holds + ")");
}

TrainedEncoders openTrainedEncoders(const std::string& given, const std::string& device) {
    const auto src = locateCheckpoint(given, "--model");
    if (!src.trainerCheckpoint || !src.run.is_object())
        throw FileError(given, "is not a training run of astroclip (no run.json beside the checkpoint): bare weights "
                               "carry no architecture; fine-tune them with `astroclip train ... --init` first");
    TrainedEncoders e;
    e.runDir = src.runDir;
    e.checkpoint = src.path;
    e.step = src.step;
    const auto kind = parseStageKind(src.run.value("kind", std::string()));
    if (!kind) throw FileError(runFilePath(src.runDir), "names an unknown stage kind");
    e.kind = *kind;
    e.modelName = src.run.value("model", std::string());
    const auto config = configFromJson(e.kind, src.run["config"], runFilePath(src.runDir));
    e.configJson = src.run["config"].dump();
    e.device = train::resolveDevice(device);
    e.cropSize = config.data.cropSize;
    e.spectrumDownsample = config.data.spectrumDownsample;
    e.imageNormalization = config.image.normalization;

    const auto tensors = modelTensors(train::readRunCheckpoint(src.path).tensors);
    const auto buildVit = [&](const std::string& prefix) {
        models::VisionTransformer vit(config.image.vit);
        loadInto(*vit, tensors, prefix, src.path, "image backbone (ViT " + config.image.vit.name + ")");
        e.vit = vit;
    };
    const auto buildSpecFormer = [&](const std::string& prefix) {
        models::SpecFormer spec(config.specformer);
        loadInto(*spec, tensors, prefix, src.path, "spectrum backbone (SpecFormer " + config.specformer.name + ")");
        e.specformer = spec;
    };
    switch (e.kind) {
    case StageKind::Spectrum:
        // The whole stage is the SpecFormer: every model tensor sits at the top level.
        buildSpecFormer("");
        break;
    case StageKind::Image: buildVit("teacher.backbone."); break;
    case StageKind::Clip: {
        buildVit("image.backbone.");
        buildSpecFormer("spectrum.backbone.");
        auto imageConfig = models::AlignmentHeadConfig::forImages(config.image.vit.embedDim, config.clip.embedDim);
        auto spectrumConfig = models::AlignmentHeadConfig::forSpectra(config.specformer.embedDim, config.clip.embedDim);
        imageConfig.numHeads = spectrumConfig.numHeads = config.clip.headNumHeads;
        models::AlignmentHead imageHead(imageConfig), spectrumHead(spectrumConfig);
        loadInto(*imageHead, tensors, "image.head.", src.path, "image alignment head");
        loadInto(*spectrumHead, tensors, "spectrum.head.", src.path, "spectrum alignment head");
        e.imageHead = imageHead;
        e.spectrumHead = spectrumHead;
        break;
    }
    case StageKind::Supervised:
        if (config.supervised.modality == "image")
            buildVit("backbone.");
        else
            buildSpecFormer("backbone.");
        break;
    }
    const auto prepare = [&](torch::nn::Module& m) {
        m.to(e.device);
        m.eval();
    };
    if (e.vit) prepare(**e.vit);
    if (e.specformer) prepare(**e.specformer);
    if (e.imageHead) prepare(**e.imageHead);
    if (e.spectrumHead) prepare(**e.spectrumHead);
    return e;
}

} // namespace astroclip::runs
