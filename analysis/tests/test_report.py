"""analysis/report.py on a results tree of known numbers."""

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ANALYSIS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ANALYSIS))
import pandas as pd  # noqa: E402
from plot_run import MESSAGE_COLUMNS, NETWORK_COLUMNS, ROUND_COLUMNS  # noqa: E402
from report import cell, over_seeds  # noqa: E402

PYTHON = "/usr/bin/python3"
FIGURES = ["accuracy.png", "final-vs-p.png", "accuracy-vs-T.png", "consensus.png",
           "network.png", "accuracy-vs-bytes.png"]
# Final mean client accuracy of seeds 1 and 2, by method, p and T (None: not alternating).
FINAL_ACC = {
    ("tad-lora", 0.5, 1): (0.80, 0.82), ("tad-lora", 0.5, 5): (0.84, 0.88),
    ("tad-lora", 0.1, 1): (0.70, 0.74), ("tad-lora", 0.1, 5): (0.66, 0.70),
    ("tad-lora-no-joint", 0.5, 1): (0.70, 0.72), ("tad-lora-no-joint", 0.5, 5): (0.74, 0.78),
    ("tad-lora-no-joint", 0.1, 1): (0.60, 0.64), ("tad-lora-no-joint", 0.1, 5): (0.56, 0.60),
    ("lora", 0.5, None): (0.78, 0.80), ("lora", 0.1, None): (0.60, 0.64),
}
RHO = {0.5: 0.19, 0.1: 0.64}  # sqrt(1 - rho): 0.9 and 0.6


def write_run(directory, method, p, interval, seed, final_acc, rho=None, evaluated=None,
              **settings):
    """A run's traces and summary: evaluated rounds 0, 5 and 9 ending at final_acc (or the
    evaluated rounds' accuracies, a dict ending at round 9); consensus of A seed / 2
    (tad-lora) or 2 seed (otherwise), of B 1, cross term seed / 10. Settings are more of its
    configuration."""
    directory.mkdir(parents=True)
    consensus_a = seed / 2 if method == "tad-lora" else 2 * seed
    rounds = []
    evaluated = evaluated or {0: 0.1, 5: (0.1 + final_acc) / 2, 9: final_acc}
    for t, acc in evaluated.items():
        values = {"round": t, "sim_time_s": t + 1.0, "phase": "B", "mean_acc": acc,
                  "avg_model_acc": acc + 0.05, "consensus_A": consensus_a, "consensus_B": 1.0,
                  "cross_term": seed / 10}
        rounds.append([values.get(column, 0) for column in ROUND_COLUMNS])
    network = [[{"round": t, "sim_time_s": t + 1.0, "msgs_sent": 10, "msgs_delivered": 9,
                 "mean_latency_s": 0.003, "bytes_on_air": 1000}.get(column, 0)
                for column in NETWORK_COLUMNS] for t in range(10)]
    for name, header, rows in (("rounds.csv", ROUND_COLUMNS, rounds),
                               ("network.csv", NETWORK_COLUMNS, network),
                               ("messages.csv", MESSAGE_COLUMNS, [])):
        lines = [",".join(header)] + [",".join(map(str, row)) for row in rows]
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {"method": method, "link-prob": p, "switch-interval": interval or 5, "seed": seed,
              "clients": 4, "out": str(directory), "threads": 1, "quiet": True, **settings}
    summary = {"config": config, "base_acc": 0.1, "sim_time_s": 10.0, "wall_time_s": 1.0,
               "final": {"mean_acc": final_acc, "std_acc": 0.01, "avg_model_acc": final_acc},
               "network": {"delivery_ratio": 0.9}}
    if rho is not None:
        summary["rho"] = {"value": rho, "method": "exact", "auto_switch_interval": 3}
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (directory / "config.toml").write_text(
        "".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items()),
        encoding="utf-8")


def report(*arguments):
    """Run report.py."""
    return subprocess.run([PYTHON, str(ANALYSIS / "report.py"), *map(str, arguments)],
                          capture_output=True, text=True, check=False)


