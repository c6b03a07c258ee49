#!/usr/bin/env bash
# Set up, build, and run the test suite: every label but gpu, slow and bench.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh --with-test-peers
cd build
ctest --output-on-failure -j "$(nproc)" -LE 'gpu|slow|bench' "$@"
