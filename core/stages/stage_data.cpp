#include "core/stages/stage_data.h"

#include "core/common/error.h"
#include "core/dataset/split.h"

#include <torch/torch.h>

#include <cassert>
#include <cstring>

namespace astroclip::stages {

TrainingSplit trainingSplit(const DatasetSnapshot& snapshot, double heldOutFraction, uint64_t seed) {
    const SplitIndices split = splitHeldOut(snapshot.ids, heldOutFraction, seed);
    TrainingSplit out;
    out.trainRows.assign(split.train.begin(), split.train.end());
    out.heldOut = static_cast<int64_t>(split.heldOut.size());
    out.heldOutFraction = heldOutFraction;
    out.seed = seed;
    if (out.trainRows.empty())
        throw UsageError("all " + std::to_string(snapshot.size()) + " objects of the selection are held out "
                         "(fraction " + std::to_string(heldOutFraction) + "): nothing is left to train on");
    return out;
}

torch::Tensor gatherRows(const std::vector<float>& data, const std::vector<int64_t>& tail,
                         const std::vector<int64_t>& rows, bool pinned) {
    int64_t rowElems = 1;
    for (auto d : tail) rowElems *= d;
    std::vector<int64_t> shape{static_cast<int64_t>(rows.size())};
    shape.insert(shape.end(), tail.begin(), tail.end());
    auto out = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat).pinned_memory(pinned));
    float* dst = out.data_ptr<float>();
    for (size_t i = 0; i < rows.size(); ++i) {
        assert(rows[i] >= 0 && size_t(rows[i] + 1) * size_t(rowElems) <= data.size());
        std::memcpy(dst + i * size_t(rowElems), data.data() + size_t(rows[i]) * size_t(rowElems),
                    size_t(rowElems) * sizeof(float));
    }
    return out;
}

torch::Tensor toDevice(const torch::Tensor& host, c10::Device device) {
    return host.to(device, /*non_blocking=*/host.is_pinned());
}

nlohmann::json snapshotProvenance(const DatasetSnapshot& snapshot, const TrainingSplit& split) {
    const auto& c = snapshot.counts;
    return {{"catalog", snapshot.catalogPath},
            {"fingerprint", snapshot.fingerprint},
            {"where", snapshot.params.where},
            {"modality", modalityName(snapshot.params.modality)},
            {"crop_size", snapshot.cropSize},
            {"spectrum_downsample", snapshot.params.spectrumDownsample},
            {"spectrum_length", snapshot.spectrumLength},
            {"selected", c.selected},
            {"loaded", c.loaded},
            {"skipped_no_image", c.skippedNoImage},
            {"skipped_no_spectrum", c.skippedNoSpectrum},
            {"failed", c.failed},
            {"train_objects", static_cast<int64_t>(split.trainRows.size())},
            {"held_out_objects", split.heldOut},
            {"held_out_fraction", split.heldOutFraction},
            {"split_seed", split.seed}};
}

} // namespace astroclip::stages
