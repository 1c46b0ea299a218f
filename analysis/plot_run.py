#!/usr/bin/python3
"""Plot and tabulate tadlora-sim runs.

Usage: /usr/bin/python3 analysis/plot_run.py RUN_DIR [RUN_DIR ...] [--out DIR]

Every RUN_DIR is the --out directory of one tadlora-sim run (rounds.csv, network.csv,
summary.json, and messages.csv or links.csv as its --trace-level wrote them: latencies come
from messages.csv, else from links.csv's mean per link). Writes accuracy.png, consensus.png, network.png and report.md into --out
(default: the first RUN_DIR) and prints their paths. A missing or unreadable input exits
with status 2 and one line on stderr, before anything is written.
"""

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DPI = 110
ROUND_COLUMNS = [
    "round", "sim_time_s", "phase", "mean_acc", "std_acc", "avg_model_acc", "mean_loss",
    "consensus_A", "consensus_B", "cross_term", "active_edges", "w_colsum_dev", "msgs_sent",
    "msgs_delivered", "msgs_rejected", "bytes_sent",
]
MESSAGE_COLUMNS = [
    "round", "factor", "sender", "receiver", "message_id", "bytes", "fragments",
    "fragments_received", "sent_time_s", "delivered", "latency_s",
]
LINK_COLUMNS = ["sender", "receiver", "msgs_delivered", "mean_latency_s"]
NETWORK_COLUMNS = [
    "round", "sim_time_s", "round_time_s", "active_edges", "attempted_edges", "confirmed_edges",
    "one_sided_edges",
    "msgs_sent", "msgs_delivered", "fragments_sent", "fragments_lost", "w_colsum_dev",
    "bytes_on_air", "airtime_s", "mean_latency_s",
]
TEXT_COLUMNS = {"phase", "factor", "device"}
NUMBER = (int, float)
SUMMARY_FIELDS = {
    "config.method": str, "config.switch-interval": NUMBER, "config.link-prob": NUMBER,
    "base_acc": NUMBER, "final.mean_acc": NUMBER, "final.std_acc": NUMBER,
    "final.avg_model_acc": NUMBER, "network.delivery_ratio": NUMBER, "sim_time_s": NUMBER,
    "wall_time_s": NUMBER,
}
ALTERNATING = {"rolora", "tad-lora-no-joint", "tad-lora"}
# rolora alternates every round whatever --switch-interval says (DESIGN.md, section 1).
FIXED_INTERVAL = {"rolora": 1}
CONSENSUS_PANELS = [
    ("consensus_A", "consensus distance of A", r"$\frac{1}{m}\sum_i \Vert A_i - \bar A\Vert_F^2$"),
    ("consensus_B", "consensus distance of B", r"$\frac{1}{m}\sum_i \Vert B_i - \bar B\Vert_F^2$"),
    ("cross_term", "cross term", r"$\Vert C_t\Vert_F$ (summed over layers)"),
]


class InputError(Exception):
    """A run directory or one of its files is missing or unreadable."""


@dataclass
class Run:
    """One simulator run: its directory name, summary and traces."""

    name: str
    summary: dict
    rounds: pd.DataFrame
    network: pd.DataFrame
    latencies: pd.DataFrame  # latency_s and weight: per message, or per link's mean
    label: str = ""

    @property
    def method(self):
        """The method's name, e.g. "tad-lora"."""
        return self.summary["config"]["method"]

    @property
    def switch_interval(self):
        """T in effect, or None for methods that don't alternate."""
        if self.method not in ALTERNATING:
            return None
        return FIXED_INTERVAL.get(self.method, self.summary["config"]["switch-interval"])

    @property
    def link_prob(self):
        """p, the probability that a base edge is active in a round."""
        return self.summary["config"]["link-prob"]


def describe(error):
    """An exception's message on one line, without repeating the file name."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split())


def read_csv(path, columns):
    """Read a trace CSV, checking that it has the given columns and that they are numeric."""
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: {describe(error)}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in columns:
        if column not in TEXT_COLUMNS:
            try:
                frame[column] = pd.to_numeric(frame[column])
            except (ValueError, TypeError) as error:
                raise InputError(f"{path}: column {column}: {describe(error)}") from error
    return frame


def read_summary(path):
    """Read summary.json, checking that the values used here are present and typed."""
    try:
        with open(path, encoding="utf-8") as stream:
            summary = json.load(stream)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: {describe(error)}") from error
    for name, kind in SUMMARY_FIELDS.items():
        node = summary
        for key in name.split("."):
            if not isinstance(node, dict) or key not in node:
                raise InputError(f"{path}: missing key {name}")
            node = node[key]
        if not isinstance(node, kind) or isinstance(node, bool):
            raise InputError(f"{path}: {name} has the wrong type ({type(node).__name__})")
    return summary


def load_run(directory):
    """Load one run directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a run directory")
    rounds = read_csv(directory / "rounds.csv", ROUND_COLUMNS)
    if rounds.empty:
        raise InputError(f"{directory / 'rounds.csv'}: no rounds")
    return Run(name=directory.resolve().name,
               summary=read_summary(directory / "summary.json"),
               rounds=rounds,
               network=read_csv(directory / "network.csv", NETWORK_COLUMNS),
               latencies=read_latencies(directory))


