#!/usr/bin/env bash
# Benchmarks of the foundation, each beside a peer in the same run, printed as a table.
#   simulator: galaxies/s per core at 64 and 152 px (no peer)
#   ingest:    files/s of `astroclip ingest` on a simulated survey vs astropy reading the same files
#   import:    a 1M-row FITS catalogue into the catalog vs Python sqlite3 executemany
#   training:  steps/s and peak RSS of ViT supervised and SpecFormer masked-modelling steps vs PyTorch
#   embedding: objects/s of batched ViT and SpecFormer inference (core/embed) vs the same backbones in PyTorch
#   search:    single-query latency (and recall@16) of core/index at 100k and 1M 512-d vectors vs python3-faiss
#   umap:      UMAP time and trustworthiness at 10k and 100k clustered 512-d points vs umap-learn
#   few-shot:  tidal-feature average precision from k labels: tiny ViT vectors vs raw-pixel PCA
# Usage: packaging/bench.sh [N_GALAXIES=300] [N_ROWS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh --with-test-peers >/dev/null
# The benchmark programs are not part of the default build.
cmake --build build --target astroclip-train-bench astroclip-embed-bench astroclip-search-bench astroclip-umap-bench >/dev/null
ngal=${1:-300}
nrows=${2:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=build/bin/astroclip
py=/usr/bin/python3
now() { date +%s.%N; }

rows=()
for size in 64 152; do
  t0=$(now)
  $bin simulate --out "$work/sim$size" --n "$ngal" --size "$size" --threads 1 --no-ingest --quiet >/dev/null
  t1=$(now)
  rows+=("simulate ${size}px, 1 thread|$(echo "$ngal / ($t1 - $t0)" | bc -l | xargs printf '%.1f') galaxies/s|—|—")
done

# Ingest the 152-px survey: ours (read + link + write the catalog) vs astropy (read only).
nfiles=$(find "$work/sim152" -name '*.fits' | wc -l)
t0=$(now)
$bin ingest --catalog "$work/ingest.sqlite" --quiet "$work/sim152" >/dev/null
t1=$(now)
ours=$(echo "$nfiles / ($t1 - $t0)" | bc -l)
read -r pn pt < <($py packaging/bench/astropy_read.py "$work/sim152")
peer=$(echo "$pn / $pt" | bc -l)
rows+=("ingest $nfiles files (read+link+store)|$(printf '%.1f' "$ours") files/s|astropy read-only $(printf '%.1f' "$peer") files/s|$(echo "$ours / $peer" | bc -l | xargs printf '%.2f')×")

# 1M-row catalogue import.
$py packaging/bench/make_table.py "$nrows" "$work/table.fits"
t0=$(now)
$bin ingest --catalog "$work/import.sqlite" --quiet "$work/table.fits" >/dev/null
t1=$(now)
ours=$(echo "$t1 - $t0" | bc -l)
read -r pn pread pins < <($py packaging/bench/sqlite_import.py "$work/table.fits" "$work/peer.sqlite")
peer=$(echo "$pread + $pins" | bc -l)
rows+=("import $nrows-row FITS table|$(printf '%.2f' "$ours") s ($(echo "$nrows / $ours" | bc -l | xargs printf '%.0f') rows/s)|astropy+sqlite3 executemany $(printf '%.2f' "$peer") s (insert alone $(printf '%.2f' "$pins") s)|$(echo "$peer / $ours" | bc -l | xargs printf '%.2f')× faster")

# Training steps: our LibTorch stages vs the same architectures in PyTorch (packaging/bench/training.sh).
while IFS= read -r r; do rows+=("$r"); done < <(bash packaging/bench/training.sh build/bin)

# Embedding: core/embed's batched inference vs the same backbones in PyTorch (packaging/bench/embedding.sh).
while IFS= read -r r; do rows+=("$r"); done < <(bash packaging/bench/embedding.sh build/bin)

# Similarity search: core/index vs python3-faiss on the same vectors (packaging/bench/search.sh).
while IFS= read -r r; do rows+=("$r"); done < <(bash packaging/bench/search.sh build/bin)

# UMAP: wall time and trustworthiness of our maps vs umap-learn 0.5.3 (packaging/bench/umap.sh).
while IFS= read -r r; do rows+=("$r"); done < <(bash packaging/bench/umap.sh build/bin)

# Few-shot discovery: tidal-feature AP from k labels, learned vectors vs raw-pixel PCA (~20 min on 1 thread).
while IFS= read -r r; do rows+=("$r"); done < <(bash packaging/bench/fewshot.sh build/bin 5000 100 "" --rows)

printf '\n| benchmark | AstroCLIP | peer | ratio |\n|---|---|---|---|\n'
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
