#pragma once
// Batched inference: the step between trained encoders and everything downstream (search,
// probes, maps). The same preprocessing the stages trained with (image_augment.h's asinh
// normalisation; SpecFormer's own per-spectrum standardisation), no gradient, eval mode,
// batches moved to `device` and results gathered on the CPU.
//
// Which vector stands for an object:
//   image backbone    the ViT's final-norm CLS token                      [N, D]
//   spectrum backbone the SpecFormer's final-norm tokens averaged over all [N, D]
//                     tokens (statistics token included), as the spectrum stage's health
//                     metric and AstroCLIP's backbone probes do
//   aligned           an alignment head over all of the backbone's tokens [N, E]
// Embeddings are returned as computed (not normalised); search normalises.
//
// The modules must already live on options.device (UsageError otherwise: moving a caller's
// model behind its back would surprise a trainer holding it). They run in eval mode (no
// dropout, no stochastic depth) and get their previous mode back afterwards, also on a throw.
// Batching does not change the result beyond float rounding: no layer mixes a batch's rows.
#include "core/common/progress.h"
#include "core/models/alignment_head.h"
#include "core/models/specformer.h"
#include "core/models/vit.h"
#include "core/stages/image_augment.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace astroclip::embed {

struct EncodeOptions {
    int64_t batchSize = 64;
    c10::Device device{c10::kCPU};
    ProgressFn progress;           // stage "embed", done/total in objects, before the first
                                   // batch and after each; may cancel (throws Cancelled)
};

// images [N, 3, S, S] g,r,z in nanomaggies (any device), S a multiple of the patch size →
// CLS [N, D] float32 on the CPU. When `head` is given, the aligned vectors [N, E] instead.
// UsageError for another shape, a side that is not a multiple of the patch, a head whose
// token width is not the ViT's, a batch size < 1 or a module on another device.
at::Tensor encodeImages(models::VisionTransformerImpl& vit, const at::Tensor& images,
                        const stages::ImageNormalization& normalization, const EncodeOptions& options,
                        models::AlignmentHeadImpl* head = nullptr);

// images [N, 3, S, S] as above → the final-norm patch tokens [N, (S/p)², D] float32 on the CPU,
// row-major over the patch grid: the dense features of patch PCA and the dense heads.
at::Tensor encodeImagePatches(models::VisionTransformerImpl& vit, const at::Tensor& images,
                              const stages::ImageNormalization& normalization, const EncodeOptions& options);

// flux [N, L] on the model's grid (1e-17 erg/s/cm²/Å; zeros where ivar == 0) → mean token
// [N, D] float32 on the CPU; with `head`, the aligned vectors [N, E]. UsageError as above,
// and for spectra whose length gives no patch or more tokens than the model's table holds.
at::Tensor encodeSpectra(models::SpecFormerImpl& specformer, const at::Tensor& flux, const EncodeOptions& options,
                         models::AlignmentHeadImpl* head = nullptr);

} // namespace astroclip::embed