def read_latencies(directory):
    """The delivered messages' latencies: each message's (--trace-level full), else each
    link's mean weighted by its delivered messages (links), else none (summary)."""
    if (directory / "messages.csv").exists():
        messages = read_csv(directory / "messages.csv", MESSAGE_COLUMNS)
        delivered = messages.loc[messages["delivered"] == 1, ["latency_s"]]
        return delivered.assign(weight=1.0)
    if (directory / "links.csv").exists():
        links = read_csv(directory / "links.csv", LINK_COLUMNS)
        used = links.loc[links["msgs_delivered"] > 0]
        return pd.DataFrame({"latency_s": used["mean_latency_s"],
                             "weight": used["msgs_delivered"].astype(float)})
    return pd.DataFrame({"latency_s": [], "weight": []})


def label_runs(runs):
    """Give every run a legend label: method, T, p; the directory name if that is ambiguous."""
    for run in runs:
        parts = [run.method]
        if run.switch_interval is not None:
            parts.append(f"T={run.switch_interval}")
        parts.append(f"p={run.link_prob:g}")
        run.label = " ".join(parts)
    labels = [run.label for run in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            run.label += f" ({run.name})"


def save(fig, labels, path, extra_handles=()):
    """Put one legend below the panels (the i-th label in run_style(i)), growing the figure
    for it, and save."""
    handles = [Line2D([], [], label=label, **run_style(i)) for i, label in enumerate(labels)]
    handles += list(extra_handles)
    columns = min(len(handles), 3)
    legend_inches = 0.25 * math.ceil(len(handles) / columns) + 0.1
    fig.set_figheight(fig.get_figheight() + legend_inches)
    fig.legend(handles=handles, loc="lower center", ncol=columns, frameon=False)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def run_style(index):
    """Line colour and style of the index-th run: ten colours, then the next line style."""
    return {"color": f"C{index % 10}", "linestyle": ("-", "-.", ":")[index // 10 % 3]}


def round_axis(ax):
    """Label the x axis as the (integer) round number."""
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def new_figure(panels, title, rows=1):
    """A titled figure with a grid of gridded panels, returned row after row."""
    columns = panels // rows
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.9 * rows), squeeze=False)
    fig.suptitle(title)
    axes = list(axes.flat)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, axes


def plot_band(ax, x, mean, std, style):
    """A line of means, shaded ± std around it."""
    ax.plot(x, mean, **style)
    ax.fill_between(x, mean - std, mean + std, alpha=0.15, color=style["color"])


def plot_accuracy(runs, path):
    """Mean client accuracy (± std over clients) and averaged-model accuracy per round."""
    fig, (clients, averaged) = new_figure(2, "Test accuracy")
    for i, run in enumerate(runs):
        rounds = run.rounds
        plot_band(clients, rounds["round"], rounds["mean_acc"], rounds["std_acc"], run_style(i))
        averaged.plot(rounds["round"], rounds["avg_model_acc"], **run_style(i))
    base_style = {"color": "grey", "linestyle": "--", "linewidth": 1}
    for base in {run.summary["base_acc"] for run in runs}:
        clients.axhline(base, **base_style)
        averaged.axhline(base, **base_style)
    clients.set_title("clients' own models (mean ± std)")
    averaged.set_title("averaged model")
    averaged.sharey(clients)
    for ax in (clients, averaged):
        round_axis(ax)
        ax.set_ylabel("accuracy (fraction correct)")
    base_handle = Line2D([], [], label="frozen base", **base_style)
    save(fig, [run.label for run in runs], path, [base_handle])


def log_scale_if_positive(ax, columns):
    """Put ax on a log scale and leave out the values that are not positive; if none is
    positive anywhere, keep the linear scale and every value. Returns the series to draw."""
    positive = [column.where(column > 0) for column in columns]
    if all(series.isna().all() for series in positive):
        return list(columns)
    ax.set_yscale("log")
    return positive


def never_positive_note(labels, drawn):
    """A title line naming the series left out of a log panel because they are always 0."""
    hidden = [label for label, series in zip(labels, drawn) if series.isna().all()]
    return "\n(not drawn, always 0: " + ", ".join(hidden) + ")" if hidden else ""


def plot_consensus(runs, path):
    """Consensus distances of A and B and the cross term per round, on log axes.

    Zeros (FFA-LoRA never changes A) can't be drawn on a log axis: they are left out, and a
    panel where every run is always 0 is drawn on a linear axis instead.
    """
    fig, axes = new_figure(len(CONSENSUS_PANELS), "Disagreement between clients")
    for ax, (column, title, formula) in zip(axes, CONSENSUS_PANELS):
        values = log_scale_if_positive(ax, [run.rounds[column] for run in runs])
        for i, (run, series) in enumerate(zip(runs, values)):
            ax.plot(run.rounds["round"], series, **run_style(i))
        ax.set_title(title + never_positive_note([run.label for run in runs], values))
        round_axis(ax)
        ax.set_ylabel(formula)
    save(fig, [run.label for run in runs], path)


def plot_network(runs, path):
    """Per round: messages delivered, links mixed on both sides, airtime; latency CDF."""
    fig, (ratio, links, airtime, latency) = new_figure(4, "Gossip network", rows=2)
    for i, run in enumerate(runs):
        net = run.network
        sent = net["msgs_sent"].where(net["msgs_sent"] > 0)
        ratio.plot(net["round"], net["msgs_delivered"] / sent, **run_style(i))
        active = net["active_edges"].where(net["active_edges"] > 0)
        links.plot(net["round"], net["confirmed_edges"] / active, **run_style(i))
        airtime.plot(net["round"], net["airtime_s"], **run_style(i))
        delays = run.latencies.sort_values("latency_s")
        if not delays.empty:
            share = delays["weight"].cumsum() / delays["weight"].sum()
            latency.step(delays["latency_s"] * 1e3, share, where="post", **run_style(i))
    for ax, title, label in (
            (ratio, "factor messages delivered", "delivered / sent (fraction)"),
            (links, "links mixed on both sides", "confirmed / active edges (fraction)")):
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title)
        round_axis(ax)
        ax.set_ylabel(label)
    airtime.set_title("time on the air or the wire, all devices")
    round_axis(airtime)
    airtime.set_ylabel("transmit time per round (s)")
    latency.set_ylim(0, 1.02)
    latency.set_title("latency of delivered messages (CDF)")
    latency.set_xlabel("latency (ms)")
    latency.set_ylabel("fraction of delivered messages")
    save(fig, [run.label for run in runs], path)


