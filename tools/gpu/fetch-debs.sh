#!/usr/bin/env bash
# Downloads (here, on Debian 12) the .deb files that a GPU machine without network or Debian
# packages needs to build and run AstroCLIP Studio with -DASTROCLIP_BUILD_GUI=OFF: headers and
# CMake/pkg-config files of the core's dependencies plus their run-time library closure.
# LibTorch is not among them: the GPU machine brings its own (PyTorch's wheel).
# tools/gpu/prefix-env.sh unpacks them into a private prefix there.
# Usage: tools/gpu/fetch-debs.sh [--list]   (--list: print the package names and stop)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dest=$repo/.gpu/debs
max_mib=${FETCH_DEBS_MAX_MIB:-45}   # the working tree and carried folders must stay under 64 MiB together

# What CMakeLists.txt and packaging/setup.sh ask for, less LibTorch, Python, the GUI and the
# PLplot drivers (the GPU machine builds no figures).
roots=(
  libcfitsio-dev wcslib-dev libplplot-dev libsqlite3-dev nlohmann-json3-dev libyaml-cpp-dev
  libcli11-dev libssl-dev libfaiss-dev libspectra-dev libeigen3-dev libpng-dev libhdf5-dev
  qt6-base-dev qt6-base-dev-tools libqt6core6 libqt6test6
  libopenblas0-openmp   # BLAS/LAPACK behind libblas.so.3 and liblapack.so.3 (faiss, core/maps)
  libblas-dev           # only for cblas.h: prefix-env.sh points libblas.so at OpenBLAS
  pkgconf               # pkg-config itself may be missing on the GPU image
)

# Packages not followed. Each group says why; a name here stops the walk through it.
exclude=(
  # The base of every glibc >= 2.36 image, or the toolchain there; copies from Debian 12 on
  # LD_LIBRARY_PATH would shadow the (newer) ones the image's own programs need. (Kerberos'
  # libcom-err2 is not among them: 20 kB, and a minimal image may lack it.)
  libc6 libc6-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev libgcc-s1 libstdc++6
  gcc-12-base libgomp1 zlib1g libzstd1 liblzma5 libbz2-1.0 libselinux1 libpcre2-8-0 libmount1
  libblkid1 libsystemd0 libudev1 libcap2 libtinfo6 debconf dpkg perl perl-base
  perl-modules-5.36 libperl5.36 sensible-utils init-system-helpers
  libstdc++-12-dev libgcc-12-dev gcc-12 g++-12 cpp-12 gfortran-12 libgfortran-12-dev binutils
  # Qt modules other than Core/Test (the GUI is off) and the GL/Vulkan headers they want;
  # libqt6dbus6 is wanted only by qdbus tools of qt6-base-dev-tools, not by moc.
  libqt6dbus6 libqt6gui6 libqt6widgets6 libqt6network6 libqt6concurrent6 libqt6sql6 libqt6xml6
  libqt6openglwidgets6 libqt6printsupport6 libqt6opengl6 libqt6opengl6-dev qt6-qpa-plugins
  qmake6 libgl-dev libglx-dev libopengl-dev libvulkan-dev
  # PLplot's language bindings, GUI drivers and the -dev chain behind them: we link only
  # libplplot.so through plplot.pc, whose Libs.private are used for static links only.
  libplplotcxx15 libplplotfortran0 libplplotqt2 libplplotwxwidgets1 libqhull-dev
  libqsastime-dev libshp-dev libltdl-dev libfreetype6-dev libfreetype-dev
  # PLplot's fonts and maps, read by plinit(): useless without a driver, and 1 MiB.
  libplplot-data
  # HDF5: core/io links the serial C library only (find_package(HDF5 COMPONENTS C)); the
  # h5cc wrapper (hdf5-helpers) is left out on purpose so FindHDF5 searches the prefix.
  libhdf5-fortran-102 libhdf5-hl-fortran-100 libhdf5-cpp-103-1 libhdf5-hl-cpp-100
  libhdf5-hl-100 hdf5-helpers libjpeg-dev libaec-dev libcurl4-openssl-dev
  # Netlib BLAS/LAPACK: OpenBLAS provides both sonames.
  libblas3 liblapack-dev liblapack3
  # Dependencies of no library we link: WCSLIB's PGPLOT bindings (and their X11/cairo
  # chain), PLplot's dlopened PDF driver library, GLib's MIME database, SASL's Berkeley DB
  # plugin (dlopened for LDAP logins), pkg-config (a transitional name for pkgconf).
  libpgsbox7 libhpdf-2.3.0 shared-mime-info libsasl2-modules-db libdb5.3 pkg-config
)

