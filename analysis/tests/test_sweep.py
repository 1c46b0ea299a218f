"""scripts/sweep.py: grids, run directories, resuming, Slurm, errors; and one real sweep."""

import hashlib
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
# Stands in for tadlora-sim: finishes a run by writing summary.json, fails seed 3.
STUB_SIM = """#!/usr/bin/python3
import sys
from pathlib import Path
if "--seed=3" in sys.argv:
    sys.exit("stub: boom")
out = Path(sys.argv[sys.argv.index("--out") + 1])
out.mkdir(parents=True)
(out / "summary.json").write_text("{}")
"""
BASE = 'method = "tad-lora"\nswitch-interval = 5\nlink-prob = 0.1\nrounds = 2\n'


def run(*command, **kwargs):
    """Run a program, capturing its output as text."""
    return subprocess.run([*map(str, command)], capture_output=True, text=True, check=False,
                          **kwargs)


def sweep(*arguments):
    """Run sweep.py."""
    return run(PYTHON, REPO / "scripts" / "sweep.py", *arguments)


def parse(line):
    """The grid options (--key=value) and run directory of a listed command."""
    words = shlex.split(line)
    options = dict(word[2:].split("=", 1) for word in words
                   if word.startswith("--") and "=" in word)
    return options, Path(words[words.index("--out") + 1])


