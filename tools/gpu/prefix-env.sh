# shellcheck shell=bash
# Source me:  source tools/gpu/prefix-env.sh [PREFIX]      (default /tmp/astroclip-prefix)
# Unpacks the Debian 12 packages of .gpu/debs (tools/gpu/fetch-debs.sh) into PREFIX, once,
# repairs what breaks when /usr moves to PREFIX/usr, and exports the environment to build
# and run AstroCLIP Studio against them (GUI off):
#   PATH, PKG_CONFIG_PATH, PKG_CONFIG_LIBDIR, LD_LIBRARY_PATH (prepended),
#   ASTROCLIP_PREFIX             the prefix
#   ASTROCLIP_PREFIX_PATH        its CMAKE_PREFIX_PATH entries (append LibTorch's if you pass
#                                your own -DCMAKE_PREFIX_PATH, which replaces ours)
#   ASTROCLIP_PREFIX_CMAKE_ARGS  cmake arguments, to expand unquoted:
#     cmake -S . -B build -G Ninja -DASTROCLIP_BUILD_GUI=OFF -DTorch_DIR=... $ASTROCLIP_PREFIX_CMAKE_ARGS
# LibTorch is the caller's business (Torch_DIR). LD_LIBRARY_PATH puts Debian 12 libraries
# (OpenSSL, SQLite, GLib...) before the system's: run unrelated programs (python3) with
# `env LD_LIBRARY_PATH= ...` if they mind.
# Sourced, so no `set -e` here: the work runs in subshells and failures return non-zero.

