#!/usr/bin/env bash
# Installs what AstroCLIP Studio needs on Debian 12 (if missing) and builds it into build/.
# Usage: packaging/setup.sh [--with-test-peers]
#   --with-test-peers  also install the independent peers the test suite checks against
#                      and benchmarks use (astropy, numpy, torch, scikit-learn, h5py, sep under /usr/bin/python3;
#                      fitsverify; bc).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config
  libcfitsio-dev wcslib-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  libssl-dev              # SHA-256 of checkpoints
  libfaiss-dev            # similarity search and k-NN graphs (core/index, core/maps)
  libspectra-dev          # sparse symmetric eigen-solver (on Eigen) for UMAP's spectral init (core/maps)
  libplplot-dev plplot-driver-cairo  # PNG figures of astroclip eval
  libpng-dev              # PNG images of patch-feature PCA (core/io/png_image)
  libhdf5-dev             # HDF5 tables of vectors for import-embeddings (core/io/vector_table)
  qt6-base-dev            # Qt Test now; Widgets for the desktop app
  libtorch-dev            # LibTorch 1.13 (CPU) for the encoders and the trainer
  libopenblas0-openmp     # fast BLAS for LibTorch (reference BLAS is ~17x slower)
)
if [[ " $* " == *" --with-test-peers "* ]]; then
  packages+=(fitsverify python3-astropy python3-numpy python3-torch python3-sklearn python3-h5py python3-sep umap-learn bc)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