# A private package cache: this image keeps none, and every apt-cache call would rebuild it.
tmp=$(mktemp -d /tmp/fetch-debs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
apt_opts=(-o "Dir::Cache::pkgcache=$tmp/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$tmp/srcpkgcache.bin")
acache() { apt-cache "${apt_opts[@]}" "$@"; }

declare -A skip=() seen=()
for p in "${exclude[@]}"; do skip[$p]=1; done

# Prints one line per dependency group of $1 (Depends/PreDepends only): the first alternative
# and, for a virtual one, its providers.
dep_groups() {
  acache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$1" | awk '
    function flush() { if (grp != "") print grp; grp = "" }
    /^[^ ]/ { flush(); cont = 0; next }
    /^ [ |](Pre)?Depends: / {
      name = $2; gsub(/[<>]/, "", name); sub(/:.*/, "", name)
      if (!cont) { flush(); grp = name; take = 1 } else take = 0
      cont = ($0 ~ /^ \|/); next
    }
    /^    [^ ]/ { if (take) { p = $1; sub(/:.*/, "", p); grp = grp " " p }; next }
    { flush(); cont = 0; take = 0 }
    END { flush() }'
}
declare -A cand=()   # package -> candidate version ("" for a virtual one), asked once each
candidate() {
  [[ -v cand[$1] ]] || cand[$1]=$(acache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}')
  printf '%s' "${cand[$1]}"
}

# Breadth-first walk from the roots.
queue=("${roots[@]}") pkgs=()
while ((${#queue[@]})); do
  p=${queue[0]}; queue=("${queue[@]:1}")
  [[ -n ${skip[$p]:-} || -n ${seen[$p]:-} ]] && continue
  seen[$p]=1; pkgs+=("$p")
  while read -r name providers; do
    [[ -n ${skip[$name]:-} ]] && continue
    candidate "$name" >/dev/null   # fills the cache in this shell (not in $(...))
    if [[ -z ${cand[$name]:-} ]]; then          # virtual: its first provider that we keep
      name=""
      for q in $providers; do [[ -z ${skip[$q]:-} ]] && { name=$q; break; }; done
      [[ -z $name ]] && continue
    fi
    [[ -z ${seen[$name]:-} ]] && queue+=("$name")
  done < <(dep_groups "$p")
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort)
if [[ ${1:-} == --list ]]; then printf '%s\n' "${pkgs[@]}"; exit 0; fi

mkdir -p "$dest"
cd "$dest"
shopt -s nullglob
# apt-get download names files <pkg>_<version>_<arch>.deb with ':' escaped as %3a.
missing=()
for p in "${pkgs[@]}"; do
  v=$(candidate "$p")
  compgen -G "${p}_${v//:/%3a}_*.deb" >/dev/null || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fetch-debs: downloading ${#missing[@]} packages"
  apt-get "${apt_opts[@]}" download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
fi
# Drop stale versions and packages no longer in the list, so prefix-env.sh unpacks exactly these.
declare -A want=()
for p in "${pkgs[@]}"; do
  v=$(candidate "$p")
  for f in "${p}_${v//:/%3a}"_*.deb; do [[ -f $f ]] && want[$f]=1; done
done
for f in *.deb; do [[ -n ${want[$f]:-} ]] || { echo "fetch-debs: removing stale $f"; rm -f -- "$f"; }; done
((${#want[@]} == ${#pkgs[@]})) || { echo "fetch-debs: some downloads failed" >&2; exit 1; }

total=$(du -cb -- *.deb | awk 'END{print $1}')
awk -v n="${#pkgs[@]}" -v t="$total" -v d="$dest" 'BEGIN{printf "fetch-debs: %d packages, %.1f MiB in %s\n", n, t/1048576, d}' 
if ((total > max_mib * 1048576)); then
  echo "fetch-debs: more than $max_mib MiB: trim the list before carrying it" >&2
  exit 1
fi
