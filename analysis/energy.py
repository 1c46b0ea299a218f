#!/usr/bin/python3
"""Energy and devices across a sweep: what reaching an accuracy costs, and what slow devices
under a deadline cost.

Usage: /usr/bin/python3 analysis/energy.py RESULTS_DIR [...] [--target-acc F] [--out DIR]

Every directory below a RESULTS_DIR that holds summary.json is a run; runs that differ only in
their seed form a group, labelled by the options that differ between groups. Two sections,
each written when the runs allow it:
- "Energy to a target accuracy" (runs with energy.csv): per run the first evaluated round whose
  mean client accuracy reaches --target-acc (default 0.75), and each client's joules up to the
  end of that round (energy.csv: compute, radio tx, rx, idle; the warm-up is in round 0),
  averaged over clients; mean ± standard error over the seeds that reached it.
  energy-to-target.png.
- "Devices under a deadline" (groups that differ in --device-profile): final mean client
  accuracy, exchanges missed per client-round, mean simulated round time. devices.png.
Writes report.md and the figures into --out (default: the first RESULTS_DIR/report). Bad
input exits with status 2 and one line on stderr, before anything is written.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from plot_run import InputError, new_figure, read_csv, read_summary, run_style
from report import NOT_SETTINGS, Section, cell, find_runs, table, write_report

PARTS = [("compute_j", "compute"), ("radio_tx_j", "radio tx"), ("radio_rx_j", "radio rx"),
         ("radio_idle_j", "radio idle")]


def load(directory):
    """A run's configuration, seed, evaluated rounds, summary and energy rows (or None)."""
    summary = read_summary(directory / "summary.json")
    config = summary["config"]
    energy = directory / "energy.csv"
    return {
        "setting": {k: v for k, v in config.items() if k not in NOT_SETTINGS},
        "seed": config.get("seed"),
        "summary": summary,
        "rounds": read_csv(directory / "rounds.csv", ["round", "mean_acc", "sim_time_s"]),
        "energy": read_csv(energy, ["round", "client", "device", "train_s"] + [c for c, _ in PARTS])
        if energy.exists() else None,
    }


def groups_of(runs):
    """Runs grouped by setting (one per seed), each labelled by what differs between groups."""
    members = {}
    for run in runs:
        key = json.dumps(run["setting"], sort_keys=True)
        members.setdefault(key, {}).setdefault(run["seed"], run)
    settings = [json.loads(key) for key in members]
    swept = [k for k in settings[0] if len({json.dumps(s.get(k)) for s in settings}) > 1]
    groups = []
    for key, by_seed in members.items():
        setting = json.loads(key)
        label = ", ".join(f"{k} {setting[k]}" for k in swept) or "all runs"
        groups.append({"label": label, "setting": setting, "swept": swept,
                       "runs": [by_seed[s] for s in sorted(by_seed, key=str)]})
    groups.sort(key=lambda g: [order_value(g, k) for k in swept])
    return groups, swept


def order_value(group, option):
    """Where a group goes along a swept option: a device mix by its clients' mean training
    seconds per round (slower mixes later), a number as itself, anything else as text."""
    value = group["setting"][option]
    if option == "device-profile" and all(run["energy"] is not None for run in group["runs"]):
        return (0, sum(run["energy"]["train_s"].mean() for run in group["runs"]), "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, str(value))


def to_target(run, target):
    """(round, simulated seconds, joules per client by part) when the run first reached the
    target accuracy, or None."""
    reached = run["rounds"].loc[run["rounds"]["mean_acc"] >= target]
    if reached.empty:
        return None
    first = reached.iloc[0]
    energy = run["energy"]
    upto = energy.loc[energy["round"] <= first["round"]]
    clients = energy["client"].nunique()
    # a part not metered (empty in energy.csv) stays unknown, not 0
    joules = {part: upto[part].sum(min_count=1) / clients for part, _ in PARTS}
    return int(first["round"]), float(first["sim_time_s"]), joules


def energy_section(groups, swept, target):
    """Joules per client to the target accuracy, by group."""
    metered = [g for g in groups if all(run["energy"] is not None for run in g["runs"])]
    if not metered:
        return None
    rows, points = [], []
    for g in metered:
        hits = [hit for hit in (to_target(run, target) for run in g["runs"]) if hit]
        reached = f"{len(hits)}/{len(g['runs'])}"
        if not hits:
            rows.append([g["label"], reached] + ["–"] * (3 + len(PARTS)))
            continue
        parts = pd.DataFrame([joules for _, _, joules in hits])
        total = parts.fillna(0).sum(axis=1)
        rows.append([g["label"], reached, cell(pd.Series([r for r, _, _ in hits]) + 1, fmt=".1f"),
                     cell(pd.Series([s for _, s, _ in hits]), fmt=".1f"),
                     *[cell(parts[part], fmt=".2f") if parts[part].notna().all() else "–"
                       for part, _ in PARTS],
                     cell(total, fmt=".2f")])
        points.append((g, parts, total))
    x_option = swept[0] if len(swept) == 1 else None

    def plot(path):
        fig, (ax,) = new_figure(1, f"Joules per client to mean accuracy {target:g} "
                                   "(± standard error over seeds)")
        fig.set_figwidth(8.4)
        positions = range(len(points))
        bottom = pd.Series([0.0] * len(points))
        for k, (part, name) in enumerate(PARTS):
            heights = pd.Series([parts[part].fillna(0).mean() for _, parts, _ in points])
            ax.bar(positions, heights, bottom=bottom, label=name, color=run_style(k)["color"])
            bottom += heights
        ax.errorbar(positions, bottom, [t.sem() if len(t) > 1 else 0 for _, _, t in points],
                    fmt="none", ecolor="black", capsize=3)
        ax.set_xticks(list(positions))
        ax.set_xticklabels([str(g["setting"][x_option]) if x_option else g["label"]
                            for g, _, _ in points], rotation=0 if x_option else 20, ha="right"
                           if not x_option else "center")
        ax.set_xlabel(x_option or "group")
        ax.set_ylabel("joules per client")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)

    header = ["group", "reached", "rounds", "simulated s", *[f"{name} (J)" for _, name in PARTS],
              "total (J)"]
    lines = [f"Each client's joules from the start to the end of the first evaluated round "
             f"whose mean client accuracy is at least {target:g}, over the seeds that reached "
             "it. Empty parts were not metered (no device profile; no radio model on "
             "point-to-point links).", "", *table(header, rows)]
    return Section("Energy to a target accuracy", lines, "energy-to-target.png",
                   plot if points else None)


