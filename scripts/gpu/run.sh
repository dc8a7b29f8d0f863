#!/usr/bin/env bash
# Runs temper from the folder scripts/gpu/prepare.sh made (the folder this script is copied into, .gpu/ by default)
# on an x86-64 Linux machine with an NVIDIA driver but without Node.js, npm or internet:
#   .gpu/run.sh ARGS...          temper ARGS...                    e.g. .gpu/run.sh doctor
#   .gpu/run.sh --node ARGS...   the carried Node.js with ARGS     e.g. .gpu/run.sh --node scripts/gpu/summary.mjs
#   .gpu/run.sh --setup          only the unpacking and library set-up below, then a line saying what it chose
# The first use on a machine unpacks node.xz and dawn.node.xz (seconds); later uses check their checksums and go on.
#
# Environment (all optional):
#   TEMPER_GPU_LIBS   where the Vulkan and GL loaders (debs/) come from:
#       auto (default)  the machine's own where `ldconfig -p` lists them; the packages of those it lacks are unpacked
#                       under $TEMPER_GPU_STATE and put on LD_LIBRARY_PATH for temper alone (no root, nothing
#                       outside that folder changes)
#       private         every package in debs/ that way, even where the machine has its own
#       system          the machine's own only
#       root            the packages the machine lacks unpacked into / and `ldconfig` run: what PERF.md's H100
#                       check did (needs root; every program there then sees them)
#   TEMPER_GPU_STATE  where Node.js and the private libraries are unpacked (default /tmp/temper-gpu)
#   VK_DRIVER_FILES   kept when set; else the first nvidia_icd*.json in the NVIDIA driver's usual folders, so the
#                     Vulkan loader offers Dawn that driver alone (unset where none is found)
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${TEMPER_GPU_STATE:-/tmp/temper-gpu}
die() { echo "run.sh: $*" >&2; exit 2; }
{ [ -f "$dir/node.xz" ] && [ -d "$dir/app" ]; } || die "$dir is not a folder made by scripts/gpu/prepare.sh (no node.xz or app/)"
mkdir -p "$state"

# Decompresses SOURCE.xz into TARGET unless TARGET already has the checksum in SOURCE.xz.sha256. xz where the machine
# has it, else Python's lzma; written beside TARGET and renamed, so an interrupted unpack leaves nothing half-made.
unpack() { # SOURCE.xz TARGET
  local want; want=$(cat "$1.sha256")
  if [ -f "$2" ] && [ "$(sha256sum "$2" | cut -d' ' -f1)" = "$want" ]; then return; fi
  if command -v xz >/dev/null; then
    xz -dc "$1" > "$2.$$.partial"
  elif command -v python3 >/dev/null; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.$$.partial"
  else
    die "cannot unpack $1: neither xz nor python3 is installed"
  fi
  [ "$(sha256sum "$2.$$.partial" | cut -d' ' -f1)" = "$want" ] || { rm -f "$2.$$.partial"; die "$1 unpacked to the wrong checksum (a damaged copy?)"; }
  chmod +x "$2.$$.partial"
  mv "$2.$$.partial" "$2"
}
node="$state/node-$(cut -c1-12 "$dir/node.xz.sha256")"
unpack "$dir/node.xz" "$node"
unpack "$dir/dawn.node.xz" "$dir/app/node_modules/webgpu/dist/linux-x64/dawn.node"

# The library each Debian package in debs/ is there for: a package is needed where `ldconfig -p` lacks its library.
declare -A SONAME=(
  [libvulkan1]=libvulkan.so.1 [libglvnd0]=libGLdispatch.so.0 [libegl1]=libEGL.so.1 [libgl1]=libGL.so.1
  [libglx0]=libGLX.so.0 [libopengl0]=libOpenGL.so.0 [libgles2]=libGLESv2.so.2 [libx11-6]=libX11.so.6
  [libxext6]=libXext.so.6 [libxcb1]=libxcb.so.1 [libxau6]=libXau.so.6 [libxdmcp6]=libXdmcp.so.6
  [libbsd0]=libbsd.so.0 [libmd0]=libmd.so.0
)
known=$(ldconfig -p 2>/dev/null || true)
libs=${TEMPER_GPU_LIBS:-auto}
needed=()
for deb in "$dir"/debs/*.deb; do
  [ -e "$deb" ] || continue
  package=$(basename "$deb"); package=${package%%_*}
  case "$libs" in
    private) needed+=("$deb") ;;
    auto | root) grep -q "[[:space:]]${SONAME[$package]:-$package.so} (libc6,x86-64" <<<"$known" || needed+=("$deb") ;;
    system) ;;
    *) die "TEMPER_GPU_LIBS=$libs: expected auto, private, system or root" ;;
  esac
done
names=$(for deb in "${needed[@]}"; do basename "$deb" | cut -d_ -f1; done | paste -sd' ')
if [ "${#needed[@]}" -gt 0 ]; then
  command -v dpkg >/dev/null || die "dpkg is needed to unpack ${names}(TEMPER_GPU_LIBS=system uses the machine's libraries only)"
  if [ "$libs" = root ]; then
    [ "$(id -u)" = 0 ] || die "TEMPER_GPU_LIBS=root needs root"
    for deb in "${needed[@]}"; do dpkg -x "$deb" /; done
    ldconfig
  else
    # One folder per set of packages, so a later call with another set never mixes them.
    prefix="$state/libs-$(for deb in "${needed[@]}"; do basename "$deb"; done | sha256sum | cut -c1-12)"
    if [ ! -f "$prefix/.done" ]; then
      rm -rf "$prefix"; mkdir -p "$prefix"
      for deb in "${needed[@]}"; do dpkg -x "$deb" "$prefix"; done
      touch "$prefix/.done"
    fi
    extra="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu"
    # The NVIDIA driver's own libraries, should the loader's dlopen not find them through ldconfig.
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && extra="$extra:$d"; done
    export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi

if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json \
    /etc/vulkan/icd.d/nvidia_icd*.json /usr/local/share/vulkan/icd.d/nvidia_icd*.json; do
    # VK_ICD_FILENAMES too: the older name, for Vulkan loaders before 1.3.207.
    [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; }
  done
fi
# Dawn and Mesa warn without it; a machine without a login session has none.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

setup="node $("$node" --version); loaders: $libs, ${names:+from debs/: }${names:-none from debs/}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
case "${1:-}" in
  --setup) echo "run.sh: $setup"; exit 0 ;;
  --node) shift; exec "$node" "$@" ;;
  *) echo "run.sh: $setup" >&2; exec "$node" "$dir/app/dist/src/cli/main.js" "$@" ;;
esac
