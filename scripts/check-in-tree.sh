#!/usr/bin/env bash
# The in-tree check: contrib/tadlora dropped into Debian's ns-3 3.37 source tree builds with
# ns-3's own build system, its example runs with ./ns3 run and ./test.py -s tadlora passes.
# The ns-3 tree and its build are cached outside the repository (TADLORA_NS3_TREE, default
# ~/.cache/tadlora/ns3-intree): a second run copies the module again and rebuilds what changed.
# Needs root (or sudo) the first time: it adds a deb-src entry and installs packages.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${TADLORA_NS3_TREE:-${XDG_CACHE_HOME:-$HOME/.cache}/tadlora/ns3-intree}

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
log() { echo "check-in-tree: $*" >&2; }

# What the module needs (LibTorch, Boost.Graph, ..., the data), then what ns-3's tree needs.
scripts/setup.sh
missing=()
for p in dpkg-dev ninja-build python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Debian's ns-3 source: a deb-src entry for bookworm on the mirror the machine already uses.
tree=$(ls -d "$cache"/ns3-*/ns-3.* 2>/dev/null | head -n 1 || true)
if [ -z "$tree" ]; then
  if ! grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '$2 ~ /debian\/?$/ {print $2; exit}')
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
      /etc/apt/sources.list 2>/dev/null)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "adding deb-src for bookworm from $mirror"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
      "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg |
      "${sudo[@]}" tee /etc/apt/sources.list.d/tadlora-deb-src.sources >/dev/null
  fi
  "${sudo[@]}" apt-get update -qq
  mkdir -p "$cache"
  log "fetching Debian's ns-3 source into $cache"
  (cd "$cache" && apt-get source -qq ns3)
  tree=$(ls -d "$cache"/ns3-*/ns-3.* | head -n 1)
fi
log "ns-3 tree: $tree"

# The module, as a user copies it: contrib/tadlora only. cp -a keeps the files' times, so the
# build recompiles only what changed since the last copy.
rm -rf "$tree/contrib/tadlora"
cp -a "$repo/contrib/tadlora" "$tree/contrib/tadlora"

cd "$tree"
# Only tadlora and the modules it depends on (ns-3 resolves them from its CMakeLists.txt), and
# only tadlora's examples and tests: all of ns-3 with its examples and tests is hours on two
# cores.
configure=(--enable-examples --enable-tests --disable-python-bindings --enable-modules=tadlora
           --filter-module-examples-and-tests=tadlora)
if [ "$(cat cmake-cache/tadlora-configure-args 2>/dev/null)" != "${configure[*]}" ]; then
  nice -n 19 ./ns3 configure "${configure[@]}"
  echo "${configure[*]}" > cmake-cache/tadlora-configure-args
fi
nice -n 19 ./ns3 build

# Every example, briefly, as a user runs it: tadlora-sim in paper mode and on the shipped Wi-Fi
# grid (the base comes from the shared cache, ~/.cache/tadlora), and the four small examples.
out="$cache/runs"
rm -rf "$out"
./ns3 run --no-build "tadlora-sim --rounds 1 --local-steps 2 --quiet --out $out/p2p"
./ns3 run --no-build "tadlora-sim --config $repo/scenarios/wifi-grid.toml --rounds 1 \
  --local-steps 2 --quiet --out $out/wifi"
for run in p2p wifi; do
  [ -s "$out/$run/summary.json" ] || { log "$out/$run/summary.json missing"; exit 1; }
  # rounds.csv's msgs_delivered (column 14): the factors went over ns-3's network.
  delivered=$(awk -F, 'NR == 2 {print $14}' "$out/$run/rounds.csv")
  [ "${delivered:-0}" -gt 0 ] || { log "$run: no message delivered"; exit 1; }
  log "$run: round 0 delivered $delivered messages, mean accuracy $(awk -F, 'NR == 2 {print $4}' \
    "$out/$run/rounds.csv")"
done
for example in tadlora-paper-minimal tadlora-wifi-adhoc tadlora-custom-network \
  tadlora-trace-sinks; do
  ./ns3 run --no-build "$example --rounds=1 --out=$out/$example" | tail -n 1
done

./test.py --no-build -s tadlora
log "passed"
