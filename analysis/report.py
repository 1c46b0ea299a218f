#!/usr/bin/python3
"""Aggregate tadlora-sim sweeps over seeds into figures and a Markdown report.

Usage: /usr/bin/python3 analysis/report.py RESULTS_DIR [RESULTS_DIR ...] [--out DIR]

Every directory below a RESULTS_DIR that holds summary.json is a run (as scripts/sweep.py
writes them). Runs are grouped by their configuration without seed (and out, threads, quiet);
runs with the same configuration and seed count once. A group's seeds give means and standard
errors of the mean (sample standard deviation / sqrt(n)); tad-lora is compared with lora and
with its no-joint ablation seed by seed. Writes report.md and the figures the runs support
(accuracy.png, final-vs-p.png, accuracy-vs-T.png, consensus.png, network.png) into --out
(default: the first RESULTS_DIR/report) and prints their paths. Bad input exits with status 2
and one line on stderr, before anything is written.
"""

import argparse
import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from plot_run import (ALTERNATING, CONSENSUS_PANELS, FIXED_INTERVAL, InputError, describe,
                      load_run, log_scale_if_positive, never_positive_note, new_figure,
                      plot_band, round_axis, run_style, save)

# What may differ between runs of one group: they are the same computation.
NOT_SETTINGS = {"seed", "out", "threads", "quiet", "checkpoint-every", "resume"}
METHOD_ORDER = ["lora", "ffa-lora", "rolora", "tad-lora-no-joint", "tad-lora"]
SWEPT_T = ALTERNATING - FIXED_INTERVAL.keys()  # the methods whose T is a parameter
ROUND_MEANS = ["mean_acc", "avg_model_acc", "sim_time_s", "consensus_A", "consensus_B",
               "cross_term"]
NETWORK_PANELS = [
    ("delivery", "factor messages delivered", "delivered / sent"),
    ("latency_ms", "their mean latency", "latency (ms)"),
    ("megabytes", "bytes on air, all devices", "cumulative MB"),
]
T_LINESTYLES = ["-", "--", ":", "-."]
FINAL_COLUMNS = [("mean_acc", "mean client accuracy"), ("avg_model_acc", "averaged model")]
PAIRED_INTERVAL = 5  # the T of tad-lora in the paired table where it ran


@dataclass
class Group:
    """The runs (one per seed) of one configuration, and their means over seeds."""

    setting: dict
    runs: list
    variant: str = ""  # the method, and whatever else tells it from other groups but p and T
    rounds: pd.DataFrame = field(init=False)
    network: pd.DataFrame = field(init=False)

    def __post_init__(self):
        self.rounds = over_seeds([run.rounds for run in self.runs], ROUND_MEANS)
        self.network = over_seeds([network_series(run) for run in self.runs],
                                  [column for column, _, _ in NETWORK_PANELS])

    @property
    def method(self):
        """The method, e.g. "tad-lora"."""
        return self.setting["method"]

    @property
    def link_prob(self):
        """p."""
        return self.setting["link-prob"]

    @property
    def interval(self):
        """T in effect, None for methods that don't alternate."""
        return self.setting["switch-interval"]

    @property
    def label(self):
        """Its curve's name: the variant and T."""
        return self.variant if self.interval is None else f"{self.variant} T={self.interval}"

    def final(self, column):
        """The column's value in the last evaluated round, indexed by seed."""
        return pd.Series([run.rounds[column].iloc[-1] for run in self.runs],
                         index=[seed_of(run) for run in self.runs])


def seed_of(run):
    """The run's seed, None if its configuration has none."""
    return run.summary["config"].get("seed")


def over_seeds(frames, columns):
    """Columns (name, "mean") and (name, "sem") by round: mean and standard error over seeds."""
    return pd.concat(frames)[["round", *columns]].groupby("round").agg(["mean", "sem"])


def network_series(run):
    """Per round: share of factor messages delivered, their mean latency, bytes so far."""
    net = run.network
    return pd.DataFrame({
        "round": net["round"],
        "delivery": net["msgs_delivered"] / net["msgs_sent"].where(net["msgs_sent"] > 0),
        "latency_ms": 1e3 * net["mean_latency_s"].where(net["msgs_delivered"] > 0),
        "megabytes": net["bytes_on_air"].cumsum() / 1e6,
    })


