#!/usr/bin/python3
"""How a run's cost grows with its number of clients.

Usage: /usr/bin/python3 analysis/scale.py RUN_DIR_OR_ROOT [...] [--out DIR]

Every argument is a tadlora-sim run directory (with summary.json), or a sweep's root holding
such directories. For each number of clients it takes the run's wall time in the event loop
(training, evaluation, serializing and mixing, and ns-3's share: summary.json's
wall_breakdown_s) per client-round, its set-up time and its peak memory, and writes
scale.png (cost per client-round against clients, by part) and scale.md (the table, with
each size's cost over the smallest size's) into --out (default: the first argument). A
missing or unreadable input exits with status 2 and one line on stderr, before anything is
written.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

PARTS = ["train", "evaluate", "exchange", "ns3"]  # the event loop, per client-round
DPI = 110


class InputError(Exception):
    """A run directory or its summary.json is missing or unreadable."""


def read_run(summary_path):
    """One run's size and costs from its summary.json."""
    try:
        with open(summary_path, encoding="utf-8") as stream:
            summary = json.load(stream)
        clients = int(summary["config"]["clients"])
        rounds = int(summary["final"]["round"]) + 1
        wall = summary["wall_breakdown_s"]
        costs = {part: float(wall[part]) for part in PARTS}
        setup = float(wall["setup"])
        memory = float(summary["max_rss_mb"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{summary_path}: {error}") from error
    if not summary.get("complete", False):
        raise InputError(f"{summary_path}: the run did not complete")
    client_rounds = clients * rounds
    per = {part: 1e3 * cost / client_rounds for part, cost in costs.items()}
    return {"clients": clients, "rounds": rounds, "per": per, "total": sum(per.values()),
            "setup": setup, "memory": memory, "model": summary["network"]["model"]}


def find_runs(arguments):
    """Every run under the arguments, by number of clients (one run per size)."""
    runs = {}
    for argument in map(Path, arguments):
        summaries = ([argument / "summary.json"] if (argument / "summary.json").exists()
                     else sorted(argument.glob("*/summary.json")))
        if not summaries:
            raise InputError(f"{argument}: no run directory (summary.json) here or below")
        for path in summaries:
            run = read_run(path)
            if run["clients"] in runs:
                raise InputError(f"{path}: a second run of {run['clients']} clients")
            runs[run["clients"]] = run
    return [runs[m] for m in sorted(runs)]


def write_table(runs, path):
    """scale.md: one row per size."""
    smallest = runs[0]["total"]
    lines = ["| clients | set-up (s) | " + " | ".join(f"{p} (ms)" for p in PARTS)
             + " | per client-round (ms) | over the smallest | peak memory (MB) |",
             "| ---: | ---: | " + " | ".join("---:" for _ in PARTS) + " | ---: | ---: | ---: |"]
    for run in runs:
        lines.append(f"| {run['clients']} | {run['setup']:.2f} | "
                     + " | ".join(f"{run['per'][p]:.2f}" for p in PARTS)
                     + f" | {run['total']:.2f} | {run['total'] / smallest:.2f} | "
                       f"{run['memory']:.0f} |")
    lines.append("")
    lines.append("Networks: " + "; ".join(f"{r['clients']}: {r['model']}" for r in runs) + ".")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot(runs, path):
    """scale.png: cost per client-round by part, and in all, against clients."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    clients = [r["clients"] for r in runs]
    ax.plot(clients, [r["total"] for r in runs], "k-o", label="all (event loop)")
    for part in PARTS:
        ax.plot(clients, [r["per"][part] for r in runs], "--o", markersize=3, label=part)
    ax.set_xscale("log")
    ax.set_xticks(clients, [str(m) for m in clients])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # the sizes are the ticks
    ax.set_xlabel("clients")
    ax.set_ylabel("wall time per client-round (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title("Cost per client-round")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories or sweep roots")
    parser.add_argument("--out", help="output directory (default: the first argument)")
    args = parser.parse_args()
    try:
        runs = find_runs(args.runs)
    except InputError as error:
        print(f"scale.py: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    out = Path(args.out or args.runs[0])
    out.mkdir(parents=True, exist_ok=True)
    write_table(runs, out / "scale.md")
    plot(runs, out / "scale.png")
    print(out / "scale.md")
    print(out / "scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
