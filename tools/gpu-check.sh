#!/usr/bin/env bash
# The GPU check, in one command on the GPU machine (the `device` tool; see tools/gpu/README.md):
#   bash tools/gpu-check.sh                 on the GPU machine: build core, CLI, gpu tests and
#                                           benchmarks against the CUDA LibTorch of its PyTorch,
#                                           with the other dependencies unpacked from .gpu/debs;
#                                           make the timm parity fixture; run the gpu tests and
#                                           the benchmark beside timm
#   bash tools/gpu-check.sh --cpu-dry-run   the same steps on a machine without a GPU: Debian's
#                                           LibTorch, the gpu tests on the CPU
#                                           (ASTROCLIP_GPU_TESTS_ON_CPU=1), tiny benchmark sizes
#                                           and no peers.
# Overrides: BUILD_DIR (reuse a configured build folder), ASTROCLIP_TORCH_PREFIX (LibTorch's CMake
# prefix instead of the one inside python3's torch), ASTROCLIP_PREFIX_DIR (where the carried
# packages are unpacked; default /tmp/astroclip-prefix).
# Results go to $OUT (default out/gpu-check) as each step ends, so a run cut short still
# reports: gpu-check.md (environment, steps with times, the benchmark table), build.log,
# tests.log, bench.log and, on the GPU, timm_dinov2_vit.safetensors (commit it under
# tests/models/fixtures/). Aimed at ≤ 6 minutes on the H200 machine (16 cores).
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
[[ "${1:-}" == --cpu-dry-run ]] && dry=1
out=${OUT:-$PWD/out/gpu-check}
mkdir -p "$out"
report=$out/gpu-check.md
: >"$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }
# step NAME LOG COMMAND...: runs COMMAND into LOG; one line with the result and time in the report.
step() {
  local name=$1 log=$2 t0=$SECONDS rc
  shift 2
  echo "== $name: $*" >>"$log"
  "$@" >>"$log" 2>&1
  rc=$?
  say "- $name: $([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc, see $(basename "$log"))") in $((SECONDS - t0)) s"
  return $rc
}

python=python3
[[ $dry == 1 ]] && python=/usr/bin/python3  # Debian's, with numpy (the pyenv python3 may lack it)
say "# AstroCLIP Studio GPU check ($([[ $dry == 1 ]] && echo 'CPU dry run' || echo GPU)), $(date -u '+%Y-%m-%d %H:%M UTC')"
say ""
say "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' + local changes')"
say "- machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, glibc $(getconf GNU_LIBC_VERSION | cut -d' ' -f2), $(g++ --version | head -1), cmake $(cmake --version | head -1 | cut -d' ' -f3)"
say "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
say "- PyTorch: $($python -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo none)"
say ""

build=${BUILD_DIR:-$PWD/build-gpu$([[ $dry == 1 ]] && echo -dry)}
config=(-G Ninja -DASTROCLIP_BUILD_GUI=OFF)
# A build folder given in BUILD_DIR keeps its build type (changing it would rebuild everything).
[[ -f $build/CMakeCache.txt ]] || config+=(-DCMAKE_BUILD_TYPE=Release)
if [[ $dry == 0 ]]; then
  # The timm fixture first: it needs only Python, and the parity test below reads it.
  step "timm parity fixture (tests/models/make_timm_fixture.py)" "$out/tests.log" \
    $python tests/models/make_timm_fixture.py "$out/timm_dinov2_vit.safetensors" &&
    cp "$out/timm_dinov2_vit.safetensors" tests/models/fixtures/
  # Asked before the prefix is sourced: Python keeps the system's libraries (the prefix's older
  # OpenSSL, libffi, GLib are for our programs only).
  torch_prefix=${ASTROCLIP_TORCH_PREFIX:-$($python -c 'import torch; print(torch.utils.cmake_prefix_path)')}
  export ASTROCLIP_SYSTEM_LD_LIBRARY_PATH=${LD_LIBRARY_PATH-}
  # shellcheck source=tools/gpu/prefix-env.sh
  if ! source tools/gpu/prefix-env.sh "${ASTROCLIP_PREFIX_DIR:-/tmp/astroclip-prefix}" >>"$out/build.log" 2>&1; then
    say "- dependency prefix: FAILED ($(tail -1 "$out/build.log"))"
    exit 1
  fi
  # LibTorch's CUDA config finds the toolkit through nvcc.
  command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
  # shellcheck disable=SC2206  # the prefix's arguments are meant to split (no spaces inside)
  config+=($ASTROCLIP_PREFIX_CMAKE_ARGS "-DCMAKE_PREFIX_PATH=$torch_prefix;$ASTROCLIP_PREFIX_PATH"
           -DTORCH_CUDA_ARCH_LIST=9.0)
fi
targets=(astroclip astroclip-torch tst_gpu_training tst_gpu_inference tst_model_parity
         astroclip-train-bench astroclip-embed-bench astroclip-search-bench)
step "configure ($build)" "$out/build.log" cmake -S . -B "$build" "${config[@]}" || exit 1
step "build (${targets[*]})" "$out/build.log" cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" || exit 1
grep -h "warning: .*\.gch" "$out/build.log" | sort -u | head -3 | sed 's/^/  PCH: /' | tee -a "$report"

export ASTROCLIP_GPU_TESTS_ON_CPU=$dry
# -V: the tests' measured differences (QINFO lines) go into the log, passed or not.
step "gpu tests (ctest -L gpu)" "$out/tests.log" ctest --test-dir "$build" -L gpu -V
grep -hE "FAIL!|SKIP|max \||relative|ran out of memory|Totals:" "$out/tests.log" | sed 's/^[0-9]*: //' |
  head -40 | sed 's/^/  /' | tee -a "$report"
if [[ $dry == 0 ]]; then
  step "timm parity (tst_model_parity timmVisionTransformer)" "$out/tests.log" \
    "$build/tests/tst_model_parity" timmVisionTransformer
fi

step "benchmark" "$out/bench.log" env ASTROCLIP_BIN_LD_LIBRARY_PATH="${LD_LIBRARY_PATH-}" \
  LD_LIBRARY_PATH="${ASTROCLIP_SYSTEM_LD_LIBRARY_PATH-${LD_LIBRARY_PATH-}}" \
  $python tools/gpu/gpu_bench.py "$build/bin" "$report" $([[ $dry == 1 ]] && echo --cpu-dry-run)
say ""
say "total $SECONDS s"
