#include "core/embed/encode.h"

#include "core/common/error.h"
#include "core/models/out_of_memory.h"

#include <torch/torch.h>

#include <algorithm>
#include <cassert>
#include <functional>
#include <string>
#include <vector>

namespace astroclip::embed {

namespace {

// Puts modules into eval mode for the duration of a call and gives each back the mode it had,
// also when a batch throws (Cancelled, a CUDA error): the caller may be in the middle of
// training the same modules.
class EvalModeScope {
public:
    explicit EvalModeScope(std::vector<torch::nn::Module*> modules) {
        for (auto* m : modules) {
            if (!m) continue;
            saved_.emplace_back(m, m->is_training());
            m->eval();
        }
    }
    ~EvalModeScope() {
        for (auto& [m, training] : saved_) m->train(training);
    }
    EvalModeScope(const EvalModeScope&) = delete;
    EvalModeScope& operator=(const EvalModeScope&) = delete;

private:
    std::vector<std::pair<torch::nn::Module*, bool>> saved_;
};

// A device without an index ("cuda") stands for whichever device of that type the model is on.
void requireOnDevice(const torch::nn::Module& module, const c10::Device& device, const std::string& what) {
    const auto parameters = module.parameters();
    if (parameters.empty()) return;
    const auto have = parameters.front().device();
    if (have.type() != device.type() || (device.has_index() && have.index() != device.index()))
        throw UsageError("the " + what + " lives on " + have.str() + " but encoding was asked to run on " +
                         device.str() + ": move the model there first");
}

void requireBatchSize(const EncodeOptions& options) {
    if (options.batchSize < 1)
        throw UsageError("the embedding batch size must be at least 1, got " + std::to_string(options.batchSize));
}

void requireHeadFits(const models::AlignmentHeadImpl* head, int64_t tokenDim, const std::string& backbone) {
    if (head && head->config().tokenDim != tokenDim)
        throw UsageError("alignment head '" + head->config().name + "' takes tokens of width " +
                         std::to_string(head->config().tokenDim) + " but the " + backbone + " produces " +
                         std::to_string(tokenDim) + ": use the head trained with this backbone");
}

// Sends slices of a CPU input to a CUDA device through two page-locked staging buffers, so a
// transfer runs at the bus's full rate without blocking the host, and the host's copy into the
// next buffer overlaps the GPU's work on the current batch. Other inputs (CPU runs, inputs
// already on the device) go through Tensor::to. A buffer is refilled only two batches after its
// transfer was queued; by then runBatches has waited for the batch queued after that transfer.
class BatchSender {
public:
    BatchSender(const at::Tensor& input, int64_t batchSize, c10::Device device)
        : input_(input), batchSize_(batchSize), device_(device), staged_(device.is_cuda() && input.is_cpu()) {}

    at::Tensor send(int64_t start) {
        const int64_t count = std::min(batchSize_, input_.size(0) - start);
        const auto slice = input_.narrow(0, start, count);
        if (!staged_) return slice.to(device_, torch::kFloat);
        auto& buffer = buffers_[next_];
        next_ = 1 - next_;
        if (!buffer.defined()) {
            auto shape = input_.sizes().vec();
            shape[0] = std::min(batchSize_, input_.size(0));
            buffer = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat).pinned_memory(true));
        }
        auto host = buffer.narrow(0, 0, count);
        host.copy_(slice);
        return host.to(device_, /*non_blocking=*/true);
    }

private:
    const at::Tensor& input_;
    int64_t batchSize_;
    c10::Device device_;
    bool staged_;
    at::Tensor buffers_[2];
    int next_ = 0;
};

// Runs `encodeBatch` over [N, ...] in slices of options.batchSize without gradients and
// gathers the [b, width] results into one float32 CPU tensor [N, width]. Progress counts
// objects; a cancel request is honoured before each batch. The next batch is sent before the
// current one's result is read back, so on CUDA its transfer queues behind the current work.
at::Tensor runBatches(const at::Tensor& input, int64_t width, const EncodeOptions& options,
                      const std::function<torch::Tensor(const torch::Tensor&)>& encodeBatch) {
    const int64_t n = input.size(0);
    // Made before the guard: an inference tensor could not take part in autograd later (a
    // probe trained on these vectors); filling it in place under the guard is allowed.
    auto out = torch::empty({n, width}, torch::kFloat);
    const auto job = [&] {
        return "embedding " + std::to_string(n) + " objects in batches of " + std::to_string(options.batchSize);
    };
    const auto advice = [&] {
        return std::string("Lower the batch size (astroclip embed --batch; ") + std::to_string(options.batchSize) +
               " now) or run on a device with more memory.";
    };
    models::reportingOutOfMemory(options.device, job, advice, [&] {
        // Inference mode skips autograd's bookkeeping (version counters, view tracking) that a
        // no-grad guard still pays per op: ≈ 20 % more objects/s for the tiny ViT at 64 px.
        c10::InferenceMode inference;
        report(options.progress, {"embed", 0, n, ""});
        BatchSender sender(input, options.batchSize, options.device);
        at::Tensor batch = n > 0 ? sender.send(0) : at::Tensor();
        for (int64_t start = 0; start < n; start += options.batchSize) {
            const int64_t count = batch.size(0);
            const auto vectors = encodeBatch(batch);
            assert(vectors.dim() == 2 && vectors.size(0) == count && vectors.size(1) == width);
            if (start + count < n) batch = sender.send(start + count);
            out.narrow(0, start, count).copy_(vectors.to(torch::kCPU, torch::kFloat));
            report(options.progress, {"embed", start + count, n, ""});
        }
    });
    return out;
}

} // namespace