def markdown_rows(text, first_header):
    """The header and rows of the Markdown table whose first header cell is first_header, each
    a list of cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    end = next((i for i, line in enumerate(lines[start:], start) if not line.startswith("|")),
               len(lines))
    header, _, *rows = [[cell.strip() for cell in line.strip("|").split("|")]
                        for line in lines[start:end]]
    return header, rows


def markdown_table_rows(text, first_header):
    """The rows of the Markdown table whose first header cell is first_header, each as
    {header: cell}."""
    header, rows = markdown_rows(text, first_header)
    return [dict(zip(header, cells)) for cells in rows]


def markdown_table(text, first_header):
    """The rows of the Markdown table whose first header cell is first_header, as
    {first cell: {header: cell}}."""
    header, rows = markdown_rows(text, first_header)
    return {cells[0]: dict(zip(header, cells)) for cells in rows}


class StandardError(unittest.TestCase):
    """Mean ± standard error of the mean, sample std / sqrt(n), on numbers worked by hand."""

    def test_cell_is_mean_and_standard_error(self):
        # Mean 0.72; squared deviations 0.0004 + 0.0001 + 0.0001 = 0.0006; sample variance
        # 0.0006 / 2 = 0.0003; standard error sqrt(0.0003 / 3) = sqrt(0.0001) = 0.01.
        self.assertEqual(cell(pd.Series([0.70, 0.73, 0.73])), "0.7200 ± 0.0100 (3 seeds)")
        # Mean 0.6; squared deviations 3 * 0.01 + 0.09 = 0.12; variance 0.04; sqrt(0.04 / 4).
        self.assertEqual(cell(pd.Series([0.5, 0.5, 0.5, 0.9])), "0.6000 ± 0.1000 (4 seeds)")
        self.assertEqual(cell(pd.Series([0.5])), "0.5000 (1 seed)")

    def test_bands_are_standard_error_by_round(self):
        frames = [pd.DataFrame({"round": [0, 9], "mean_acc": [0.1, acc]})
                  for acc in (0.70, 0.73, 0.73)]
        summary = over_seeds(frames, ["mean_acc"])
        self.assertAlmostEqual(summary.loc[9, ("mean_acc", "mean")], 0.72)
        self.assertAlmostEqual(summary.loc[9, ("mean_acc", "sem")], 0.01)
        self.assertEqual(summary.loc[0, ("mean_acc", "sem")], 0)


class SweepReport(unittest.TestCase):
    """Two methods and the no-joint ablation, p in {0.5, 0.1}, T in {1, 5}, seeds 1 and 2."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp())
        results = cls.tmp / "results"
        for (method, p, interval), accs in FINAL_ACC.items():
            for seed, acc in enumerate(accs, start=1):
                write_run(results / "sweep" / f"{method}-{p}-{interval}-{seed}", method, p,
                          interval, seed, acc, RHO[p])
        # Duplicates: a copy elsewhere, and lora given another T (which it ignores).
        shutil.copytree(results / "sweep" / "tad-lora-0.5-5-1", results / "copy" / "run")
        write_run(results / "other" / "lora-T1", "lora", 0.5, 1, 1, 0.78, RHO[0.5])
        cls.out = cls.tmp / "report"
        cls.result = report(results, "--out", cls.out)
        cls.text = (cls.out / "report.md").read_text(encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_succeeds_and_writes_every_figure(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        for figure in FIGURES:
            self.assertEqual((self.out / figure).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
            self.assertIn(f"![{figure[:-4]}]({figure})", self.text)

    def test_counts_duplicates_once(self):
        self.assertIn("22 runs in 10 groups of 2 seeds; 2 duplicate runs", self.text)

    def test_final_accuracy_is_mean_and_standard_error_over_seeds(self):
        # Two seeds a and b: the standard error is |a - b| / 2.
        table = markdown_table(self.text, "final mean client accuracy")
        self.assertEqual(table["tad-lora T=5"]["p = 0.5"], "0.8600 ± 0.0200 (2 seeds)")
        self.assertEqual(table["tad-lora T=1"]["p = 0.1"], "0.7200 ± 0.0200 (2 seeds)")
        self.assertEqual(table["lora"]["p = 0.5"], "0.7900 ± 0.0100 (2 seeds)")
        self.assertEqual(table["tad-lora-no-joint T=5"]["p = 0.1"], "0.5800 ± 0.0200 (2 seeds)")
        averaged = markdown_table(self.text, "final averaged model")
        self.assertEqual(averaged["tad-lora T=5"]["p = 0.1"], "0.7300 ± 0.0200 (2 seeds)")
        self.assertIn("means ± the standard error of the mean", self.text)

    def test_accuracy_against_bytes_on_air(self):
        # Every run puts 1000 bytes on the air in each of its 10 rounds: 0.01 MB.
        table = {(row["group"], row["p"]): row
                 for row in markdown_table_rows(self.text, "group")}
        row = table[("tad-lora T=5", "0.5")]
        self.assertEqual(row["final mean client accuracy"], "0.8600 ± 0.0200 (2 seeds)")
        self.assertEqual(row["bytes on air (MB)"], "0.01 ± 0.00 (2 seeds)")

    def test_best_interval_per_p(self):
        table = markdown_table(self.text, "final mean client accuracy")
        self.assertEqual(table["tad-lora (best T)"]["p = 0.5"], "0.8600 ± 0.0200 (2 seeds, T=5)")
        self.assertEqual(table["tad-lora (best T)"]["p = 0.1"], "0.7200 ± 0.0200 (2 seeds, T=1)")
        by_interval = markdown_table(self.text, "T")
        self.assertEqual(by_interval["T = 1"]["p = 0.5"], "0.8100 ± 0.0100 (2 seeds)")

    def test_ablation_pairs_joint_and_no_joint_mixing(self):
        lines = [line for line in self.text.splitlines()
                 if line.startswith("| tad-lora") and "| 0.5 | 5 |" in line]
        self.assertEqual(lines, [
            "| tad-lora-no-joint | 0.5 | 5 | 0.7600 ± 0.0200 (2 seeds) | 3 ± 1 (2 seeds) "
            "| 1 ± 0 (2 seeds) | 0.15 ± 0.05 (2 seeds) |",
            "| tad-lora | 0.5 | 5 | 0.8600 ± 0.0200 (2 seeds) | 0.75 ± 0.25 (2 seeds) "
            "| 1 ± 0 (2 seeds) | 0.15 ± 0.05 (2 seeds) |"])

    def test_calibrates_the_switching_constant(self):
        rows = [line for line in self.text.splitlines() if line.startswith("| tad-lora | 0.")
                and "exact" in line]
        # c = median(4.5, 0.6) = 2.55: T = 2.55 / sqrt(0.81) = 2.83 -> 3 and 2.55 / 0.6 -> 4.
        # Out of sample, each row from the other's c alone: 0.6 / 0.9 -> 1 and 4.5 / 0.6 -> 8.
        # The other T trails the best by 0.05 ± 0.01 and 0.04 ± 0: not within error.
        self.assertEqual(rows, ["| tad-lora | 0.5 | 0.1900 (exact) | 5 | 5 | 4.500 | 3 | 1 |",
                                "| tad-lora | 0.1 | 0.6400 (exact) | 1 | 1 | 0.600 | 4 | 8 |"])
        self.assertIn("Calibrated c = 2.550", self.text)


class NarrowReport(unittest.TestCase):
    """One p, four T, no rho; and bad input."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_skips_what_the_data_do_not_support(self):
        for interval in (1, 3, 5, 10):
            write_run(self.tmp / "results" / f"t{interval}", "tad-lora", 0.5, interval, 1, 0.5)
        in_progress = self.tmp / "results" / "t20.partial-123"
        in_progress.mkdir()
        (in_progress / "summary.json").write_text("{", encoding="utf-8")
        result = report(self.tmp / "results")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = self.tmp / "results" / "report"
        self.assertEqual(sorted(path.name for path in out.iterdir()),
                         ["accuracy-vs-T.png", "accuracy-vs-bytes.png", "accuracy.png",
                          "consensus.png", "network.png", "report.md"])
        text = (out / "report.md").read_text(encoding="utf-8")
        self.assertIn("Only one p: no figure against p.", text)
        self.assertIn("No rho in the tad-lora runs swept over T", text)
        # Four T, each once: the median of the tied ones, the lower middle.
        self.assertIn("tad-lora: T = 3 shown of [1, 3, 5, 10]", text)
        table = markdown_table(text, "final mean client accuracy")
        self.assertEqual(list(table), ["tad-lora T=3", "tad-lora (best T)"])
        self.assertEqual(table["tad-lora T=3"]["p = 0.5"], "0.5000 (1 seed)")

    def test_lists_the_intervals_within_error_of_the_best(self):
        # T = 5 is best (0.815), T = 1 trails it by 0.005 ± 0.005 paired by seed, T = 10 by
        # 0.03 ± 0.01.
        for interval, accs in ((1, (0.80, 0.82)), (5, (0.81, 0.82)), (10, (0.79, 0.78))):
            for seed, acc in enumerate(accs, start=1):
                write_run(self.tmp / "results" / f"t{interval}-{seed}", "tad-lora", 0.5,
                          interval, seed, acc, 0.19)
        self.assertEqual(report(self.tmp / "results").returncode, 0)
        text = (self.tmp / "results" / "report" / "report.md").read_text(encoding="utf-8")
        self.assertIn("| tad-lora | 0.5 | 0.1900 (exact) | 5 | 1, 5 | 4.500 | 5 | – |", text)

    def test_averages_whole_switching_cycles_when_every_round_was_evaluated(self):
        # Rounds 0-9, T = 1 and 2: whole A + B cycles of both are the last lcm(2, 4) = 4
        # rounds. T = 2 is best in its last round (phase B: 9 // 2 is even), T = 1 over the
        # cycles, and the best T is chosen over the cycles.
        for seed in (1, 2):
            write_run(self.tmp / "results" / f"t1-{seed}", "tad-lora", 0.5, 1, seed, 0.59,
                      evaluated={t: 0.5 + 0.01 * t for t in range(10)})
            write_run(self.tmp / "results" / f"t2-{seed}", "tad-lora", 0.5, 2, seed, 0.9,
                      evaluated={t: 0.9 if t == 9 else 0.4 for t in range(10)})
            write_run(self.tmp / "results" / f"lora-{seed}", "lora", 0.5, None, seed,
                      0.55 + 0.01 * seed, evaluated={t: 0.55 + 0.01 * seed for t in range(10)})
        self.assertEqual(report(self.tmp / "results").returncode, 0)
        text = (self.tmp / "results" / "report" / "report.md").read_text(encoding="utf-8")
        self.assertIn("over its last 4 rounds (whole A + B cycles of every T)", text)
        self.assertEqual(markdown_rows(text, "T over whole cycles")[1], [
            ["T = 1", "0.5750 ± 0.0000 (2 seeds)", "A"],
            ["T = 2", "0.5250 ± 0.0000 (2 seeds)", "B"]])
        table = markdown_table(text, "final mean client accuracy")
        self.assertEqual(table["tad-lora (best T)"]["p = 0.5"], "0.5900 ± 0.0000 (2 seeds, T=1)")
        # Paired with LoRA over the same 4 rounds: 0.575 - 0.56 and 0.575 - 0.57.
        self.assertIn("| tad-lora T=1 − lora | mean client accuracy over the last 4 rounds | 0.5 "
                      "| 0.0100 ± 0.0050 (2 seeds) |  |", text)

    def test_names_groups_by_the_settings_that_differ(self):
        for clients, acc in ((4, 0.5), (8, 0.6)):
            write_run(self.tmp / "results" / f"c{clients}", "lora", 0.5, None, 1, acc,
                      clients=clients)
        result = report(self.tmp / "results")
        self.assertEqual(result.returncode, 0, result.stderr)
        text = (self.tmp / "results" / "report" / "report.md").read_text(encoding="utf-8")
        table = markdown_table(text, "final mean client accuracy")
        self.assertEqual({label: cells["p = 0.5"] for label, cells in table.items()},
                         {"lora clients=4": "0.5000 (1 seed)", "lora clients=8": "0.6000 (1 seed)"})

    def test_pairs_tad_lora_with_lora_and_no_joint_seed_by_seed(self):
        results = self.tmp / "results"
        runs = [  # method, p, T, {seed: final mean client accuracy}
            # p = 0.5: tad-lora at T = 5 (T = 1 ignored), lora lacks seed 3.
            ("tad-lora", 0.5, 5, {1: 0.80, 2: 0.84, 3: 0.90}),
            ("tad-lora", 0.5, 1, {1: 0.50, 2: 0.50}),
            ("lora", 0.5, None, {1: 0.70, 2: 0.78}),
            ("tad-lora-no-joint", 0.5, 5, {1: 0.77, 2: 0.87, 3: 0.87}),
            # p = 0.1: no T = 5, so the T shown (1); lora has seed 1 only; no no-joint.
            ("tad-lora", 0.1, 1, {1: 0.60, 2: 0.62}),
            ("lora", 0.1, None, {1: 0.50}),
            # p = 0.2: no seed in common, no pair.
            ("tad-lora", 0.2, 5, {3: 0.60}),
            ("lora", 0.2, None, {1: 0.50}),
        ]
        for method, p, interval, accs in runs:
            for seed, acc in accs.items():
                write_run(results / f"{method}-{p}-{interval}-{seed}", method, p, interval, seed,
                          acc)
        result = report(results)
        self.assertEqual(result.returncode, 0, result.stderr)
        text = (results / "report" / "report.md").read_text(encoding="utf-8")
        header, rows = markdown_rows(text, "difference")
        self.assertEqual(header, ["difference", "quantity", "p", "mean ± standard error",
                                  "within error"])
        # tad-lora - lora, seeds 1 and 2: 0.10 and 0.06, mean 0.08, standard error
        # |0.10 - 0.06| / 2 = 0.02; the averaged model is 0.05 above both in rounds.csv.
        # tad-lora - no-joint: 0.03, -0.03, 0.03, mean 0.01; squared deviations 0.0004 +
        # 0.0016 + 0.0004 = 0.0024, variance 0.0012, standard error sqrt(0.0012 / 3) = 0.02.
        # consensus_A, no-joint (2 seed) - tad-lora (seed / 2): 1.5, 3, 4.5, mean 3,
        # variance 2.25, standard error sqrt(2.25 / 3) = 0.866; B and cross term are equal.
        # p = 0.1: one seed, 0.60 - 0.50.
        versus_lora = "tad-lora T=5 − lora"
        versus_no_joint = "tad-lora T=5 − tad-lora-no-joint T=5"
        no_joint_minus = "tad-lora-no-joint T=5 − tad-lora T=5"
        self.assertEqual(rows, [
            [versus_lora, "final mean client accuracy", "0.5", "0.0800 ± 0.0200 (2 seeds)", ""],
            [versus_lora, "final averaged model", "0.5", "0.0800 ± 0.0200 (2 seeds)", ""],
            [versus_no_joint, "final mean client accuracy", "0.5", "0.0100 ± 0.0200 (3 seeds)",
             "within error"],
            [versus_no_joint, "final averaged model", "0.5", "0.0100 ± 0.0200 (3 seeds)",
             "within error"],
            [no_joint_minus, "consensus_A", "0.5", "3 ± 0.866 (3 seeds)", ""],
            [no_joint_minus, "consensus_B", "0.5", "0 ± 0 (3 seeds)", "within error"],
            [no_joint_minus, "cross_term", "0.5", "0 ± 0 (3 seeds)", "within error"],
            ["tad-lora T=1 − lora", "final mean client accuracy", "0.1", "0.1000 (1 seed)",
             "within error"],
            ["tad-lora T=1 − lora", "final averaged model", "0.1", "0.1000 (1 seed)",
             "within error"],
        ])

    def test_bad_input_exits_2_with_one_line_and_writes_nothing(self):
        write_run(self.tmp / "results" / "run", "lora", 0.5, None, 1, 0.5)
        (self.tmp / "results" / "broken").mkdir()
        (self.tmp / "results" / "broken" / "summary.json").write_text("{", encoding="utf-8")
        for arguments in ([self.tmp / "missing"], [self.tmp / "results"]):
            result = report(*arguments, "--out", self.tmp / "report")
            self.assertEqual(result.returncode, 2)
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
            self.assertFalse((self.tmp / "report").exists())


if __name__ == "__main__":
    unittest.main()
