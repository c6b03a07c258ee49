#!/usr/bin/env bash
# Similarity-search benchmark: our VectorIndex (astroclip-search-bench, FAISS and LibTorch
# behind core/index) beside python3-faiss (faiss_search.py) on the same seeded clustered 512-d
# vectors, generated once by numpy and read by both as raw float32. Single-query latency p50/p99
# (k = 16, one query per call, all cores on both sides) at 100k vectors (Flat, HNSW32) and 1M
# (Flat, IVF1024,PQ64 with recall@16 against the exact results). The 1M IVF uses 1024 lists,
# not recommendedFactory's 4√n = 4000, so that training stays in minutes on 2 cores.
# Usage: packaging/bench/search.sh BIN_DIR [--table]
#   Without --table: one "benchmark|AstroCLIP|peer|ratio" row per configuration (bench.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: search.sh BIN_DIR [--table]}
py=/usr/bin/python3
threads=$(nproc)
dim=512
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# n queries factories...
configs=(
  "100000 200 Flat HNSW32"
  "1000000 100 Flat IVF1024,PQ64"
)
field() { $py -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }
fmt() { printf '%.3f' "$1"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for c in "${configs[@]}"; do
  read -r n nq factories <<<"$c"
  $py packaging/bench/faiss_search.py make --n "$n" --queries "$nq" --dim "$dim" --seed 1 --out "$work"
  args=(--base "$work/base.f32" --queries "$work/queries.f32" --n "$n" --nq "$nq" --dim "$dim" --k 16
        --train 100000 --threads "$threads")
  for f in $factories; do args+=(--factory "$f"); done
  mapfile -t ours < <("$bin/astroclip-search-bench" "${args[@]}")
  mapfile -t peer < <($py packaging/bench/faiss_search.py search "${args[@]}")
  for i in "${!ours[@]}"; do
    o=${ours[$i]}; p=${peer[$i]}
    f=$(field "$o" factory)
    op50=$(field "$o" p50_ms); op99=$(field "$o" p99_ms); pp50=$(field "$p" p50_ms); pp99=$(field "$p" p99_ms)
    orec=$(field "$o" recall); prec=$(field "$p" recall)
    ocell="p50 $(fmt "$op50") ms, p99 $(fmt "$op99") ms"; pcell="faiss p50 $(fmt "$pp50") ms, p99 $(fmt "$pp99") ms"
    [[ -n "$orec" ]] && ocell+=", recall@16 $(fmt "$orec")"
    [[ -n "$prec" ]] && pcell+=", recall@16 $(fmt "$prec")"
    ocell+=" (build $(printf '%.1f' "$(field "$o" build_s)") s)"; pcell+=" (build $(printf '%.1f' "$(field "$p" build_s)") s)"
    rows+=("search $f, $n × $dim, single query k=16, $threads threads|$ocell|$pcell|$(echo "$pp50 / $op50" | bc -l | xargs printf '%.2f')× (p50, faiss/ours)")
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ "${2:-}" == "--table" ]]; then
  printf '\n| benchmark | AstroCLIP (core/index) | peer (python3-faiss) | ratio |\n|---|---|---|---|\n'
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
  echo
  echo "machine: $threads cores, $(lscpu | sed -n 's/^Model name: *//p'); faiss $($py -c 'import faiss; print(faiss.__version__)')"
  echo "load average (1/5/15 min) before: $load_before, after: $load_after"
else
  printf '%s\n' "${rows[@]}"
  echo "load during the search benchmark (1/5/15 min): before $load_before, after $load_after" >&2
fi
