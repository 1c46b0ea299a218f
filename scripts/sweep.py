#!/usr/bin/python3
"""Run the grid of tadlora-sim runs that scenario files describe, resuming where it stopped.

Usage: scripts/sweep.py SCENARIO [SCENARIO ...] [--results DIR] [--jobs J | --list | --slurm FILE]

A scenario is a tadlora-sim TOML file; its table [sweep] maps option names to lists of values,
and the grid is their cartesian product, taken in file order (the last key varies fastest).
An axis may instead list tables that set several options together, and then its name is only a
label: `size = [{clients = 25, area-m = 143}, {clients = 200, area-m = 405}]` varies the
clients at a constant density, two points, not four.
Every grid point is one run, `tadlora-sim --config SCENARIO --KEY=VALUE ... --out RUN_DIR`,
where RUN_DIR is ROOT/METHOD-HASH: ROOT is --results, else the scenario's `out` (relative to
the repository), else results/SCENARIO_STEM; HASH is the first 10 hex digits of the SHA-1 of
the run's configuration as canonical JSON — the scenario's top-level keys but `out` and
`sweep`, updated with the grid point. So scenario files that share their top-level keys and
ROOT map a grid point they share (say TAD-LoRA at T = 5 in a baselines sweep and in a
switching-interval sweep) to one RUN_DIR, and it is computed once. The runs of several
scenario files are pooled, each RUN_DIR once.

A run is finished when RUN_DIR/summary.json exists (tadlora-sim writes the directory elsewhere
and renames it into place at the end) and does not say "complete": false (a run stopped by
SIGINT or SIGTERM keeps its partial outputs); it is skipped: a sweep resumes where it stopped.
Pending runs go to GNU parallel (default; each run's output in ROOT/logs/RUN.log, the jobs in
ROOT/joblog.txt), to stdout (--list), or to a Slurm job array (--slurm FILE, its commands in
FILE's name with .commands.txt, each skipped if finished meanwhile, so resubmitting is
harmless). Bad input exits with status 2 and one line.
"""

import argparse
import hashlib
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_METHOD = "tad-lora"  # tadlora-sim's
RUNNER_OPTIONS = {"config", "out", "quiet", "threads"}  # this script sets them for every run
SCALAR = (str, int, float, bool)


class InputError(Exception):
    """A scenario file is missing or unreadable, or its grid is malformed."""


@dataclass
class Run:
    """One grid point of a scenario: the options it sets and where its results go."""

    scenario: Path
    options: dict
    directory: Path

    @property
    def finished(self):
        """Whether the run completed (tadlora-sim puts summary.json in place last)."""
        summary = self.directory / "summary.json"
        return summary.is_file() and '"complete": false' not in summary.read_text()

    @property
    def log(self):
        """Where the run's stdout and stderr are kept."""
        return self.directory.parent / "logs" / f"{self.directory.name}.log"

    def command(self, sim, threads):
        """The shell command that runs it."""
        options = [f"--{key}={option_value(value)}" for key, value in self.options.items()]
        return shlex.join([str(sim), "--config", str(self.scenario), *options,
                           "--out", str(self.directory), "--quiet", "--threads", str(threads)])

    def command_unless_finished(self, sim, threads):
        """The command, skipped by the shell if the run has finished meanwhile."""
        summary = shlex.quote(str(self.directory / "summary.json"))
        return (f"{{ test -f {summary} && ! grep -q '\"complete\": false' {summary}; }} || "
                f"{self.command(sim, threads)}")


def option_value(value):
    """A TOML value as tadlora-sim's command line spells it."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def read_scenario(path):
    """The scenario file's table."""
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: {error}") from error