def find_runs(directories):
    """The run directories below the given ones, sorted."""
    found = set()
    for directory in directories:
        if not directory.is_dir():
            raise InputError(f"{directory}: not a directory")
        # A run still in progress writes into OUT.partial-PID; one stopped by a signal says
        # "complete": false and is no result.
        found |= {summary.parent.resolve() for summary in directory.rglob("summary.json")
                  if ".partial-" not in summary.parent.name
                  and '"complete": false' not in summary.read_text()}
    if not found:
        raise InputError(f"{', '.join(map(str, directories))}: no runs (no summary.json)")
    return sorted(found)


def setting_of(run):
    """A run's configuration without what doesn't change its results, with T in effect."""
    setting = {k: v for k, v in run.summary["config"].items() if k not in NOT_SETTINGS}
    setting["switch-interval"] = run.switch_interval
    return setting


def group_runs(runs):
    """Groups of runs that differ only in seed, sorted, and the number of duplicates left out."""
    members = {}
    for run in runs:
        key = json.dumps(setting_of(run), sort_keys=True)
        members.setdefault(key, {}).setdefault(seed_of(run), run)
    groups = [Group(json.loads(key), [by_seed[seed] for seed in sorted(by_seed)])
              for key, by_seed in members.items()]
    name_variants(groups)
    groups.sort(key=lambda g: (method_rank(g.method), g.variant, g.interval or 0, -g.link_prob))
    return groups, len(runs) - sum(len(g.runs) for g in groups)


def method_rank(method):
    """Position of a method in tables and legends."""
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def name_variants(groups):
    """Name each group by its method and the settings, but p and T, that differ between groups."""
    keys = sorted(set().union(*(g.setting for g in groups)))
    varying = [key for key in keys if key not in ("method", "link-prob", "switch-interval")
               and len({json.dumps(g.setting.get(key)) for g in groups}) > 1]
    for g in groups:
        g.variant = " ".join([g.method] + [f"{key}={g.setting.get(key)}" for key in varying])


