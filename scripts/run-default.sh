#!/usr/bin/env bash
# The main job: the default paper-mode scenario end to end (simulation, traces, plots).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
out=${1:-results/default}
build/tadlora-sim --config scenarios/default.toml --out "$out"
/usr/bin/python3 analysis/plot_run.py "$out"
