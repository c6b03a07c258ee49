#pragma once
// Scaled dot-product attention for every model here. LibTorch 2.x has a fused kernel
// (flash / memory-efficient on CUDA); LibTorch 1.13 has not. This is the one place that
// knows the difference, so the models give the same numbers on both.
#include <ATen/core/Tensor.h>

namespace astroclip::models {

enum class AttentionKernel {
    Auto,    // the fused kernel where this LibTorch has one, else the manual one
    Fused,   // at::scaled_dot_product_attention; UsageError on a LibTorch without it
    Manual,  // softmax(q kᵀ / √d) v written out
};

// True when this build's LibTorch offers the fused kernel (LibTorch ≥ 2.0).
bool fusedAttentionAvailable();

// q [..., Nq, d], k and v [..., Nk, d] → [..., Nq, d] = softmax(q kᵀ / √d) v. dropoutP > 0
// drops attention weights (only pass it in training). No mask: every model here attends
// over all tokens.
at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k,
                                     const at::Tensor& v, double dropoutP = 0.0,
                                     AttentionKernel kernel = AttentionKernel::Auto);

// The weights softmax(q kᵀ / √d) [..., Nq, Nk] themselves, for attention maps.
at::Tensor attentionWeights(const at::Tensor& q, const at::Tensor& k);

} // namespace astroclip::models
