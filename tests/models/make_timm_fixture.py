#!/usr/bin/env python3
"""Makes tests/models/fixtures/timm_dinov2_vit.safetensors: a DINOv2-architecture ViT built by
timm (not by us), with seeded random weights, and its outputs on a seeded input, for
tst_model_parity's timm check (the CPU suite loads the weights by name into our ViT and must
reproduce the CLS and patch tokens within 1e-4).

Shape (well under 1 MB): 48-px g,r,z input, patch 12 (4 × 4 grid), 64-d, 2 blocks, 2 heads,
MLP ratio 4, LayerScale, final LayerNorm (eps 1e-6, as DINOv2), class token, no register tokens,
no classifier head. Outputs are computed in fp32 on the CPU so TF32 cannot enter.

Needs timm and torch (the GPU machine's Python has them; Debian 12 packages no timm). Writes
the file with reference_models.write_safetensors, so the safetensors package is not needed.
Usage: make_timm_fixture.py [OUT]   (default: fixtures/timm_dinov2_vit.safetensors beside this file)
"""
import os
import sys

import torch
import timm
from timm.models.vision_transformer import VisionTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_models import randomise, write_safetensors  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fixtures", "timm_dinov2_vit.safetensors")
    torch.manual_seed(0)
    model = VisionTransformer(img_size=48, patch_size=12, in_chans=3, num_classes=0, embed_dim=64, depth=2,
                              num_heads=2, mlp_ratio=4.0, qkv_bias=True, init_values=1e-5, class_token=True,
                              no_embed_class=False, global_pool="token")  # timm's norm: LayerNorm, eps 1e-6
    model = model.cpu().float().eval()
    gen = torch.Generator().manual_seed(20261128)
    randomise(model, gen)  # far from init: LayerScale ~1, so every block matters
    images = torch.randn(3, 3, 48, 48, generator=gen)
    with torch.no_grad():
        tokens = model.forward_features(images)  # [3, 1 + 16, 64], after the final norm
    assert tokens.shape == (3, 17, 64), tokens.shape
    tensors = {"vit." + name: p.detach().clone() for name, p in model.state_dict().items()}
    tensors["in.images"] = images
    tensors["out.cls"] = tokens[:, 0]
    tensors["out.patches"] = tokens[:, 1:]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    write_safetensors(out, tensors, {"timm": timm.__version__, "torch": torch.__version__,
                                     "made_by": "tests/models/make_timm_fixture.py"})
    names = sorted(n for n in tensors if n.startswith("vit."))
    print(f"{out}: {os.path.getsize(out)} bytes, {len(names)} weights (timm {timm.__version__})")


if __name__ == "__main__":
    main()
