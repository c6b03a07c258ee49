#!/usr/bin/python3
"""Python PyTorch peer of tests/bench/embed_bench.cpp: the same backbones (torch_train_step.py's
ViT and SpecFormer, written from core/models), the same objects in memory, batch and thread
count; one pass encodes every object in batches under torch.inference_mode(), eval mode, the
way a Python user would embed a survey. Reports the median pass after the warm-up as
objects/s. Prints one JSON line.
  vit:        asinh normalisation (core/stages/image_augment.h), final-norm CLS token
  specformer: AstroCLIP's per-spectrum standardisation and stats token, mean final-norm token

Usage: torch_embed.py --model vit|specformer --preset NAME --batch B --objects N --passes P
                      --warmup W --threads T [--expect-params P] [--device cuda]
With --device cuda the objects stay in host memory and each batch is sent to the GPU and its
vectors brought back, as astroclip-embed-bench does.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch

from torch_train_step import BAND_SCALE, DESI_PIXELS, SOFTENING, SPEC_PRESETS, VIT_PRESETS, SpecFormer, ViT


def spectrum_tokens(model, flux):
    """core/models/specformer.cpp tokenize(): standardised overlapping patches after a stats token."""
    b, length = flux.shape
    patches = (length - model.patch) // model.stride + 1
    mean = flux.mean(1, keepdim=True)
    std = flux.std(1, unbiased=True, keepdim=True).clamp_min(0.2)
    slices = ((flux - mean) / std).unfold(1, model.patch, model.stride)
    zeros = lambda *shape: torch.zeros(*shape, device=flux.device)
    stats = torch.cat([(mean - 2.0) / 2.0, (std - 2.0) / 8.0, zeros(b, model.patch)], 1).unsqueeze(1)
    return torch.cat([stats, torch.cat([zeros(b, patches, 2), slices], 2)], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["vit", "specformer"], required=True)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--objects", type=int, required=True)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--expect-params", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    if args.model == "vit":
        image, patch, dim, depth, heads = VIT_PRESETS[args.preset]
        model = ViT(image, patch, dim, depth, heads)
        data = torch.rand(args.objects, 3, image, image) * 0.1
        scale = torch.tensor(BAND_SCALE, device=device).view(1, 3, 1, 1)

        def encode(batch):
            return model(torch.asinh(SOFTENING * scale * batch) / math.sqrt(SOFTENING))
    else:
        model = SpecFormer(*SPEC_PRESETS[args.preset])
        data = 1.0 + torch.rand(args.objects, DESI_PIXELS)

        def encode(batch):
            return model.encode(spectrum_tokens(model, batch))[0].mean(1)
    params = sum(p.numel() for p in model.parameters())
    if args.expect_params and params != args.expect_params:
        sys.exit(f"architecture drift: Python {args.model} '{args.preset}' has {params} parameters, "
                 f"the C++ model {args.expect_params}")

    model.to(device).eval()
    times, width = [], 0
    for i in range(args.warmup + args.passes):
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = torch.cat([encode(data[s:s + args.batch].to(device)).float().cpu()
                             for s in range(0, args.objects, args.batch)])
        width = out.size(1)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch", "model": args.model, "preset": args.preset, "batch": args.batch,
        "objects": args.objects, "threads": torch.get_num_threads(), "params": params, "width": width,
        "passes": len(times), "pass_seconds_median": median, "objects_per_second": args.objects / median,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__, "device": str(device),
    }))


if __name__ == "__main__":
    main()
