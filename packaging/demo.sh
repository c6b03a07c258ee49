#!/usr/bin/env bash
# The main job on the demo survey, headless: set up, build, simulate the demo survey and
# ingest it into its catalog, then summarise. Cached: a second run reuses the survey.
# (Training, embedding and evaluation join this pipeline as they land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh
out=${ASTROCLIP_DEMO_DIR:-out/demo-survey}
build/bin/astroclip simulate --out "$out" --n "${ASTROCLIP_DEMO_N:-2000}" --seed 1 --size 152
build/bin/astroclip info --catalog "$out/catalog.sqlite"
