#!/usr/bin/env bash
# Few-shot discovery benchmark (issue 4, "Few-shot discovery"): how well the Label tab's head
# finds the simulator's tidal features from k labelled positives and k labelled negatives.
#   1. simulate a survey of N galaxies (64-px g,r,z cutouts; the simulator's own tidal fraction,
#      3 % of centrals on average, weighted by galaxy type: ~150 tidal galaxies in 5,000) and
#      ingest it;
#   2. train a tiny image model (DINO) for STEPS steps and embed every cutout; a 1-step model
#      (≈ random initialisation) is embedded too, as the "did training help" row;
#   3. `astroclip label evaluate --truth-column truth_tidal --positive 1` for k = 5, 10, 20 over
#      10 seeds on each set of vectors, plus a raw-pixel baseline: PCA(64) of the arcsinh-stretched
#      cutouts (pixel_pca.py), imported with `astroclip import-embeddings`;
#   4. print a Markdown table: mean ± std of AP over the seeds, beside the prevalence (the AP of a
#      random ranking).
# Usage: packaging/bench/fewshot.sh BIN_DIR [N_GALAXIES=5000] [STEPS=100] [WORK_DIR] [--rows]
#   BIN_DIR holds astroclip and (for train/embed) astroclip-torch. THREADS (default 1) sets the
#   CPU threads of every step. WORK_DIR is kept when given (else a temporary folder is removed;
#   "" for none). --rows: one "benchmark|AstroCLIP|peer|ratio" row per k instead (bench.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:?usage: fewshot.sh BIN_DIR [N_GALAXIES] [STEPS] [WORK_DIR]}")
ngal=${2:-5000}
steps=${3:-100}
threads=${THREADS:-1}
if [[ -n "${4:-}" && "${4:-}" != --rows ]]; then work=$4; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
py=/usr/bin/python3
torch=$bin/astroclip-torch
[[ -x $torch ]] || torch=$bin/astroclip  # a build whose astroclip forwards train/embed itself
now() { date +%s.%N; }
log() { echo "[fewshot $(date +%H:%M:%S)] $*" >&2; }
catalog=$work/survey/catalog.sqlite
ks=5,10,20
seeds=10

t0=$(now)
if [[ ! -f $catalog ]]; then
  log "simulating and ingesting $ngal galaxies"
  "$bin/astroclip" simulate --out "$work/survey" --n "$ngal" --size 64 --seed 42 --threads "$threads" --quiet >/dev/null
fi
t1=$(now)
train() {  # NAME STEPS
  if [[ ! -d $work/$1 ]]; then
    log "training $1 ($2 steps)"
    "$torch" train image --catalog "$catalog" --out "$work/$1" --config tiny --steps "$2" --threads "$threads" \
      --device cpu --quiet >/dev/null
  fi
  log "embedding with $1"
  "$torch" embed --catalog "$catalog" --model "$work/$1" --modality image --threads "$threads" --device cpu --quiet >/dev/null
}
train image-tiny "$steps"
t2=$(now)
train image-tiny-1step 1
if [[ ! -f $work/pixel_pca.csv ]]; then
  log "raw-pixel PCA(64) baseline"
  OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads $py packaging/bench/pixel_pca.py "$work/survey" "$work/pixel_pca.csv" 64
  "$bin/astroclip" import-embeddings --catalog "$catalog" --file "$work/pixel_pca.csv" --model pixel-pca \
    --modality image --key-column key --columns pca_ --quiet >/dev/null
fi
t3=$(now)

evaluate() {  # MODEL → JSON
  "$bin/astroclip" label evaluate --catalog "$catalog" --model "$1" --modality image --truth-column truth_tidal \
    --positive 1 --k "$ks" --seeds "$seeds" --json
}
rows=()
for m in image-tiny image-tiny-1step pixel-pca; do
  log "evaluating $m"
  s=$(now)
  evaluate "$m" >"$work/eval-$m.json"
  e=$(now)
  rows+=("$m|$(echo "$e - $s" | bc -l)")
done
t4=$(now)

$py - "$work" "$steps" "${5:-}" "${rows[@]}" <<'PY'
import json, sys
work, steps, mode, rows = sys.argv[1], sys.argv[2], sys.argv[3], [r.split("|") for r in sys.argv[4:]]
names = {"image-tiny": f"tiny ViT, DINO {steps} steps", "image-tiny-1step": "tiny ViT, 1 step (≈ random init)",
         "pixel-pca": "raw pixels, PCA(64)"}
first = json.load(open(f"{work}/eval-{rows[0][0]}.json"))
ks = [r["k"] for r in first["rows"]]
if mode == "--rows":  # AstroCLIP's learned vectors against the raw-pixel baseline, per k
    learned, pixels = (json.load(open(f"{work}/eval-{m}.json"))["rows"] for m in ("image-tiny", "pixel-pca"))
    for a, b in zip(learned, pixels):
        print(f"few-shot tidal AP, k = {a['k']} (+{a['k']} negatives), {first['candidates']} galaxies, prevalence "
              f"{a['prevalence']:.3f}|tiny ViT ({steps} steps) {a['mean_ap']:.3f} ± {a['std_ap']:.3f}|"
              f"pixel PCA(64) {b['mean_ap']:.3f} ± {b['std_ap']:.3f}|{a['mean_ap'] / b['mean_ap']:.2f}×")
    sys.exit(0)
print(f"\nFew-shot AP for truth_tidal = 1: {first['candidates']} galaxies with vectors, {first['positives']} tidal; "
      f"{first['seeds']} seeds per k; k positives + k negatives labelled, every other galaxy ranked.\n")
print("| embedding | dim | " + " | ".join(f"AP k = {k}" for k in ks) + " | evaluate (s) |")
print("|---|---|" + "---|" * len(ks) + "---|")
for model, seconds in rows:
    j = json.load(open(f"{work}/eval-{model}.json"))
    cells = [f"{r['mean_ap']:.3f} ± {r['std_ap']:.3f}" for r in j["rows"]]
    print(f"| {names.get(model, model)} | {j['dim']} | " + " | ".join(cells) + f" | {float(seconds):.2f} |")
print("| prevalence (random ranking) | — | " + " | ".join(f"{r['prevalence']:.3f}" for r in first["rows"]) + " | — |")
PY
[[ "${5:-}" == --rows ]] && exit 0
printf '\nwall: simulate+ingest %.0f s, train+embed %.0f s, baselines %.0f s, evaluate %.1f s; %s thread(s); load %s\n' \
  "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" "$(echo "$t3 - $t2" | bc -l)" "$(echo "$t4 - $t3" | bc -l)" \
  "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)"