at::Tensor encodeImages(models::VisionTransformerImpl& vit, const at::Tensor& images,
                        const stages::ImageNormalization& normalization, const EncodeOptions& options,
                        models::AlignmentHeadImpl* head) {
    const auto& cfg = vit.config();
    if (images.dim() != 4 || images.size(1) != cfg.inChannels)
        throw UsageError("images to embed must be [N, " + std::to_string(cfg.inChannels) + ", S, S], got " +
                         c10::str(images.sizes()));
    if (images.size(2) % cfg.patchSize != 0 || images.size(3) % cfg.patchSize != 0)
        throw UsageError("images of " + std::to_string(images.size(2)) + "×" + std::to_string(images.size(3)) +
                         " pixels are not a multiple of ViT '" + cfg.name + "' patches (" +
                         std::to_string(cfg.patchSize) + " pixels): choose another crop size");
    requireBatchSize(options);
    requireHeadFits(head, cfg.embedDim, "ViT '" + cfg.name + "'");
    requireOnDevice(vit, options.device, "ViT '" + cfg.name + "'");
    if (head) requireOnDevice(*head, options.device, "image alignment head");

    EvalModeScope eval({&vit, head});
    const int64_t width = head ? head->config().embedDim : cfg.embedDim;
    return runBatches(images, width, options, [&](const torch::Tensor& batch) {
        const auto out = vit.forward(stages::normalizeNanomaggies(batch, normalization));
        return head ? head->forward(out.tokens).embedding : out.cls;
    });
}

at::Tensor encodeImagePatches(models::VisionTransformerImpl& vit, const at::Tensor& images,
                              const stages::ImageNormalization& normalization, const EncodeOptions& options) {
    const auto& cfg = vit.config();
    if (images.dim() != 4 || images.size(1) != cfg.inChannels || images.size(2) != images.size(3))
        throw UsageError("images for patch features must be [N, " + std::to_string(cfg.inChannels) + ", S, S], got " +
                         c10::str(images.sizes()));
    if (images.size(2) % cfg.patchSize != 0)
        throw UsageError("images of " + std::to_string(images.size(2)) + " pixels are not a multiple of ViT '" +
                         cfg.name + "' patches (" + std::to_string(cfg.patchSize) + " pixels): choose another crop size");
    requireBatchSize(options);
    requireOnDevice(vit, options.device, "ViT '" + cfg.name + "'");
    EvalModeScope eval({&vit});
    const int64_t grid = images.size(2) / cfg.patchSize, tokens = grid * grid;
    // Flattened per object so runBatches' [N, width] contract holds; reshaped on the way out.
    const auto flat = runBatches(images, tokens * cfg.embedDim, options, [&](const torch::Tensor& batch) {
        return vit.forward(stages::normalizeNanomaggies(batch, normalization)).patches.reshape({batch.size(0), -1});
    });
    return flat.reshape({images.size(0), tokens, cfg.embedDim});
}

at::Tensor encodeSpectra(models::SpecFormerImpl& specformer, const at::Tensor& flux, const EncodeOptions& options,
                         models::AlignmentHeadImpl* head) {
    const auto& cfg = specformer.config();
    if (flux.dim() != 2)
        throw UsageError("spectra to embed must be [N, L], got " + c10::str(flux.sizes()));
    requireBatchSize(options);
    requireHeadFits(head, cfg.embedDim, "SpecFormer '" + cfg.name + "'");
    requireOnDevice(specformer, options.device, "SpecFormer '" + cfg.name + "'");
    if (head) requireOnDevice(*head, options.device, "spectrum alignment head");

    EvalModeScope eval({&specformer, head});
    const int64_t width = head ? head->config().embedDim : cfg.embedDim;
    // forward() → tokenize() rejects spectra that give no patch or too many tokens.
    return runBatches(flux, width, options, [&](const torch::Tensor& batch) {
        const auto tokens = specformer.forward(batch).tokens;
        return head ? head->forward(tokens).embedding : tokens.mean(1);
    });
}

} // namespace astroclip::embed