def axis_points(where, key, values):
    """One axis's values, each as the {option: value} it sets."""
    if not isinstance(values, list):
        raise InputError(f"{where}: a list of values is needed, not {values!r}")
    if not values:
        raise InputError(f"{where}: the list of values is empty")
    tables = [isinstance(value, dict) for value in values]
    if any(tables) and not all(tables):
        raise InputError(f"{where}: either every value is a table of options or none is")
    points = values if all(tables) else [{key: value} for value in values]
    for point in points:
        if not point:
            raise InputError(f"{where}: a table of options is empty")
        if point.keys() != points[0].keys():
            raise InputError(f"{where}: every table must set the same options")
        for option, value in point.items():
            at = where if option == key else f"{where}.{option}"
            if not isinstance(value, SCALAR):
                raise InputError(f"{at}: {value!r} is not a string, number or boolean")
            if option in RUNNER_OPTIONS:
                raise InputError(f"{at}: set by the sweep for every run, it cannot be swept")
    return points


def grid(path, scenario):
    """The grid points of a scenario, as {option: value} in file order."""
    axes = scenario.get("sweep", {})
    if not isinstance(axes, dict):
        raise InputError(f"{path}: sweep must be a table [sweep] of option = [values]")
    points, swept = [], set()
    for key, values in axes.items():
        where = f"{path}: [sweep] {key}"
        points.append(axis_points(where, key, values))
        options = points[-1][0].keys()
        if swept & options:
            raise InputError(f"{where}: {min(swept & options)} is swept by another axis too")
        swept |= options
    return [{option: value for part in parts for option, value in part.items()}
            for parts in itertools.product(*points)]


def scenario_runs(path, results):
    """The runs of one scenario file; results overrides its results root."""
    scenario = read_scenario(path)
    points = grid(path, scenario)
    out = scenario.get("out", f"results/{path.stem}")
    if not isinstance(out, str):
        raise InputError(f"{path}: out must be a string, not {out!r}")
    root = Path(results).resolve() if results else (REPO / out).resolve()
    base = {key: value for key, value in scenario.items() if key not in ("out", "sweep")}
    runs = []
    for point in points:
        config = {**base, **point}
        canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha1(canonical.encode()).hexdigest()[:10]
        method = config.get("method", DEFAULT_METHOD)
        runs.append(Run(path.resolve(), point, root / f"{method}-{digest}"))
    return runs