class Sweep(unittest.TestCase):
    """sweep.py with a stand-in simulator."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.sim = self.tmp / "sim"
        self.sim.write_text(STUB_SIM, encoding="utf-8")
        self.sim.chmod(0o755)
        self.results = self.tmp / "results"

    def scenario(self, name, sweep_table):
        """A scenario file: BASE and the given [sweep] table."""
        path = self.tmp / name
        path.write_text(f"{BASE}[sweep]\n{sweep_table}\n", encoding="utf-8")
        return path

    def listed(self, *scenarios):
        """The commands of sweep.py --list, parsed, and its status line."""
        result = sweep(*scenarios, "--results", self.results, "--sim", self.sim, "--list")
        self.assertEqual(result.returncode, 0, result.stderr)
        return [parse(line) for line in result.stdout.splitlines()], result.stderr.strip()

    def grid(self):
        """A 2 x 2 x 3 grid."""
        return self.scenario("grid.toml", 'method = ["lora", "tad-lora"]\n'
                                          "link-prob = [0.5, 0.1]\nseed = [1, 2, 3]")

    def test_grid_is_the_product_of_the_axes_in_file_order(self):
        runs, status = self.listed(self.grid())
        self.assertEqual(status, "12 runs, 0 finished, listing 12")
        points = [(o["method"], o["link-prob"], o["seed"]) for o, _ in runs]
        self.assertEqual(points[:4], [("lora", "0.5", "1"), ("lora", "0.5", "2"),
                                      ("lora", "0.5", "3"), ("lora", "0.1", "1")])
        self.assertEqual(points[-1], ("tad-lora", "0.1", "3"))
        self.assertEqual(len(set(points)), 12)
        self.assertEqual(len({directory for _, directory in runs}), 12)

    def test_an_axis_of_tables_sets_its_options_together(self):
        paired = self.scenario("paired.toml", "size = [{ clients = 25, area-m = 143 }, "
                                              "{ clients = 200, area-m = 405 }]\nseed = [1, 2]")
        runs, status = self.listed(paired)
        self.assertEqual(status, "4 runs, 0 finished, listing 4")
        self.assertEqual([(o["clients"], o["area-m"], o["seed"]) for o, _ in runs],
                         [("25", "143", "1"), ("25", "143", "2"), ("200", "405", "1"),
                          ("200", "405", "2")])
        self.assertNotIn("size", runs[0][0])
        config = {"method": "tad-lora", "switch-interval": 5, "link-prob": 0.1, "rounds": 2,
                  "clients": 25, "area-m": 143, "seed": 1}
        digest = hashlib.sha1(json.dumps(config, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()[:10]
        self.assertEqual(runs[0][1], self.results.resolve() / f"tad-lora-{digest}")

    def test_run_directory_is_method_and_hash_of_the_merged_configuration(self):
        runs, _ = self.listed(self.grid())
        config = {"method": "lora", "switch-interval": 5, "link-prob": 0.5, "rounds": 2,
                  "seed": 1}
        digest = hashlib.sha1(json.dumps(config, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()[:10]
        self.assertEqual(runs[0][1], self.results.resolve() / f"lora-{digest}")

    def test_a_point_shared_by_two_scenarios_runs_once(self):
        methods = self.scenario("methods.toml", 'method = ["lora", "tad-lora"]')
        intervals = self.scenario("intervals.toml", "switch-interval = [1, 5]")
        (_, lora), (_, tad_lora) = self.listed(methods)[0]
        (_, t1), (_, t5) = self.listed(intervals)[0]
        self.assertEqual(tad_lora, t5)
        both, status = self.listed(methods, intervals)
        self.assertEqual([directory for _, directory in both], [lora, tad_lora, t1])
        self.assertEqual(status, "3 runs, 0 finished, listing 3")

    def test_finished_runs_are_skipped(self):
        runs, _ = self.listed(self.grid())
        runs[4][1].mkdir(parents=True)
        (runs[4][1] / "summary.json").write_text("{}", encoding="utf-8")
        # A run stopped by a signal kept its partial outputs: it is not finished.
        runs[6][1].mkdir(parents=True)
        (runs[6][1] / "summary.json").write_text('{\n  "complete": false\n}', encoding="utf-8")
        pending, status = self.listed(self.grid())
        self.assertEqual(status, "12 runs, 1 finished, listing 11")
        self.assertEqual(pending, runs[:4] + runs[5:])

    def test_slurm_array_runs_one_line_each_and_skips_finished_runs(self):
        runs, _ = self.listed(self.grid())
        runs[0][1].mkdir(parents=True)
        (runs[0][1] / "summary.json").write_text("{}", encoding="utf-8")
        script = self.tmp / "slurm" / "grid.sbatch"
        result = sweep(self.grid(), "--results", self.results, "--sim", self.sim,
                       "--slurm", script, "--slurm-time", "00:30:00")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"sbatch {script}", result.stdout)
        text = script.read_text(encoding="utf-8")
        self.assertIn("#SBATCH --array=0-10\n", text)
        self.assertIn("#SBATCH --time=00:30:00\n", text)
        lines = (self.tmp / "slurm" / "grid.commands.txt").read_text(encoding="utf-8").splitlines()
        self.assertEqual(len(lines), 11)
        for line, (_, directory) in zip(lines, runs[1:]):
            summary = directory / "summary.json"
            self.assertTrue(line.startswith(
                f"{{ test -f {summary} && ! grep -q '\"complete\": false' {summary}; }} || "),
                line)
        task = run("bash", script, env={**os.environ, "SLURM_ARRAY_TASK_ID": "2"})
        self.assertEqual(task.returncode, 0, task.stderr)
        self.assertTrue((runs[3][1] / "summary.json").is_file())
        self.assertEqual(self.listed(self.grid())[1], "12 runs, 2 finished, listing 10")

    def test_local_sweep_reports_failed_runs_and_resumes(self):
        seeds = self.scenario("seeds.toml", "seed = [1, 2, 3]")
        runs, _ = self.listed(seeds)
        result = sweep(seeds, "--results", self.results, "--sim", self.sim, "--jobs", "2")
        self.assertEqual(result.returncode, 1)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], "3 runs, 0 finished, running 3")
        self.assertEqual(sorted(line.split()[0] for line in lines[1:]),
                         ["[1/3]", "[2/3]", "[3/3]"])
        failed = runs[2][1]
        self.assertIn(f"failed {failed} (exit 1, ", result.stdout)
        log = self.results.resolve() / "logs" / f"{failed.name}.log"
        self.assertIn(f"{failed}: {log}", result.stderr)
        self.assertEqual(log.read_text(encoding="utf-8"), "stub: boom\n")
        self.assertTrue((self.results / "joblog.txt").is_file())
        again = sweep(seeds, "--results", self.results, "--sim", self.sim)
        self.assertEqual(again.returncode, 1)
        self.assertEqual(again.stdout.splitlines()[0], "3 runs, 2 finished, running 1")

    def test_bad_input_exits_2_with_one_line(self):
        bad_tables = {"seed = 3": "seed", "seed = []": "seed", "seed = [[1, 2]]": "seed",
                      "seed = [1, { rounds = 2 }]": "seed: either every value", 'out = ["x"]': "out",
                      "threads = [1, 2]": "threads",
                      "size = [{ clients = 2 }, { area-m = 3 }]": "size: every table",
                      "size = [{}]": "size: a table of options is empty",
                      "size = [{ clients = [2] }]": "size.clients: [2] is not",
                      "size = [{ clients = 2, threads = 1 }]": "size.threads: set by",
                      "seed = [1]\nsize = [{ seed = 2, clients = 3 }]":
                          "size: seed is swept by another axis too"}
        for table, key in bad_tables.items():
            result = sweep(self.scenario("bad.toml", table), "--sim", self.sim, "--list")
            self.assertEqual(result.returncode, 2, table)
            self.assertEqual(result.stdout, "")
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
            self.assertIn(f"[sweep] {key}", result.stderr)
        for arguments in ([self.tmp / "missing.toml", "--sim", self.sim],
                          [self.grid(), "--sim", self.tmp / "no-sim"]):
            result = sweep(*arguments, "--list")
            self.assertEqual(result.returncode, 2)
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("scripts/build.sh", result.stderr)


@unittest.skipUnless(os.environ.get("TADLORA_SIM"), "TADLORA_SIM is unset (ctest sets it)")
class SweepThenReport(unittest.TestCase):
    """The real simulator, two seeds of a tiny run, swept and then reported."""

    def test_sweep_then_report(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        scenario = tmp / "tiny.toml"
        scenario.write_text(
            'method = "lora"\ntask = "synthetic"\nclients = 3\nrounds = 2\nlocal-steps = 1\n'
            f'pretrain-steps = 0\ntest-samples = 100\ncache-dir = "{tmp / "cache"}"\n'
            "[sweep]\nseed = [1, 2]\n", encoding="utf-8")
        results = tmp / "results"
        arguments = [scenario, "--results", results, "--sim", os.environ["TADLORA_SIM"]]
        result = sweep(*arguments, "--jobs", "2")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("[2/2] done", result.stdout)
        self.assertEqual(sweep(*arguments).stdout, "2 runs, 2 finished, running 0\n")
        finals = [json.loads(path.read_text(encoding="utf-8"))["final"]["mean_acc"]
                  for path in sorted(results.glob("*/summary.json"))]
        self.assertEqual(len(finals), 2)
        made = run(PYTHON, REPO / "analysis" / "report.py", results)
        self.assertEqual(made.returncode, 0, made.stderr)
        text = (results / "report" / "report.md").read_text(encoding="utf-8")
        standard_error = statistics.stdev(finals) / math.sqrt(len(finals))
        expected = f"| lora | {statistics.mean(finals):.4f} ± {standard_error:.4f} (2 seeds) |"
        self.assertIn(expected, text.splitlines())


if __name__ == "__main__":
    unittest.main()
