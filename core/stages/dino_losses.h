#pragma once
// The losses of DINOv2-style self-distillation, as plain functions of tensors so each can be
// checked against a hand computation:
//   - DINO: cross-entropy between the teacher's centred, sharpened softmax over prototypes on
//     each global crop and the student's softmax on every other crop;
//   - iBOT: the same on masked patches (student sees mask_token, teacher the real patch);
//   - KoLeo: −mean log(nearest-neighbour distance) of L2-normalised features, which spreads a
//     batch over the sphere;
// plus centering (an EMA of the teacher's mean logits subtracted before the softmax, which
// together with sharpening keeps the teacher from collapsing) and the iBOT mask sampler.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>

namespace astroclip::stages {

// softmax((teacherLogits − center) / temperature) along the last dimension.
at::Tensor centeredTeacherProbs(const at::Tensor& teacherLogits, const at::Tensor& center, double temperature);

// Sinkhorn–Knopp assignment (SwAV; DINOv2's train.centering = "sinkhorn_knopp") of N rows
// of teacher logits [N, K] at `temperature`: Q = exp(logits / T) is scaled alternately so each
// prototype gets 1/K of the batch's mass and each row 1/N, `iterations` times, and returned as
// [N, K] with rows summing to 1. Equipartition within the batch replaces the center: a batch
// that maps every image to the same logits gets assignments that still differ by image.
at::Tensor sinkhornKnoppTeacherProbs(const at::Tensor& teacherLogits, double temperature, int iterations = 3);

// center ← momentum · center + (1 − momentum) · mean over rows of teacherLogits [N, K];
// returns the new center [1, K] (inputs unchanged).
at::Tensor updatedCenter(const at::Tensor& center, const at::Tensor& teacherLogits, double momentum);

// DINO loss. studentLogits [(G + L)·B, K]: crops in blocks of B (first the G global crops, then
// the local ones); teacherProbs [G·B, K] for the global crops in the same order. For every
// teacher crop t and every student crop s ≠ t:  −Σ_k p_t,k · log softmax(z_s / τ_s)_k,
// averaged over the batch and then over the G·(G + L) − G pairs.
at::Tensor dinoLoss(const at::Tensor& studentLogits, const at::Tensor& teacherProbs, int64_t globalCrops,
                    double studentTemperature);

// iBOT loss over masked patches. studentLogits and teacherProbs [M, K] for the M masked patches
// (rows in the order of masks.nonzero()); masks bool [N, P]. Each patch's cross-entropy
// −Σ p log softmax(z / τ_s) is averaged within its image, and the per-image means are summed
// and divided by N, all N images (masked or not), as DINOv2's iBOTPatchLoss.forward_masked
// does, so the weight of the term relative to DINO's is DINOv2's. Returns 0 (with a graph)
// when nothing is masked.
at::Tensor ibotLoss(const at::Tensor& studentLogits, const at::Tensor& teacherProbs, const at::Tensor& masks,
                    double studentTemperature);

// KoLeo: features [N, D] are L2-normalised, d_i = min_{j≠i} ‖x_i − x_j‖, loss = −mean log(d_i + eps).
at::Tensor koleoLoss(const at::Tensor& features, double eps = 1e-8);

// Mean entropy (nats) of the rows of a probability matrix [N, K].
double meanEntropy(const at::Tensor& probs);

// iBOT masks for N samples of P patches: ⌊N · sampleProbability⌋ distinct samples, chosen at
// random, each get round(f · P) patches (at least 1) at random positions, f uniform in
// [minFraction, maxFraction]; the others none. Returns bool [N, P] (CPU).
at::Tensor sampleIbotMasks(int64_t samples, int64_t patches, double minFraction, double maxFraction,
                           double sampleProbability, std::mt19937_64& rng);

} // namespace astroclip::stages
