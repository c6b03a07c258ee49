#!/usr/bin/env bash
# Embedding-throughput benchmark: our inference path (astroclip-embed-bench over core/embed)
# beside the same backbones in Python PyTorch (torch_embed.py, Debian's python3-torch = the
# same LibTorch), one process per configuration; same objects in memory, batch and thread
# count (all cores); median pass after the warm-up, in objects/s.
#   vit:        image backbone → CLS token, g,r,z cutouts at the preset's image size
#   specformer: spectrum backbone → mean token, 7781-pixel DESI spectra
# Usage: packaging/bench/embedding.sh BIN_DIR [--table]
#   Without --table: one "benchmark|AstroCLIP|peer|ratio" row per configuration.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: embedding.sh BIN_DIR [--table]}
source packaging/bench/torch_rows.sh
# model preset batch objects passes: sized so each configuration takes well under a minute.
configs=(
  "vit tiny 64 1024 3"
  "vit small 32 128 3"
  "vit base 32 64 3"
  "specformer tiny 64 512 3"
  "specformer full 16 32 2"
)

for c in "${configs[@]}"; do
  read -r model preset batch objects passes <<<"$c"
  args=(--model "$model" --preset "$preset" --batch "$batch" --objects "$objects" --passes "$passes"
        --warmup 1 --threads "$threads")
  ours=$("$bin/astroclip-embed-bench" "${args[@]}")
  peer=$(cd packaging/bench && $py torch_embed.py "${args[@]}" --expect-params "$(field "$ours" params)")
  os=$(field "$ours" objects_per_second); ps=$(field "$peer" objects_per_second)
  rows+=("embed $model $preset ($(field "$ours" params) params, batch $batch, $threads threads)|$(printf '%.1f' "$os") objects/s, peak RSS $(mib "$(field "$ours" peak_rss_bytes)") MiB|PyTorch $(printf '%.1f' "$ps") objects/s, peak RSS $(mib "$(field "$peer" peak_rss_bytes)") MiB|$(echo "$os / $ps" | bc -l | xargs printf '%.2f')×")
done
print_torch_rows "${2:-}" embedding
