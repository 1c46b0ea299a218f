#!/usr/bin/env bash
# Make scenarios/traces/sumo-grid.ns2, the vehicle trace of scenarios/wifi-sumo.toml, with
# Debian's SUMO (packages sumo and sumo-tools, 1.15): a 5 x 5 street grid of 50 m blocks
# (200 m square, 50 km/h streets), 20 cars entering in the first 10 s on random routes through
# 30 random streets each (so they drive for the whole run), simulated for 240 s in 1 s steps,
# exported as an ns-2 movement trace (node i = the i-th car to depart). The trace is committed;
# a run never needs SUMO. Same seed, same SUMO: the same file.
#   scripts/make-sumo-trace.sh            (needs root or sudo if SUMO is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
out=scenarios/traces/sumo-grid.ns2
if ! command -v sumo >/dev/null || [ ! -d /usr/share/sumo/tools ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends sumo sumo-tools >/dev/null
fi
export SUMO_HOME=/usr/share/sumo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
netgenerate --grid --grid.number 5 --grid.length 50 --default.speed 13.89 \
  --no-turnarounds true --seed 1 --output-file "$work/grid.net.xml" >/dev/null
/usr/bin/python3 "$SUMO_HOME/tools/randomTrips.py" --net-file "$work/grid.net.xml" \
  --begin 0 --end 10 --period 0.5 --intermediate 30 --seed 1 \
  --output-trip-file "$work/trips.xml" --route-file "$work/routes.rou.xml" >/dev/null
sumo --net-file "$work/grid.net.xml" --route-files "$work/routes.rou.xml" --begin 0 \
  --end 240 --step-length 1 --seed 1 --no-step-log true --fcd-output "$work/fcd.xml" >/dev/null
/usr/bin/python3 "$SUMO_HOME/tools/traceExporter.py" --fcd-input "$work/fcd.xml" \
  --ns2mobility-output "$work/trace.ns2" >/dev/null 2>&1
mkdir -p "$(dirname "$out")"
{
  echo "# 20 cars on a 5 x 5 street grid of 50 m blocks, 240 s: made by scripts/make-sumo-trace.sh"
  echo "# (SUMO $(sumo --version | head -n 1 | awk '{print $NF}'), netgenerate, randomTrips.py, traceExporter.py)"
  cat "$work/trace.ns2"
} > "$out"
echo "$out: $(grep -c setdest "$out") movements of $(grep -c 'set X_' "$out") nodes"