def shown_intervals(groups):
    """The T shown for each alternating variant: all if it has fewer than three, else the
    most common (ties go to the median of the tied), and a note saying which."""
    intervals = {}
    for g in groups:
        if g.interval is not None:
            intervals.setdefault(g.variant, []).append(g.interval)
    shown, notes = {}, []
    for variant, values in intervals.items():
        counts = Counter(values)
        if len(counts) < 3:
            shown[variant] = set(counts)
            continue
        top = max(counts.values())
        tied = sorted(t for t in counts if counts[t] == top)
        chosen = tied[(len(tied) - 1) // 2]
        shown[variant] = {chosen}
        notes.append(f"- {variant}: T = {chosen} shown of {sorted(counts)} "
                     "(the most common T among its groups; ties go to the median).")
    return shown, notes


def best_interval(groups):
    """For each variant with several T and each p, the group of the best interval_score
    (ties go to the smaller T)."""
    candidates = {}
    for g in groups:
        if g.method in SWEPT_T:
            candidates.setdefault((g.variant, g.link_prob), []).append(g)
    tails = {variant: cycle_tail([g for g in groups if g.variant == variant])
             for variant, _ in candidates}
    return {key: max(gs, key=lambda g: interval_score(g, tails[key[0]]).mean())
            for key, gs in candidates.items() if len(gs) > 1}


def cycle_tail(groups):
    """The last L rounds, L the least common multiple of every 2T of groups (one variant swept
    over T), so that each T is weighed over whole A + B cycles whatever phase its last round
    falls in; None unless every run ended on the same round and evaluated each of them."""
    span = math.lcm(*(2 * g.interval for g in groups))
    ends = {run.rounds["round"].iloc[-1] for g in groups for run in g.runs}
    end = ends.pop()
    tail = set(range(end - span + 1, end + 1))
    if ends or not all(tail <= set(run.rounds["round"]) for g in groups for run in g.runs):
        return None
    return tail


def interval_score(group, tail):
    """What T is chosen by, per seed: the mean client accuracy over the tail's rounds (whole
    switching cycles), or the final one when there is no tail."""
    if tail is None:
        return group.final("mean_acc")
    return pd.Series([run.rounds.loc[run.rounds["round"].isin(tail), "mean_acc"].mean()
                      for run in group.runs], index=[seed_of(run) for run in group.runs])


def cell(values, extra="", fmt=".4f"):
    """mean ± standard error (n seeds) of the values; no standard error with one seed."""
    seeds = f"{len(values)} seed{'s' if len(values) > 1 else ''}{extra}"
    if len(values) == 1:
        return f"{values.iloc[0]:{fmt}} ({seeds})"
    return f"{values.mean():{fmt}} ± {values.sem():{fmt}} ({seeds})"


def within_error(values):
    """Whether the values' mean is no further from 0 than its standard error, or there are
    fewer than two values to tell."""
    return len(values) < 2 or abs(values.mean()) <= values.sem()


def plot_errorbars(ax, points, style):
    """Means ± standard error over seeds; points maps x to the values over seeds."""
    xs = sorted(points)
    ax.errorbar(xs, [points[x].mean() for x in xs],
                [points[x].sem() if len(points[x]) > 1 else 0 for x in xs], capsize=3, **style)


def table(header, rows):
    """A Markdown table, first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


@dataclass
class Section:
    """A part of the report: its text, and the figure it shows if the data allow one."""

    title: str
    lines: list
    figure: str = ""
    plot: object = None  # plot(path) draws the figure


class Study:
    """All groups of a results tree and what the report's sections need from them."""

    def __init__(self, groups):
        self.groups = groups
        self.intervals, self.interval_notes = shown_intervals(groups)
        self.shown = [g for g in groups
                      if g.interval is None or g.interval in self.intervals[g.variant]]
        self.labels = list(dict.fromkeys(g.label for g in self.shown))
        self.probs = sorted({g.link_prob for g in self.shown}, reverse=True)
        self.best = best_interval(groups)
        self.by_setting = {json.dumps(g.setting, sort_keys=True): g for g in groups}

    def twin(self, group, changes):
        """The group whose setting is group's with the given changes, None if none ran."""
        return self.by_setting.get(json.dumps({**group.setting, **changes}, sort_keys=True))

    def style(self, group):
        """The line style of a shown group's curve, the same in every figure."""
        return run_style(self.labels.index(group.label))

    def at(self, p):
        """The shown groups at link probability p."""
        return [g for g in self.shown if g.link_prob == p]

    def rows_per_p(self, panels, title):
        """A figure with a row of the given panels per p, and its (p, panel, axes) triples."""
        fig, axes = new_figure(len(panels) * len(self.probs), title, rows=len(self.probs))
        return fig, [(p, panel, ax) for (p, panel), ax in
                     zip(((p, panel) for p in self.probs for panel in panels), axes)]

    def save(self, fig, path, extra_handles=()):
        """Save with the legend of the shown curves."""
        save(fig, self.labels, path, extra_handles)

    def accuracy(self):
        """Mean client accuracy against round and simulated time, a column per p."""
        def plot(path):
            fig, axes = new_figure(2 * len(self.probs),
                                   "Mean client accuracy (± standard error over seeds)", rows=2)
            for column, p in enumerate(self.probs):
                by_round, by_time = axes[column], axes[len(self.probs) + column]
                for g in self.at(p):
                    mean, sem = g.rounds[("mean_acc", "mean")], g.rounds[("mean_acc", "sem")]
                    plot_band(by_round, g.rounds.index, mean, sem, self.style(g))
                    plot_band(by_time, g.rounds[("sim_time_s", "mean")], mean, sem, self.style(g))
                by_round.set_title(f"p = {p:g}")
                round_axis(by_round)
                by_time.set_xlabel("simulated time (s), mean over seeds")
                for ax in (by_round, by_time):
                    ax.set_ylabel("mean client accuracy")
            self.save(fig, path)
        return Section("Accuracy over rounds and simulated time", self.interval_notes,
                       "accuracy.png", plot)

    def final_rows(self, column):
        """Label -> {p: (final values over seeds, note)}: the shown curves, then best T."""
        rows = {}
        for g in self.shown:
            rows.setdefault(g.label, {})[g.link_prob] = (g.final(column), "")
        for (variant, p), g in sorted(self.best.items()):
            rows.setdefault(f"{variant} (best T)", {})[p] = (g.final(column), f", T={g.interval}")
        return rows

    def final(self):
        """Tables and a figure of the final accuracies per method and p."""
        lines = []
        for column, title in FINAL_COLUMNS:
            header = [f"final {title}", *[f"p = {p:g}" for p in self.probs]]
            rows = [[label, *[cell(*cells[p]) if p in cells else "–" for p in self.probs]]
                    for label, cells in self.final_rows(column).items()]
            lines += table(header, rows) + [""]
        if self.best:
            lines += ["Best T: the T of the best mean client accuracy at that p, over whole "
                      "switching cycles where every run evaluated them (see Switching "
                      "interval), else in the final round.", ""]
        if len(self.probs) < 2:
            return Section("Final accuracy", lines + ["Only one p: no figure against p."])

        def plot(path):
            fig, axes = new_figure(len(FINAL_COLUMNS),
                                   "Final accuracy against p (± standard error over seeds)")
            labels = list(self.final_rows("mean_acc"))
            for ax, (column, title) in zip(axes, FINAL_COLUMNS):
                for i, cells in enumerate(self.final_rows(column).values()):
                    plot_errorbars(ax, {p: values for p, (values, _) in cells.items()},
                                   run_style(i))
                ax.set_xscale("log")
                ax.set_xticks(self.probs, [f"{p:g}" for p in self.probs], minor=False)
                ax.minorticks_off()
                ax.set_xlabel("link probability p")
                ax.set_title(title)
                ax.set_ylabel("final accuracy")
            save(fig, labels, path)
        return Section("Final accuracy", lines, "final-vs-p.png", plot)

    def switching(self):
        """Final accuracy against T, a line per p, for the variants swept over T."""
        methods = {variant: g.method for (variant, _), g in self.best.items()}
        swept = sorted(methods, key=lambda v: (methods[v] != "tad-lora", v))
        if not swept:
            return Section("Switching interval", ["No method was run with several T."])
        probs = sorted({p for _, p in self.best}, reverse=True)
        lines = []
        for variant in swept:
            groups = [g for g in self.groups if g.variant == variant]
            intervals = sorted({g.interval for g in groups})
            rows = [[f"T = {t}", *[next((cell(g.final("mean_acc")) for g in groups
                                         if g.interval == t and g.link_prob == p), "–")
                                   for p in probs]] for t in intervals]
            lines += [f"Final mean client accuracy of {variant}:", ""]
            lines += table(["T", *[f"p = {p:g}" for p in probs]], rows) + [""]
            lines += whole_cycles(variant, groups, probs)

        def plot(path):
            fig, (ax,) = new_figure(1, "Final accuracy against the switching interval T\n"
                                       "(± standard error over seeds)")
            handles = []
            for linestyle, variant in zip(T_LINESTYLES * len(swept), swept):
                handles.append(Line2D([], [], color="black", linestyle=linestyle, label=variant))
                for i, p in enumerate(probs):
                    plot_errorbars(ax, {g.interval: g.final("mean_acc") for g in self.groups
                                        if g.variant == variant and g.link_prob == p},
                                   {"color": f"C{i}", "linestyle": linestyle, "marker": "o"})
            handles += [Line2D([], [], color=f"C{i}", label=f"p = {p:g}")
                        for i, p in enumerate(probs)]
            ax.set_xlabel("switching interval T (rounds)")
            ax.set_ylabel("final mean client accuracy")
            save(fig, [], path, handles)
        return Section("Switching interval", lines, "accuracy-vs-T.png", plot)

    def consensus(self):
        """Consensus distances and cross term against round, a row per p."""
        def plot(path):
            fig, panels = self.rows_per_p(CONSENSUS_PANELS,
                                          "Disagreement between clients (mean over seeds)")
            for p, (column, title, formula), ax in panels:
                groups = self.at(p)
                means = log_scale_if_positive(ax, [g.rounds[(column, "mean")] for g in groups])
                for g, values in zip(groups, means):
                    ax.plot(g.rounds.index, values, **self.style(g))
                ax.set_title(f"{title}, p = {p:g}"
                             + never_positive_note([g.label for g in groups], means))
                round_axis(ax)
                ax.set_ylabel(formula)
            self.save(fig, path)
        return Section("Consensus", [], "consensus.png", plot)

    def network(self):
        """Delivery ratio, latency and bytes against round, a row per p."""
        def plot(path):
            fig, panels = self.rows_per_p(NETWORK_PANELS,
                                          "Gossip network (± standard error over seeds)")
            for p, (column, title, unit), ax in panels:
                for g in self.at(p):
                    plot_band(ax, g.network.index, g.network[(column, "mean")],
                              g.network[(column, "sem")], self.style(g))
                ax.set_title(f"{title}, p = {p:g}")
                round_axis(ax)
                ax.set_ylabel(unit)
            self.save(fig, path)
        return Section("Network", [], "network.png", plot)

    def bytes_on_air(self):
        """Final mean client accuracy against the bytes every device put on the air or the
        wire over the run: a point per shown group, a panel per p (what a codec or a transport
        buys and costs)."""
        def megabytes(g):
            return pd.Series([run.network["bytes_on_air"].sum() / 1e6 for run in g.runs])

        def plot(path):
            fig, axes = new_figure(len(self.probs), "Final accuracy against bytes on air "
                                                    "(± standard error over seeds)")
            fig.set_figwidth(max(fig.get_figwidth(), 8.4))  # room for the title and legend
            for ax, p in zip(axes, self.probs):
                for g in self.at(p):
                    sent, accuracy = megabytes(g), g.final("mean_acc")
                    ax.errorbar(sent.mean(), accuracy.mean(),
                                yerr=accuracy.sem() if len(accuracy) > 1 else 0,
                                xerr=sent.sem() if len(sent) > 1 else 0, capsize=3, marker="o",
                                **self.style(g))
                ax.set_title(f"p = {p:g}")
                ax.set_xlabel("bytes on air over the run (MB)")
                ax.set_ylabel("final mean client accuracy")
            self.save(fig, path)
        header = ["group", "p", "final mean client accuracy", "bytes on air (MB)"]
        rows = [[g.label, f"{g.link_prob:g}", cell(g.final("mean_acc")),
                 cell(megabytes(g), fmt=".2f")] for g in self.shown]
        return Section("Accuracy against bytes on air", table(header, rows),
                       "accuracy-vs-bytes.png", plot)

    def ablation(self):
        """TAD-LoRA against its no-joint ablation wherever both ran with the same settings."""
        def row(g):
            return ([g.variant, f"{g.link_prob:g}", str(g.interval), cell(g.final("mean_acc"))]
                    + [cell(g.final(column), fmt=".4g") for column, _, _ in CONSENSUS_PANELS])

        rows = []
        for g in self.groups:
            twin = self.twin(g, {"method": "tad-lora-no-joint"})
            if g.method == "tad-lora" and twin:
                rows += [row(twin), row(g)]
        if not rows:
            return Section("Ablation: joint mixing",
                           ["No tad-lora and tad-lora-no-joint runs with the same p and T."])
        header = ["method", "p", "T", "final mean client accuracy", "consensus_A", "consensus_B",
                  "cross_term"]
        return Section("Ablation: joint mixing", table(header, rows))

    def paired_tad_lora(self):
        """The tad-lora groups of the paired table: per variant and p, T = PAIRED_INTERVAL if
        it ran, else the T shown, ordered by p from the largest."""
        tad_lora = [g for g in self.groups if g.method == "tad-lora"]
        at_paired = {(g.variant, g.link_prob) for g in tad_lora if g.interval == PAIRED_INTERVAL}
        return sorted((g for g in tad_lora if g.interval == PAIRED_INTERVAL
                       or ((g.variant, g.link_prob) not in at_paired
                           and g.interval in self.intervals[g.variant])),
                      key=lambda g: -g.link_prob)

    def paired(self):
        """Differences seed by seed: tad-lora against lora and against its no-joint ablation."""
        accuracies = [(column, f"final {title}", ".4f") for column, title in FINAL_COLUMNS]
        consensus = [(column, column, ".4g") for column, _, _ in CONSENSUS_PANELS]
        rows = []
        for g in self.paired_tad_lora():
            lora = self.twin(g, {"method": "lora", "switch-interval": None})
            no_joint = self.twin(g, {"method": "tad-lora-no-joint"})
            for minuend, subtrahend, columns in ((g, lora, accuracies), (g, no_joint, accuracies),
                                                 (no_joint, g, consensus)):
                if not (minuend and subtrahend):
                    continue
                for column, quantity, fmt in columns:
                    values = (minuend.final(column) - subtrahend.final(column)).dropna()
                    if not values.empty:
                        rows.append([f"{minuend.label} − {subtrahend.label}", quantity,
                                     f"{g.link_prob:g}", cell(values, fmt=fmt),
                                     "within error" if within_error(values) else ""])
            tail = cycle_tail([h for h in self.groups if h.variant == g.variant])
            if lora and tail and all(tail <= set(run.rounds["round"]) for run in lora.runs):
                values = (interval_score(g, tail) - interval_score(lora, tail)).dropna()
                rows.append([f"{g.label} − {lora.label}",
                             f"mean client accuracy over the last {len(tail)} rounds",
                             f"{g.link_prob:g}", cell(values),
                             "within error" if within_error(values) else ""])
        if not rows:
            return Section("Paired by seed", ["No tad-lora run has a lora or tad-lora-no-joint "
                                              "run of the same settings and seed."])
        header = ["difference", "quantity", "p", "mean ± standard error", "within error"]
        return Section("Paired by seed", [
            *table(header, rows), "",
            "Each difference is taken seed by seed over the seeds both runs have, at "
            f"T = {PAIRED_INTERVAL} where tad-lora ran with it and at the T shown above "
            "elsewhere, then averaged (mean ± standard error). Consensus differences are "
            "no-joint minus tad-lora: positive means joint mixing makes them smaller. Within "
            "error: |mean| no larger than its standard error, or a single seed."])

    def topology(self):
        """rho per setting, the best T found and the T as good within error, the constant c of
        T = c / sqrt(1 - rho), and each setting's T predicted from the other settings alone."""
        found = []  # (variant, p, rho, how rho was computed, best group, T within error)
        for (variant, p), best in sorted(self.best.items(), key=lambda item: -item[0][1]):
            rhos = [rho for g in self.groups if g.variant == variant and g.link_prob == p
                    for rho in map(rho_of, g.runs) if rho is not None]
            if best.method == "tad-lora" and rhos:
                rho = sum(r["value"] for r in rhos) / len(rhos)
                found.append((variant, p, rho, rhos[0].get("method", "?"), best,
                              self.as_good(best)))
        if not found:
            return Section("Topology and the switching interval",
                           ["No rho in the tad-lora runs swept over T (summary.json): "
                            "no calibration of T = c / sqrt(1 - rho)."])
        constants = [best.interval * math.sqrt(1 - rho) for _, _, rho, _, best, _ in found]
        calibrated = pd.Series(constants).median()
        rows = []
        for k, (variant, p, rho, how, best, good) in enumerate(found):
            others = constants[:k] + constants[k + 1:]
            predicted = auto_interval(pd.Series(others).median(), rho) if others else None
            rows.append([variant, f"{p:g}", f"{rho:.4f} ({how})", str(best.interval),
                         ", ".join(map(str, good)), f"{constants[k]:.3f}",
                         str(auto_interval(calibrated, rho)),
                         "–" if predicted is None else str(predicted)])
        return Section("Topology and the switching interval", [
            *table(["method", "p", "rho", "best T", "T within error", "best T · sqrt(1 - rho)",
                    "T = c / sqrt(1 - rho)", "predicted out of sample"], rows), "",
            f"Calibrated c = {calibrated:.3f} (the median of best T · sqrt(1 - rho)), for "
            "`--switch-interval auto`: T = c / sqrt(1 - rho), rounded, at least 1. T within "
            "error: the T whose mean client accuracy (as best T is chosen), paired by seed "
            "with the best T's, is below it by no more than the difference's standard error. "
            "Predicted out of sample: the T that c calibrated on the other rows alone (their "
            "median) picks."])

    def as_good(self, best):
        """The T of best's variant and p whose interval_score, paired by seed, is within one
        standard error of best's (best's own T included)."""
        tail = cycle_tail([g for g in self.groups if g.variant == best.variant])
        good = []
        for g in self.groups:
            if g.variant == best.variant and g.link_prob == best.link_prob:
                gap = (interval_score(best, tail) - interval_score(g, tail)).dropna()
                if g is best or (len(gap) > 1 and gap.mean() <= gap.sem()):
                    good.append(g.interval)
        return sorted(good)


def whole_cycles(variant, groups, probs):
    """The table of interval_score over whole switching cycles, and each T's last phase;
    nothing without a cycle_tail."""
    tail = cycle_tail(groups)
    if tail is None:
        return []
    end = max(tail)
    rows = [[f"T = {t}", *[next((cell(interval_score(g, tail)) for g in groups
                                 if g.interval == t and g.link_prob == p), "–")
                           for p in probs],
             "B" if (end // t) % 2 == 0 else "A"]
            for t in sorted({g.interval for g in groups})]
    return [f"Mean client accuracy of {variant} over its last {len(tail)} rounds (whole A + B "
            "cycles of every T), and the factor its last round trains:", "",
            *table(["T over whole cycles", *[f"p = {p:g}" for p in probs], "last phase"],
                   rows), ""]


def auto_interval(c, rho):
    """The T that --switch-interval auto picks with constant c (tadlora::AutoSwitchInterval)."""
    return 1000 if rho >= 1 else int(min(1000, max(1, math.floor(c / math.sqrt(1 - rho) + 0.5))))


def rho_of(run):
    """The run's rho ({"value": x, "method": ..., ...}), or None if its summary has none."""
    rho = run.summary.get("rho")
    if rho is None:
        return None
    if not (isinstance(rho, dict) and isinstance(rho.get("value"), (int, float))
            and 0 <= rho["value"] <= 1):
        raise InputError(f"{run.name}/summary.json: rho must be {{\"value\": x in [0, 1], ...}}")
    return rho


def write(sections, preamble, out):
    """Draw the figures and write report.md into a fresh directory, then move them to out."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        lines = list(preamble)
        for section in sections:
            lines += ["", f"## {section.title}", "", *section.lines, ""]
            if section.plot:
                section.plot(staging / section.figure)
                lines.append(f"![{Path(section.figure).stem}]({section.figure})")
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines).strip() + "\n")  # one blank line apart
        (staging / "report.md").write_text(text, encoding="utf-8")
        for path in sorted(staging.iterdir(), key=lambda path: (path.name == "report.md", path)):
            os.replace(path, out / path.name)
            print(out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_report(prog, sections, preamble, out):
    """write(), an unwritable out an exit status of 2 and one line on stderr; the status."""
    try:
        write(sections, preamble, out)
    except OSError as error:
        print(f"{prog}: error: {error.filename or out}: {describe(error)}", file=sys.stderr)
        return 2
    return 0


def main():
    """Find and group the runs, then write the figures and the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="directory holding runs, at any depth")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write (default: RESULTS_DIR/report, of the first)")
    args = parser.parse_args()
    try:
        runs = [load_run(directory) for directory in find_runs(args.results)]
        groups, duplicates = group_runs(runs)
        study = Study(groups)
        sections = [study.accuracy(), study.final(), study.switching(), study.consensus(),
                    study.network(), study.bytes_on_air(), study.ablation(), study.paired(),
                    study.topology()]
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    seeds = sorted({len(g.runs) for g in groups})
    preamble = [
        "# tadlora sweep report",
        "",
        f"Made by `{shlex.join(sys.argv)}`.",
        "",
        f"{len(runs)} runs in {len(groups)} groups of "
        f"{'–'.join(map(str, sorted({seeds[0], seeds[-1]})))} seeds; {duplicates} duplicate "
        "runs (same configuration and seed) counted once. "
        "A group is a configuration without its seed; values are means ± the standard error "
        "of the mean (sample standard deviation / √n) over its seeds, without one for a "
        "single seed.",
    ]
    return write_report(parser.prog, sections, preamble, args.out or args.results[0] / "report")


if __name__ == "__main__":
    sys.exit(main())