_astroclip_prefix_env() {
  local prefix=${1:-/tmp/astroclip-prefix}
  local repo arch=x86_64-linux-gnu
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || return 1
  local debs=$repo/.gpu/debs lib=$prefix/usr/lib/$arch

  # Debian 12's libraries need glibc 2.36 (their symbol versions say so); older fails late
  # and cryptically (at link or load time), so say it now.
  local glibc
  glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
  [[ -n $glibc ]] || glibc=$(ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$')
  if [[ -z $glibc || $(printf '%s\n' 2.36 "$glibc" | sort -V | head -n1) != 2.36 ]]; then
    echo "prefix-env: glibc ${glibc:-of unknown version} found; the Debian 12 packages need >= 2.36" >&2
    return 1
  fi
  # The cmake arguments are expanded unquoted by callers.
  [[ $prefix != *[[:space:]]* ]] || { echo "prefix-env: no spaces in PREFIX, please" >&2; return 1; }
  compgen -G "$debs/*.deb" >/dev/null || { echo "prefix-env: no .deb in $debs (run tools/gpu/fetch-debs.sh)" >&2; return 1; }

  # Unpack again only when the set of .deb files changed (the stamp lists them).
  local want
  want=$(cd "$debs" && ls -1 -- *.deb)
  if [[ ! -f $prefix/.astroclip-debs || $(<"$prefix/.astroclip-debs") != "$want" ]]; then
    # Never wipe a folder that is not ours (a PREFIX of /usr or $HOME by mistake).
    if [[ -d $prefix && ! -f $prefix/.astroclip-prefix && -n $(ls -A "$prefix") ]]; then
      echo "prefix-env: $prefix is not empty and not an AstroCLIP prefix; choose another" >&2
      return 1
    fi
    echo "prefix-env: unpacking $(wc -l <<<"$want") packages into $prefix" >&2
    ( set -euo pipefail
      rm -rf "$prefix"; mkdir -p "$prefix"; touch "$prefix/.astroclip-prefix"
      for deb in "$debs"/*.deb; do
        if command -v dpkg-deb >/dev/null; then
          dpkg-deb -x "$deb" "$prefix"
        else  # no dpkg: a .deb is an ar archive holding data.tar.{xz,zst,gz}
          tmp=$(mktemp -d); (cd "$tmp" && ar x "$deb")
          tar -xf "$tmp"/data.tar.* -C "$prefix"; rm -rf "$tmp"
        fi
      done
      _astroclip_prefix_fix "$prefix" "$arch"
      printf '%s\n' "$want" >"$prefix/.astroclip-debs"
    ) || { echo "prefix-env: unpacking into $prefix failed" >&2; return 1; }
  fi

  # Prepends $2 to the :-list named $1 unless already there (sourcing twice is harmless).
  _astroclip_prepend() { case ":${!1-}:" in *":$2:"*) ;; *) export "$1=$2${!1:+:${!1}}" ;; esac; }
  _astroclip_prepend PATH "$prefix/bin"
  _astroclip_prepend LD_LIBRARY_PATH "$prefix/lib/$arch"
  _astroclip_prepend LD_LIBRARY_PATH "$lib/openblas-openmp"
  _astroclip_prepend LD_LIBRARY_PATH "$lib"
  unset -f _astroclip_prepend
  # Only the prefix's .pc files: a host's would silently win where ours lack one.
  export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$prefix/usr/share/pkgconfig
  export PKG_CONFIG_PATH=$PKG_CONFIG_LIBDIR
  export ASTROCLIP_PREFIX=$prefix
  # usr finds the packages through CMAKE_LIBRARY_ARCHITECTURE; the cmake dirs and
  # CMAKE_{LIBRARY,INCLUDE}_PATH cover a compiler for which CMake derives no architecture.
  export ASTROCLIP_PREFIX_PATH="$prefix/usr;$lib/cmake;$prefix/usr/share/cmake"
  ASTROCLIP_PREFIX_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$ASTROCLIP_PREFIX_PATH"
  ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DCMAKE_LIBRARY_PATH=$lib"
  ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DCMAKE_INCLUDE_PATH=$prefix/usr/include/$arch;$prefix/usr/include"
  ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DPKG_CONFIG_EXECUTABLE=$prefix/bin/pkg-config"
  # GCC searches /usr/include/<multiarch> unasked, the prefix's copy not: without this,
  # <openssl/opensslconf.h> would include the system's configuration.h, or none.
  local arg
  for arg in C CXX; do
    ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DCMAKE_${arg}_STANDARD_INCLUDE_DIRECTORIES=$prefix/usr/include/$arch"
  done
  # Debian's HDF5 puts libhdf5.so and hdf5.h under hdf5/serial; HDF5_ROOT also makes
  # FindHDF5 search there only, ignoring any h5cc wrapper on PATH.
  ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DHDF5_ROOT=$lib;$prefix/usr/include"
  # ASTROCLIP_PREFIX_STRICT=1: no /usr, /usr/local, /opt as search prefixes, which shows a
  # dependency missing from the prefix instead of taking the system's. Off by default: LibTorch
  # configs look for their own dependencies there (Debian's LibTorch finds glog only there).
  [[ ${ASTROCLIP_PREFIX_STRICT:-0} == 1 ]] && ASTROCLIP_PREFIX_CMAKE_ARGS+=" -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF"
  export ASTROCLIP_PREFIX_CMAKE_ARGS
}

# Repairs of an unpacked tree (runs in the unpacking subshell, under set -e).
_astroclip_prefix_fix() {
  local prefix=$1 arch=$2 l t
  local lib=$prefix/usr/lib/$arch
  # Absolute links (into /usr or /lib) are aimed inside the prefix; one to a library left out
  # on purpose (zlib1g-dev's libz.so: the system's zlib must be used) at the system's copy.
  # Other dangling links (to left-out Qt modules, HDF5 C++/Fortran, netlib BLAS) go, so no
  # find_library() can pick one.
  while IFS= read -r -d '' l; do
    t=$(readlink "$l")
    if [[ $t == /* && -e $prefix$t ]]; then ln -sfn "$prefix$t" "$l"
    elif [[ $t == /* && ${l##*/} == lib*.so ]]; then
      t=$(compgen -G "/usr/lib/$arch/${l##*/}.[0-9]*" || compgen -G "/lib/$arch/${l##*/}.[0-9]*" || true)
      t=$(sort -V <<<"$t" | head -n1)   # the soname link, e.g. libz.so.1
      if [[ -n $t ]]; then ln -sfn "$t" "$l"; else rm -f "$l"; fi
    fi
  done < <(find "$prefix" -type l -lname '/*' -print0)
  find "$prefix" -xtype l -lname '[^/]*' -delete
  # OpenBLAS's libblas.so.3/liblapack.so.3 are update-alternatives links, made by dpkg's
  # maintainer scripts which dpkg -x does not run. libblas-dev came only for cblas.h.
  ln -sfn openblas-openmp/libblas.so.3 "$lib/libblas.so.3"
  ln -sfn openblas-openmp/liblapack.so.3 "$lib/liblapack.so.3"
  ln -sfn openblas-openmp/libopenblas.so.0 "$lib/libopenblas.so.0"
  ln -sfn libblas.so.3 "$lib/libblas.so"
  ln -sfn liblapack.so.3 "$lib/liblapack.so"
  ln -sfn cblas-netlib.h "$prefix/usr/include/$arch/cblas.h"
  # pkg-config files name /usr literally (plplot.pc even without a prefix variable).
  find "$prefix/usr" -name '*.pc' -path '*/pkgconfig/*' -type f -print0 |
    xargs -0 sed -i -E "s#(^[a-z_]+=|-[IL]\"?|[ \"])/usr(/|\$|\")#\1$prefix/usr\2#g"
  # Imported targets that link system libraries by absolute path (faiss: libblas/liblapack).
  { grep -rlZ --include='*.cmake' 'INTERFACE_LINK_LIBRARIES.*[";]/usr/' "$lib/cmake" || true; } |
    xargs -0 -r sed -i -E "/INTERFACE_LINK_LIBRARIES/ s#([\";])/usr/#\1$prefix/usr/#g"
  # Qt6CoreTools' config insists that every tool it names exists, qmake too, and Qt6::Platform
  # that its include dir mkspecs/linux-g++ does; both come with qmake6/qmake6-bin, left out
  # (nothing here runs qmake, no Qt header includes qplatformdefs.h). A stub and an empty dir.
  mkdir -p "$lib/qt6/mkspecs/linux-g++"
  printf '#!/bin/sh\necho "qmake is not part of the AstroCLIP prefix" >&2; exit 1\n' \
    >"$prefix/usr/bin/$arch-qmake6"
  chmod +x "$prefix/usr/bin/$arch-qmake6"
  # pkg-config alone on PATH (usr/bin also has qtpaths6, libpng-config).
  mkdir -p "$prefix/bin"
  ln -sfn ../usr/bin/pkgconf "$prefix/bin/pkg-config"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  echo "usage: source ${0} [PREFIX]   (it sets variables in your shell)" >&2; exit 1
fi
_astroclip_prefix_env "$@"
_astroclip_rc=$?
unset -f _astroclip_prefix_env _astroclip_prefix_fix
return $_astroclip_rc