def run_locally(runs, sim, jobs, threads):
    """Run with GNU parallel, one batch per results root, printing a line as each run ends.

    Returns the exit status: 1 if a run did not finish."""
    done = 0
    for root in dict.fromkeys(run.directory.parent for run in runs):
        batch = [run for run in runs if run.directory.parent == root]
        (root / "logs").mkdir(parents=True, exist_ok=True)
        # Each job reports "status seconds index" on stdout, its only output.
        lines = "".join(
            f"start=$(date +%s); {run.command(sim, threads)} > {shlex.quote(str(run.log))} 2>&1; "
            f'rc=$?; echo "$rc $(($(date +%s) - start)) {index}"; exit $rc\n'
            for index, run in enumerate(batch))
        parallel = ["parallel", "--jobs", str(jobs), "--joblog", str(root / "joblog.txt"),
                    "--halt", "never", "--line-buffer"]
        with subprocess.Popen(parallel, cwd=REPO, env={**os.environ, "PARALLEL_SHELL": "/bin/sh"},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
            process.stdin.write(lines)
            process.stdin.close()
            for line in process.stdout:
                status, seconds, index = line.split()
                done += 1
                outcome = "done" if status == "0" else "failed"
                print(f"[{done}/{len(runs)}] {outcome} {batch[int(index)].directory} "
                      f"(exit {status}, {seconds} s)", flush=True)
    failed = [run for run in runs if not run.finished]
    if failed:
        print(f"{len(failed)} of {len(runs)} runs failed; their output:", file=sys.stderr)
        for run in failed:
            print(f"  {run.directory}: {run.log}", file=sys.stderr)
    return 1 if failed else 0


def write_atomically(path, text):
    """Write a file whole or not at all."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_slurm(runs, sim, script, cpus, time_limit):
    """Write a Slurm job-array script and, next to it, its commands, task i on line i + 1."""
    commands = script.with_suffix(".commands.txt")
    for directory in {script.parent} | {run.log.parent for run in runs}:
        directory.mkdir(parents=True, exist_ok=True)
    write_atomically(commands, "".join(
        f"{run.command_unless_finished(sim, cpus)} > {shlex.quote(str(run.log))} 2>&1\n"
        for run in runs))
    write_atomically(script, f"""#!/bin/bash
# tadlora sweep: task i runs line i + 1 of {commands.name}. A finished run is skipped, so
# submitting again only runs what is missing.
#SBATCH --job-name=tadlora-sweep
#SBATCH --array=0-{len(runs) - 1}
#SBATCH --cpus-per-task={cpus}
#SBATCH --time={time_limit}
#SBATCH --output={script.parent}/slurm-%A_%a.out
set -euo pipefail
cd {shlex.quote(str(REPO))}
eval "$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(commands))})"
""")
    print(f"wrote {script} and {commands}; submit with: sbatch {shlex.quote(str(script))}")


def parse_arguments():
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO",
                        help="scenario file (TOML) with a [sweep] table")
    parser.add_argument("--results", metavar="DIR",
                        help="results root (default: the scenario's out, or results/STEM)")
    parser.add_argument("--sim", type=Path, default=REPO / "build" / "tadlora-sim",
                        help="the simulator (default: build/tadlora-sim of the repository)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J",
                        help="runs at a time (each gets cores / J LibTorch threads; default 1)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true",
                      help="print the pending runs' commands, one a line, and exit (run "
                           "them in the repository: scenarios may name files relative to it)")
    mode.add_argument("--slurm", type=Path, metavar="FILE",
                      help="write a Slurm job-array script to FILE, and its commands next to "
                           "it (FILE's name with .commands.txt), instead of running")
    parser.add_argument("--slurm-cpus", type=int, default=2, metavar="N",
                        help="--slurm: CPUs (and LibTorch threads) per run (default 2)")
    parser.add_argument("--slurm-time", default="02:00:00", metavar="TIME",
                        help="--slurm: time limit per run (default 02:00:00)")
    return parser


def main():
    """Expand the grids, then run, list or submit the pending runs."""
    parser = parse_arguments()
    args = parser.parse_args()
    sim = args.sim.resolve()
    try:
        if args.jobs < 1 or args.slurm_cpus < 1:
            raise InputError("--jobs and --slurm-cpus need a positive number")
        if not sim.is_file() or not os.access(sim, os.X_OK):
            raise InputError(f"{sim}: no simulator there (build it: scripts/build.sh)")
        if not (args.list or args.slurm or shutil.which("parallel")):
            raise InputError("GNU parallel is missing (Debian package parallel); "
                             "--list or --slurm need none")
        runs = {}
        for path in args.scenarios:
            for run in scenario_runs(path, args.results):
                runs.setdefault(run.directory, run)
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    pending = [run for run in runs.values() if not run.finished]
    verb = "listing" if args.list else "submitting" if args.slurm else "running"
    print(f"{len(runs)} runs, {len(runs) - len(pending)} finished, {verb} {len(pending)}",
          file=sys.stderr if args.list else sys.stdout, flush=True)
    threads = max(1, len(os.sched_getaffinity(0)) // args.jobs)
    if args.list:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
        for run in pending:
            print(run.command_unless_finished(sim, threads))
        return 0
    if not pending:
        return 0
    if args.slurm:
        try:
            write_slurm(pending, sim, args.slurm.resolve(), args.slurm_cpus, args.slurm_time)
        except OSError as error:
            print(f"{parser.prog}: error: {error.filename}: {error.strerror}", file=sys.stderr)
            return 2
        return 0
    try:
        return run_locally(pending, sim, args.jobs, threads)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; run it again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
