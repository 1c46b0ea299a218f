#!/usr/bin/env bash
# Installs the Debian bookworm packages tadlora builds and runs with (README "Dependencies"),
# only those that are missing. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  g++ cmake make                      # toolchain
  libns3-dev ns3                      # ns-3 3.37; ns3 holds helpers its CMake targets reference
  libgsl-dev libsqlite3-dev libxml2-dev libpython3-dev  # named by ns-3's exported CMake targets
  libtorch-dev libopenblas0-openmp    # LibTorch 1.13 on OpenBLAS (the reference BLAS is 10x slower)
  libboost-graph-dev libcli11-dev     # topologies; command line and scenario files
  nlohmann-json3-dev zlib1g-dev       # summary.json; gzip IDX reading and CRC-32
  libgtest-dev libbenchmark-dev       # tests and benchmarks
  dataset-fashion-mnist               # the default task's data
  python3-matplotlib python3-pandas   # analysis/ plots
  parallel                            # sweeps
)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# libtorch-dev may bring pthread OpenBLAS and Debian may select it: its threads then fight
# LibTorch's OpenMP threads (measured: the default run took twice as long). Use the OpenMP one.
triplet=$(gcc -print-multiarch)
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  target=/usr/lib/$triplet/openblas-openmp/$lib
  if [ -e "$target" ] && [ "$(readlink -f "/etc/alternatives/$lib-$triplet")" != "$target" ]; then
    "${sudo[@]}" update-alternatives --quiet --set "$lib-$triplet" "$target"
  fi
done
