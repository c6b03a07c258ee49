#!/usr/bin/env bash
# The main job on the demo survey, headless: set up, build, simulate the demo survey and
# ingest it into its catalog, pre-train the three AstroCLIP stages on it with the tiny (CPU)
# presets — spectra by masked modelling, images by DINOv2-style self-distillation, then the
# CLIP alignment of the two frozen backbones —, list the runs, then use the aligned model:
# embed every galaxy, map the image vectors (UMAP, kept in the catalog), find the spectra
# nearest to one galaxy's image, write the evaluation table with its figures, the dense heads'
# scores and patch-feature PCA images to out/demo-eval/.
# Cached: a second run reuses the survey, skips a stage whose run has finished and resumes one
# that was interrupted (Ctrl-C leaves a checkpoint); embed and map reuse what is stored;
# delete out/demo-runs/ to train again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
out=${ASTROCLIP_DEMO_DIR:-out/demo-survey}
runs=${ASTROCLIP_DEMO_RUNS:-out/demo-runs}
catalog="$out/catalog.sqlite"
astroclip=build/bin/astroclip
$astroclip simulate --out "$out" --n "${ASTROCLIP_DEMO_N:-2000}" --seed 1 --size 152
$astroclip info --catalog "$catalog"

# train KIND NAME [OPTIONS...]: one stage into $runs/NAME (tiny preset): skipped when that run
# finished, resumed when it stopped part-way.
train() {
  local kind=$1 name=$2 run_file
  shift 2
  run_file="$runs/$name/run.json"
  if [[ -f "$run_file" ]] && grep -q '^  "status": *"finished"' "$run_file"; then
    echo "$runs/$name: already trained (delete the folder to train again)"
  elif [[ -f "$run_file" ]]; then
    $astroclip train "$kind" --catalog "$catalog" --out "$runs/$name" --resume
  else
    $astroclip train "$kind" --catalog "$catalog" --out "$runs/$name" --config tiny "$@"
  fi
}
train spectrum spectrum
train image image
train clip clip --spectrum-init "$runs/spectrum" --image-init "$runs/image"
$astroclip runs --catalog "$catalog"

$astroclip embed --catalog "$catalog" --model "$runs/clip"
$astroclip map --catalog "$catalog" --model "$runs/clip" --modality image --method umap
$astroclip search --catalog "$catalog" --object 1 --from image --to spectrum --k 8 --columns truth_z,truth_sample
eval_dir=${ASTROCLIP_DEMO_EVAL:-out/demo-eval}
$astroclip eval --catalog "$catalog" --model "$runs/clip" --out "$eval_dir"
$astroclip dense --catalog "$catalog" --model "$runs/image" --out "$eval_dir"
$astroclip patches --catalog "$catalog" --model "$runs/image" --where "truth_z < 0.4" --limit 24 --out "$eval_dir/patches"
