#!/usr/bin/env python3
"""Python PyTorch side of the GPU benchmark (tools/gpu-check.sh), run on the same GPU in the same
session as ours. Each subcommand prints one JSON line.

  peak        bf16 matrix-product rate (8192^3, mean of 10 after 3 warm-ups): the denominator of
              model FLOP utilisation (MFU), measured rather than taken from a datasheet
  flops       training FLOPs per image of a ViT (3 x the forward pass's multiply-adds x 2)
  timm-train  one training step of timm's ViT (DINOv2's block: LayerScale, no register tokens)
              with a linear head on the CLS token: forward + backward + AdamW under bf16
              autocast, the same batch each step; eager, or with --compile torch.compile
  search      writes N random unit vectors and Q queries (float32, raw) for
              astroclip-search-bench, and times PyTorch's exact search of one query at a time
              on the GPU (matrix product + top-k, vectors resident): p50/p99 latency
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def cuda_seconds(fn, repeats):
    """Per-call seconds of fn() over `repeats` calls, timed with CUDA events."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000.0 / repeats


def peak(_args):
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    seconds = cuda_seconds(lambda: a @ b, 10)
    return {"what": "bf16 matmul", "n": n, "tflops": 2 * n**3 / seconds / 1e12,
            "device": torch.cuda.get_device_name()}


def vit_train_flops(image, patch, dim, depth, mlp_ratio=4):
    """Multiply-adds x 2 of the forward pass, x 3 for forward + backward."""
    patches = (image // patch) ** 2
    tokens = patches + 1
    embed = 2 * patches * (3 * patch * patch) * dim
    block = 2 * tokens * dim * (3 * dim + dim + 2 * mlp_ratio * dim) + 2 * 2 * tokens * tokens * dim
    return 3 * (embed + depth * block)


def flops(args):
    return {"train_flops_per_image": vit_train_flops(args.image, args.patch, args.dim, args.depth)}


def timm_train(args):
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(1)
    model = VisionTransformer(img_size=args.image, patch_size=args.patch, embed_dim=args.dim, depth=args.depth,
                              num_heads=args.heads, mlp_ratio=4.0, qkv_bias=True, init_values=1e-5,
                              class_token=True, reg_tokens=0, global_pool="token", num_classes=1).cuda()
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    forward = torch.compile(model) if args.compile else model
    x = torch.rand(args.batch, 3, args.image, args.image, device="cuda") * 0.1
    y = torch.rand(args.batch, 1, device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.mse_loss(forward(x).float(), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    warmup_seconds = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        times.append(cuda_seconds(step, 1))
    median = statistics.median(times)
    return {"impl": "timm" + (" + torch.compile" if args.compile else " eager"), "params": params,
            "batch": args.batch, "steps": len(times), "step_seconds_median": median,
            "samples_per_second": args.batch / median, "warmup_seconds": warmup_seconds,
            "peak_memory_bytes": torch.cuda.max_memory_allocated(), "torch": torch.__version__}


def search(args):
    g = torch.Generator(device="cuda").manual_seed(5)
    base = F.normalize(torch.randn(args.n, args.dim, device="cuda", generator=g), dim=1)
    queries = F.normalize(torch.randn(args.queries, args.dim, device="cuda", generator=g), dim=1)
    base.cpu().numpy().tofile(args.base)
    queries.cpu().numpy().tofile(args.query_file)
    latencies = []
    for i in range(args.warmup + args.queries):
        q = queries[i % args.queries: i % args.queries + 1].cpu()  # a query arrives from the host
        t0 = time.perf_counter()
        scores, ids = (q.cuda() @ base.T).topk(args.k, dim=1)
        ids.cpu(), scores.cpu()
        if i >= args.warmup:
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * (len(latencies) - 1) + 0.5))]
    return {"impl": "pytorch", "n": args.n, "dim": args.dim, "k": args.k, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("peak")
    for name in ("flops", "timm-train"):
        p = sub.add_parser(name)
        p.add_argument("--image", type=int, default=144)
        p.add_argument("--patch", type=int, default=12)
        p.add_argument("--dim", type=int, default=768)
        p.add_argument("--depth", type=int, default=12)
        p.add_argument("--heads", type=int, default=12)
        if name == "timm-train":
            p.add_argument("--batch", type=int, required=True)
            p.add_argument("--steps", type=int, default=20)
            p.add_argument("--warmup", type=int, default=5)
            p.add_argument("--compile", action="store_true")
    p = sub.add_parser("search")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--base", required=True)
    p.add_argument("--query-file", required=True)
    args = ap.parse_args()
    if args.command != "flops" and not torch.cuda.is_available():
        sys.exit("gpu_peer.py: PyTorch sees no CUDA device")
    run = {"peak": peak, "flops": flops, "timm-train": timm_train, "search": search}[args.command]
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
