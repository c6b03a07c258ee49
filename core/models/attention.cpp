#include "core/models/attention.h"

#include "core/common/error.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>

namespace astroclip::models {

namespace {

at::Tensor manualAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           double dropoutP) {
    auto weights = attentionWeights(q, k);
    if (dropoutP > 0.0) weights = torch::dropout(weights, dropoutP, /*train=*/true);
    return torch::matmul(weights, v);
}

} // namespace

bool fusedAttentionAvailable() {
#if TORCH_VERSION_MAJOR >= 2
    return true;
#else
    return false;
#endif
}

at::Tensor attentionWeights(const at::Tensor& q, const at::Tensor& k) {
    // Scaling q before the product (as DINOv2 does) keeps the logits' rounding the same as
    // the reference implementations.
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    return torch::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
}

at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k,
                                     const at::Tensor& v, double dropoutP,
                                     AttentionKernel kernel) {
    TORCH_CHECK(q.dim() >= 2 && q.dim() == k.dim() && k.dim() == v.dim(),
                "attention: q, k, v must have the same number of dimensions");
    TORCH_CHECK(q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2),
                "attention: q, k, v shapes do not fit together");
    if (kernel == AttentionKernel::Manual) return manualAttention(q, k, v, dropoutP);
#if TORCH_VERSION_MAJOR >= 2
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropoutP,
                                            /*is_causal=*/false);
#else
    if (kernel == AttentionKernel::Fused)
        throw UsageError("fused attention needs LibTorch 2.0 or newer; this build uses "
                         TORCH_VERSION);
    return manualAttention(q, k, v, dropoutP);
#endif
}

} // namespace astroclip::models