def devices_section(groups, swept):
    """Accuracy, missed exchanges and round time by device mix and deadline."""
    if "device-profile" not in swept:
        return None
    others = [k for k in swept if k != "device-profile"]
    profiles = list(dict.fromkeys(g["setting"]["device-profile"] for g in groups))

    def values(g):
        finals, missed, round_time = [], [], []
        for run in g["runs"]:
            s = run["summary"]
            finals.append(s["final"]["mean_acc"])
            exchanges = s["config"]["clients"] * (s["final"]["round"] + 1)
            missed.append(s["network"]["missed_exchanges"] / exchanges)
            round_time.append(s["network"]["mean_round_time_s"])
        return pd.Series(finals), pd.Series(missed), pd.Series(round_time)

    rows = []
    lines_by_other = {}
    for g in groups:
        finals, missed, round_time = values(g)
        rows.append([g["setting"]["device-profile"],
                     ", ".join(f"{k} {g['setting'][k]}" for k in others) or "–", cell(finals),
                     cell(missed, fmt=".3f"), cell(round_time, fmt=".2f")])
        other = tuple(g["setting"][k] for k in others)
        lines_by_other.setdefault(other, {})[profiles.index(g["setting"]["device-profile"])] = (
            finals, missed)

    def plot(path):
        fig, axes = new_figure(2, "Device mixes (± standard error over seeds)")
        fig.set_figwidth(10)
        for k, (other, points) in enumerate(sorted(lines_by_other.items(), key=str)):
            xs = sorted(points)
            label = ", ".join(f"{o} {v}" for o, v in zip(others, other)) or "all runs"
            for ax, column in zip(axes, range(2)):
                ax.errorbar(xs, [points[x][column].mean() for x in xs],
                            [points[x][column].sem() if len(points[x][column]) > 1 else 0
                             for x in xs], capsize=3, marker="o", label=label, **run_style(k))
        for ax, ylabel in zip(axes, ["final mean client accuracy",
                                     "exchanges missed per client-round"]):
            ax.set_xticks(range(len(profiles)))
            ax.set_xticklabels([p.replace("mix:", "").replace(",", "\n") for p in profiles],
                               fontsize=7)
            ax.set_ylabel(ylabel)
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)

    header = ["device profile", "other settings", "final mean client accuracy",
              "missed per client-round", "mean round (simulated s)"]
    return Section("Devices under a deadline", table(header, rows), "devices.png", plot)


def main():
    """Find and group the runs, then write the sections they allow."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR")
    parser.add_argument("--target-acc", type=float, default=0.75, metavar="F",
                        help="the accuracy energy is counted to (default 0.75)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write (default: RESULTS_DIR/report, of the first)")
    args = parser.parse_args()
    try:
        if not 0 < args.target_acc <= 1:
            raise InputError(f"--target-acc: {args.target_acc:g} is not in (0, 1]")
        runs = [load(directory) for directory in find_runs(args.results)]
        groups, swept = groups_of(runs)
        sections = [s for s in (energy_section(groups, swept, args.target_acc),
                                devices_section(groups, swept)) if s]
        if not sections:
            raise InputError("no run has energy.csv and no two groups differ in "
                             "--device-profile: nothing to report")
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    preamble = ["# tadlora energy and devices report", "", f"Made by `{shlex.join(sys.argv)}`.",
                "", f"{len(runs)} runs in {len(groups)} groups; values are means ± the standard "
                "error of the mean over seeds."]
    return write_report(parser.prog, sections, preamble, args.out or args.results[0] / "report")


if __name__ == "__main__":
    sys.exit(main())
