#pragma once
// A finished (or checkpointed) training run opened for inference: the encoders it holds, built
// in the architecture it trained and loaded from its checkpoint, with the data geometry and
// preprocessing they trained with. What `astroclip embed`, `search --file` and the app's
// views use to turn objects into vectors.
//
// Which encoders a run holds (backbone = the encoder's own vector, aligned = the CLIP space):
//   spectrum run     spectrum backbone                          (checkpoint names "<param>")
//   image run        image backbone: the EMA teacher, as DINOv2  ("teacher.backbone.<param>")
//   clip run         both backbones and both alignment heads     ("image.backbone.", "image.head.", ...)
//   supervised run   the backbone of its modality                ("backbone.<param>")
#include "core/dataset/snapshot.h"
#include "core/models/alignment_head.h"
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/runs/train_run.h"
#include "core/stages/image_augment.h"

#include <c10/core/Device.h>

#include <optional>
#include <string>

namespace astroclip::runs {

enum class EmbeddingSpace { Backbone, Aligned };
const char* spaceName(EmbeddingSpace space);  // "backbone", "aligned"
std::optional<EmbeddingSpace> parseSpace(const std::string& name);

struct TrainedEncoders {
    std::string runDir;            // the run folder (holds run.json)
    std::string checkpoint;        // "<dir>/<name>" loaded
    StageKind kind = StageKind::Spectrum;
    std::string modelName;         // as the run registered it in its catalog
    std::string configJson;        // the run's configuration (run.json "config"), compact JSON
    int64_t step = 0;              // optimizer steps behind the checkpoint
    c10::Device device{c10::kCPU};

    // Image side: ViT in eval mode on `device`, and what its inputs were.
    std::optional<models::VisionTransformer> vit;
    stages::ImageNormalization imageNormalization;
    int cropSize = 0;              // cutout side it was trained on (centre crop)
    // Spectrum side.
    std::optional<models::SpecFormer> specformer;
    int spectrumDownsample = 1;    // factor on the DESI grid it was trained on
    // Clip runs: the alignment heads (image, spectrum).
    std::optional<models::AlignmentHead> imageHead, spectrumHead;

    bool has(Modality modality, EmbeddingSpace space) const;
    // The space to embed in when the user names none: aligned for a clip run, else backbone.
    EmbeddingSpace defaultSpace() const;
    // What each embedding of the (modality, space) is, for messages: e.g. "aligned image
    // vectors (128-d) of clip run runs/clip".
    std::string describe(Modality modality, EmbeddingSpace space) const;
    int64_t dim(Modality modality, EmbeddingSpace space) const;  // vector width
    // The snapshot parameters that feed this run's encoders one modality (crop, downsample).
    SnapshotParams snapshotParams(Modality modality) const;
};

// `given` is a run folder, or a checkpoint in one ("<dir>/<name>"). Throws FileError naming
// the path when it is not a run of this program (bare weights carry no architecture), its
// run.json or checkpoint is unreadable or damaged, or the weights do not fit; UsageError for
// a device that is not available.
TrainedEncoders openTrainedEncoders(const std::string& given, const std::string& device = "auto");

// UsageError saying what the run holds when it lacks the (modality, space) asked for.
void requireEncoder(const TrainedEncoders& encoders, Modality modality, EmbeddingSpace space);

} // namespace astroclip::runs