def links_mixed(run):
    """Share of the intended links that both ends mixed, over the whole run."""
    active = run.network["active_edges"].sum()
    return "-" if active == 0 else f"{run.network['confirmed_edges'].sum() / active:.3f}"


def write_report(runs, path, figures):
    """A Markdown table of the runs' settings and final results, followed by the figures."""
    lines = [
        "# tadlora runs",
        "",
        "| run | method | T | p | base acc | final acc (mean ± std) | averaged-model acc "
        "| delivery ratio | links mixed | sim time (s) | wall time (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        s = run.summary
        final = s["final"]
        interval = "-" if run.switch_interval is None else run.switch_interval
        lines.append(
            f"| {run.name} | {run.method} | {interval} | {run.link_prob:g} "
            f"| {s['base_acc']:.4f} | {final['mean_acc']:.4f} ± {final['std_acc']:.4f} "
            f"| {final['avg_model_acc']:.4f} | {s['network']['delivery_ratio']:.3f} "
            f"| {links_mixed(run)} | {s['sim_time_s']:.1f} | {s['wall_time_s']:.1f} |")
    for figure in figures:
        lines += ["", f"![{figure.stem}]({figure.name})"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    """Parse the command line, load every run, then write the figures and the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="tadlora-sim --out directory")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: first RUN_DIR)")
    args = parser.parse_args()
    try:
        runs = [load_run(directory) for directory in args.runs]
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    label_runs(runs)
    out = Path(args.out or args.runs[0])
    figures = [out / "accuracy.png", out / "consensus.png", out / "network.png"]
    report = out / "report.md"
    try:
        out.mkdir(parents=True, exist_ok=True)
        for plot, figure in zip((plot_accuracy, plot_consensus, plot_network), figures):
            plot(runs, figure)
            print(figure)
        write_report(runs, report, figures)
    except OSError as error:
        print(f"{parser.prog}: error: {error.filename or out}: {describe(error)}", file=sys.stderr)
        return 2
    print(report)
    return 0

if __name__ == "__main__":
    sys.exit(main())
