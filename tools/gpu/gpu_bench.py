#!/usr/bin/env python3
"""The GPU benchmark of tools/gpu-check.sh: ours (the bench programs over core/) beside PyTorch
(packaging/bench/gpu_peer.py, timm) on the same GPU, one after the other, never beside a build.
Each row is appended to REPORT as soon as it is measured, so a run cut short still reports.

  training step   ViT-B/12 at 144 px, forward + backward + AdamW, bf16 autocast, same batch:
                  ours (SupervisedStage: linear head on the CLS token, through the trainer)
                  vs timm eager and timm + torch.compile; images/s and MFU against the bf16
                  matmul rate measured first in this run
  image stage     our full DINO + iBOT stage (student, EMA teacher, 2 global + 8 local crops
                  made on the CPU and prefetched), ViT-B/12
  embedding       ViT-B/12 144 px and SpecFormer full: objects/s, inputs in host memory
  exact search    1 M unit vectors of 512 floats on the GPU, one query at a time, k = 16

Usage: gpu_bench.py BIN_DIR REPORT [--cpu-dry-run]
  --cpu-dry-run: tiny sizes on the CPU, peers skipped: checks this script and the programs.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "packaging", "bench", "gpu_peer.py")


# Our programs find the carried libraries through this (tools/gpu-check.sh); Python keeps the
# system's.
OURS_ENV = dict(os.environ, LD_LIBRARY_PATH=os.environ.get("ASTROCLIP_BIN_LD_LIBRARY_PATH",
                                                           os.environ.get("LD_LIBRARY_PATH", "")))


def run_json(cmd, timeout):
    """The last JSON line a program printed, or {"error": ...}."""
    start = time.time()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=None if "python" in os.path.basename(cmd[0]) else OURS_ENV)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    sys.stderr.write(done.stderr[-4000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    out = json.loads(lines[-1])
    out["wall_seconds"] = time.time() - start
    return out


def main():
    bin_dir, report = sys.argv[1], sys.argv[2]
    dry = "--cpu-dry-run" in sys.argv
    device = "cpu" if dry else "cuda"
    python = sys.executable

    def row(*cells):
        with open(report, "a") as f:
            f.write("| " + " | ".join(str(c) for c in cells) + " |\n")
        print(" | ".join(str(c) for c in cells), flush=True)

    def note(text):
        with open(report, "a") as f:
            f.write(text + "\n")
        print(text, flush=True)

    def peer(args, timeout=300):
        if dry:
            return {"error": "skipped in the CPU dry run"}
        return run_json([python, PEER] + args, timeout)

    # (preset, batch, steps) for the training rows; (model, preset, batch, objects) for embedding.
    vit = dict(preset="tiny", image=64, patch=8, dim=192, depth=6, heads=3, batch=8, steps=3, warmup=1) if dry else \
        dict(preset="base", image=144, patch=12, dim=768, depth=12, heads=12, batch=256, steps=20, warmup=5)
    dino = dict(preset="tiny", batch=8, steps=3, warmup=1) if dry else dict(preset="base", batch=64, steps=10, warmup=3)
    embeds = [("vit", "tiny", 16, 64), ("specformer", "tiny", 16, 64)] if dry else \
        [("vit", "base", 512, 8192), ("specformer", "full", 256, 2048)]
    search_n = 20000 if dry else 1000000

    note(f"\n## Benchmark ({'CPU dry run' if dry else 'GPU'}; started {time.strftime('%H:%M:%S')})\n")
    peak = peer(["peak"], 120)
    peak_tflops = peak.get("tflops")
    note(f"bf16 matmul peak measured in this run: "
         f"{'%.0f TFLOP/s' % peak_tflops if peak_tflops else peak.get('error')} ({peak.get('device', device)})\n")
    shape = ["--image", str(vit["image"]), "--patch", str(vit["patch"]), "--dim", str(vit["dim"]),
             "--depth", str(vit["depth"]), "--heads", str(vit["heads"])]
    flops = run_json([python, PEER, "flops"] + shape, 60).get("train_flops_per_image")

    def mfu(images_per_second):
        if not (peak_tflops and flops and images_per_second):
            return "–"
        return "%.1f %%" % (100 * images_per_second * flops / (peak_tflops * 1e12))

    row("benchmark", "implementation", "throughput", "MFU", "peak memory", "notes")
    row("---", "---", "---", "---", "---", "---")
    common = ["--steps", str(vit["steps"]), "--warmup", str(vit["warmup"])]
    ours = run_json([os.path.join(bin_dir, "astroclip-train-bench"), "--model", "vit", "--preset", vit["preset"],
                     "--batch", str(vit["batch"]), "--device", device, "--precision", "bf16",
                     "--threads", str(os.cpu_count())] + common, 600)
    label = f"train step ViT-{vit['preset']}/{vit['patch']} {vit['image']} px, batch {vit['batch']}, bf16"
    ours_rate = ours.get("samples_per_second")
    row(label, "ours (LibTorch, trainer)", "%.0f images/s" % ours_rate if ours_rate else ours.get("error"),
        mfu(ours_rate), "%.2f GiB" % (ours.get("peak_memory_bytes", 0) / 2**30), f"{ours.get('params', '?')} params")
    for compiled in (False, True):
        timm = peer(["timm-train", "--batch", str(vit["batch"])] + shape + common + (["--compile"] if compiled else []),
                    600)
        rate = timm.get("samples_per_second")
        ratio = "; ours/this %.2f×" % (ours_rate / rate) if rate and ours_rate else ""
        row(label, timm.get("impl", "timm + torch.compile" if compiled else "timm eager"),
            "%.0f images/s" % rate if rate else timm.get("error"), mfu(rate),
            "%.2f GiB" % (timm.get("peak_memory_bytes", 0) / 2**30),
            f"{timm.get('params', '?')} params; warm-up {timm.get('warmup_seconds', 0):.0f} s{ratio}")

    stage = run_json([os.path.join(bin_dir, "astroclip-train-bench"), "--model", "image-dino", "--preset",
                      dino["preset"], "--batch", str(dino["batch"]), "--device", device, "--precision", "bf16",
                      "--steps", str(dino["steps"]), "--warmup", str(dino["warmup"]),
                      "--threads", str(os.cpu_count())], 600)
    rate = stage.get("samples_per_second")
    row(f"image stage DINO + iBOT, ViT-{dino['preset']}, 2 global + 8 local crops, batch {dino['batch']}, bf16",
        "ours", "%.1f images/s" % rate if rate else stage.get("error"), "–",
        "%.2f GiB" % (stage.get("peak_memory_bytes", 0) / 2**30),
        f"{stage.get('params', '?')} params (student + teacher); crops made on the CPU, prefetched")

    for model, preset, batch, objects in embeds:
        ours = run_json([os.path.join(bin_dir, "astroclip-embed-bench"), "--model", model, "--preset", preset,
                         "--batch", str(batch), "--objects", str(objects), "--passes", "3", "--warmup", "1",
                         "--device", device, "--threads", str(os.cpu_count())], 600)
        rate = ours.get("objects_per_second")
        row(f"embedding {model} {preset}, batch {batch}, fp32", "ours (core/embed)",
            "%.0f objects/s" % rate if rate else ours.get("error"), "–", "–", "inputs in host memory")

    with tempfile.TemporaryDirectory() as tmp:
        base, queries = os.path.join(tmp, "base.f32"), os.path.join(tmp, "queries.f32")
        if dry:
            import numpy as np
            rng = np.random.default_rng(5)
            for path, n in ((base, search_n), (queries, 200)):
                x = rng.standard_normal((n, 512)).astype(np.float32)
                (x / np.linalg.norm(x, axis=1, keepdims=True)).tofile(path)
            theirs = {"error": "skipped in the CPU dry run"}
        else:
            theirs = peer(["search", "--n", str(search_n), "--base", base, "--query-file", queries], 300)
        ours = run_json([os.path.join(bin_dir, "astroclip-search-bench"), "--base", base, "--queries", queries,
                         "--n", str(search_n), "--nq", "200", "--k", "16", "--factory",
                         "torch:cpu" if dry else "torch:cuda"], 300)
        label = f"exact search {search_n:,} × 512, one query, k = 16"
        row(label, f"ours ({ours.get('factory', 'torch')})",
            "p50 %.3f ms, p99 %.3f ms" % (ours["p50_ms"], ours["p99_ms"]) if "p50_ms" in ours else ours.get("error"),
            "–", "–", "")
        row(label, "PyTorch matmul + topk",
            "p50 %.3f ms, p99 %.3f ms" % (theirs["p50_ms"], theirs["p99_ms"]) if "p50_ms" in theirs
            else theirs.get("error"), "–", "–", "")
    note(f"\nfinished {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
