#!/usr/bin/python3
"""Python PyTorch peer of tests/bench/train_bench.cpp: the same architectures (ViT with
DINOv2's structure + a linear regression head; AstroCLIP's SpecFormer in masked modelling),
the same batch, the same thread count, one optimizer step (forward + backward + AdamW) timed
per step, median over the steps after the warm-up. Prints one JSON line.

Written from core/models/{vit,specformer}.cpp and core/stages/spectrum_stage.cpp; the parameter
count must equal the C++ model's (--expect-params), so a drifted architecture fails loudly.

Usage: torch_train_step.py --model vit|specformer --preset NAME --batch B --steps N
                           --warmup W --threads T [--objects K] [--expect-params P]
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

VIT_PRESETS = {  # image size, patch, dim, depth, heads (core/models/vit.cpp)
    "tiny": (64, 8, 192, 6, 3),
    "small": (144, 12, 384, 12, 6),
    "base": (144, 12, 768, 12, 12),
}
SPEC_PRESETS = {  # patch length, stride, dim, depth, heads, max tokens (core/models/specformer.cpp)
    "tiny": (80, 40, 128, 4, 4, 194),
    "full": (20, 10, 768, 6, 6, 800),
}
DESI_PIXELS = 7781
BAND_SCALE = (6.0, 3.4, 2.2)  # core/stages/image_augment.h
SOFTENING = 20.0


def attention(qkv_out, batch, tokens, heads, dim):
    parts = qkv_out.reshape(batch, tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    q, k, v = parts[0], parts[1], parts[2]
    weights = torch.matmul(q * (1.0 / math.sqrt(q.size(-1))), k.transpose(-2, -1)).softmax(-1)
    return torch.matmul(weights, v).transpose(1, 2).reshape(batch, tokens, dim)


class ViTBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ls1 = nn.Parameter(torch.full((dim,), 1e-5))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.ls2 = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x):
        b, n, d = x.shape
        x = x + self.ls1 * self.proj(attention(self.qkv(self.norm1(x)), b, n, self.heads, d))
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, image, patch, dim, depth, heads):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + (image // patch) ** 2, dim) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, images):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], 1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


class SpecBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.layernorm1 = nn.LayerNorm(dim)
        self.attention = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)
        self.layernorm2 = nn.LayerNorm(dim)
        self.encoder = nn.Linear(dim, 4 * dim)
        self.decoder = nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        x = x + self.projection(attention(self.attention(self.layernorm1(x)), b, n, self.heads, d))
        return x + self.decoder(F.gelu(self.encoder(self.layernorm2(x))))


class SpecFormer(nn.Module):
    def __init__(self, patch, stride, dim, depth, heads, max_tokens):
        super().__init__()
        self.patch, self.stride = patch, stride
        self.data_embed = nn.Linear(patch + 2, dim)
        self.position_embed = nn.Embedding(max_tokens, dim)
        self.blocks = nn.ModuleList(SpecBlock(dim, heads) for _ in range(depth))
        self.final_layernorm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch + 2)

    def encode(self, tokens):
        x = self.data_embed(tokens) + self.position_embed(torch.arange(tokens.size(1), device=tokens.device))
        for block in self.blocks:
            x = block(x)
        x = self.final_layernorm(x)
        return x, self.head(x)


def fold(patches, stride, length):
    b, count, width = patches.shape
    index = (torch.arange(count) * stride).unsqueeze(1) + torch.arange(width).unsqueeze(0)
    flat = index.flatten()
    sums = torch.zeros(b, length).index_add(1, flat, patches.reshape(b, count * width))
    counts = torch.zeros(length).index_add(0, flat, torch.ones(count * width))
    return torch.where(counts > 0, sums / counts.clamp_min(1.0), torch.full((), float("nan")))


def masked_modelling_loss(model, flux, ivar, chunks, chunk_width):
    """core/stages/spectrum_stage.cpp maskedModelling + chunkMask, unweighted."""
    b, length = flux.shape
    patches = (length - model.patch) // model.stride + 1
    covered = (patches - 1) * model.stride + model.patch
    starts = torch.randint(0, covered - chunk_width + 1, (b, chunks, 1))
    position = torch.arange(length).view(1, 1, length)
    mask = ((position >= starts) & (position < starts + chunk_width)).any(1)
    mean = flux.mean(1, keepdim=True)
    std = flux.std(1, unbiased=True, keepdim=True).clamp_min(0.2)
    standardised = ((flux - mean) / std)[:, :covered]
    covered_mask = mask[:, :covered]
    hidden = standardised.masked_fill(covered_mask, 0.0)
    patch_values = hidden.unfold(1, model.patch, model.stride)
    stats = torch.cat([(mean - 2.0) / 2.0, (std - 2.0) / 8.0, torch.zeros(b, model.patch)], 1).unsqueeze(1)
    tokens = torch.cat([stats, torch.cat([torch.zeros(b, patches, 2), patch_values], 2)], 1)
    embedding, reconstruction = model.encode(tokens)
    recon = fold(reconstruction[:, 1:, 2:], model.stride, covered)
    selected = covered_mask & (ivar[:, :covered] > 0)
    error = torch.where(selected, recon - standardised, torch.zeros_like(recon))
    w = selected.float()
    return (error.pow(2) * w).sum() / w.sum().clamp_min(1e-12), embedding


def decays(name, p):
    """core/train/optimizer.h decaysWeight(), for this script's parameter names."""
    return not (p.dim() <= 1 or name.endswith("bias") or "norm" in name or "token" in name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["vit", "specformer"], required=True)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--objects", type=int, default=0)
    ap.add_argument("--expect-params", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    objects = args.objects or 4 * args.batch

    if args.model == "vit":
        image, patch, dim, depth, heads = VIT_PRESETS[args.preset]
        backbone = ViT(image, patch, dim, depth, heads)
        head = nn.Linear(dim, 1)
        modules = nn.ModuleDict({"backbone": backbone, "head": head})
        images = torch.rand(objects, 3, image, image) * 0.1
        target = torch.randn(objects)
        scale = torch.tensor(BAND_SCALE).view(1, 3, 1, 1)
    else:
        patch, stride, dim, depth, heads, max_tokens = SPEC_PRESETS[args.preset]
        modules = SpecFormer(patch, stride, dim, depth, heads, max_tokens)
        flux = 1.0 + torch.rand(objects, DESI_PIXELS)
        ivar = torch.ones(objects, DESI_PIXELS)
        chunk_width = max(1, round(50.0 * patch / 20.0))
    params = sum(p.numel() for p in modules.parameters())
    if args.expect_params and params != args.expect_params:
        sys.exit(f"architecture drift: Python {args.model} '{args.preset}' has {params} parameters, "
                 f"the C++ model {args.expect_params}")

    named = list(modules.named_parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in named if decays(n, p)], "weight_decay": 0.05},
         {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    modules.train()
    order = torch.randperm(objects)
    times = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        rows = order[(step * args.batch) % (objects - args.batch + 1):][: args.batch]
        optimizer.zero_grad(set_to_none=True)
        if args.model == "vit":
            x = torch.asinh(SOFTENING * scale * images[rows]) / math.sqrt(SOFTENING)
            y = target[rows]
            loss = F.mse_loss(head(backbone(x)).squeeze(1), y)
        else:
            loss, _ = masked_modelling_loss(modules, flux[rows], ivar[rows], 6, chunk_width)
        loss.backward()
        optimizer.step()
        loss.item()
        times.append(time.perf_counter() - t0)
    measured = times[args.warmup:]
    median = statistics.median(measured)
    print(json.dumps({
        "impl": "pytorch", "model": args.model, "preset": args.preset, "batch": args.batch,
        "threads": torch.get_num_threads(), "params": params, "steps": len(measured),
        "step_seconds_median": median, "steps_per_second": 1.0 / median,
        "samples_per_second": args.batch / median,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
