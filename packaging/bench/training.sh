#!/usr/bin/env bash
# Training-step benchmark: our LibTorch stages (astroclip-train-bench) beside the same
# architectures in Python PyTorch (torch_train_step.py, Debian's python3-torch = the same
# LibTorch), one process per configuration so each RSS high-water mark is its own; same batch,
# same thread count (all cores), median step time after the warm-up.
#   vit:        ViT backbone + linear regression head on g,r,z cutouts (preset image size)
#   specformer: masked modelling on 7781-pixel spectra (SpecFormer has presets tiny and full)
# Usage: packaging/bench/training.sh BIN_DIR [--table]
#   Without --table: one "benchmark|AstroCLIP|peer|ratio" row per configuration (bench.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: training.sh BIN_DIR [--table]}
source packaging/bench/torch_rows.sh
# model preset batch warmup steps: the heavy configurations get fewer steps to stay in minutes.
configs=(
  "vit tiny 32 3 10"
  "vit small 8 2 5"
  "specformer tiny 32 3 10"
  "specformer full 4 1 3"
)

for c in "${configs[@]}"; do
  read -r model preset batch warmup steps <<<"$c"
  args=(--model "$model" --preset "$preset" --batch "$batch" --warmup "$warmup" --steps "$steps" --threads "$threads")
  ours=$("$bin/astroclip-train-bench" "${args[@]}")
  peer=$($py packaging/bench/torch_train_step.py "${args[@]}" --expect-params "$(field "$ours" params)")
  os=$(field "$ours" steps_per_second); ps=$(field "$peer" steps_per_second)
  rows+=("train step $model $preset ($(field "$ours" params) params, batch $batch, $threads threads)|$(printf '%.3f' "$os") steps/s, peak RSS $(mib "$(field "$ours" peak_rss_bytes)") MiB|PyTorch $(printf '%.3f' "$ps") steps/s, peak RSS $(mib "$(field "$peer" peak_rss_bytes)") MiB|$(echo "$os / $ps" | bc -l | xargs printf '%.2f')×")
done
print_torch_rows "${2:-}" training
