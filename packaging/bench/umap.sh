#!/usr/bin/env bash
# UMAP benchmark: our UMAP (astroclip-umap-bench) beside umap-learn 0.5.3 (umap_peer.py) on the
# same seeded clustered 512-d vectors, same parameters (k = 15, min_dist 0.1, 2-D, default
# epochs), same thread count. Wall and CPU time of the fit (k-NN graph to final map; umap-learn's
# numba compile excluded; on a shared machine CPU time is the steadier comparison) and trustworthiness (k = 15) of both maps, scored by the same code on the
# same 5,000 sampled query points (exact ranks against all points).
# Usage: packaging/bench/umap.sh BIN_DIR [--table] [SIZES...]   (default sizes: 10000 100000)
#   Without --table: one "benchmark|AstroCLIP|peer|ratio" row per size (bench.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: umap.sh BIN_DIR [--table] [SIZES...]}
shift
table=0
if [[ "${1:-}" == "--table" ]]; then table=1; shift; fi
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10000 100000)
py=/usr/bin/python3
threads=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { $py -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for n in "${sizes[@]}"; do
  "$bin/astroclip-umap-bench" --n "$n" --write-data "$work/x.f32"
  peer=$($py packaging/bench/umap_peer.py "$work/x.f32" "$n" 512 --threads "$threads" --out "$work/peer.f32")
  ours=$("$bin/astroclip-umap-bench" --n "$n" --threads "$threads" --peer-map "$work/peer.f32")
  os=$(field "$ours" seconds); ps=$(field "$peer" seconds)
  oc=$(field "$ours" cpu_seconds); pc=$(field "$peer" cpu_seconds)
  rows+=("UMAP $n × 512 → 2-D ($threads threads; ours: $(field "$ours" knn), $(field "$ours" init) init)|$(printf '%.1f' "$os") s (CPU $(printf '%.1f' "$oc") s), trustworthiness $(printf '%.4f' "$(field "$ours" trust)")|umap-learn 0.5.3 $(printf '%.1f' "$ps") s (CPU $(printf '%.1f' "$pc") s), trustworthiness $(printf '%.4f' "$(field "$ours" peer_trust)")|$(echo "$ps / $os" | bc -l | xargs printf '%.2f')× faster (CPU time $(echo "$pc / $oc" | bc -l | xargs printf '%.2f')×)")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ $table == 1 ]]; then
  printf '\n| benchmark | AstroCLIP | peer | ratio |\n|---|---|---|---|\n'
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
  echo
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); trustworthiness k = 15 over 5,000 sampled query points"
  echo "load average (1/5/15 min) before: $load_before, after: $load_after"
else
  printf '%s\n' "${rows[@]}"
  echo "load during the UMAP benchmark (1/5/15 min): before $load_before, after $load_after" >&2
fi
