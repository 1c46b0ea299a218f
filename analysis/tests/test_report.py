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
from plot_run import MESSAGE_COLUMNS, NETWORK_COLUMNS, ROUND_COLUMNS  # noqa: E402

PYTHON = "/usr/bin/python3"
FIGURES = ["accuracy.png", "final-vs-p.png", "accuracy-vs-T.png", "consensus.png",
           "network.png"]
# Final mean client accuracy of seeds 1 and 2, by method, p and T (None: not alternating).
FINAL_ACC = {
    ("tad-lora", 0.5, 1): (0.80, 0.82), ("tad-lora", 0.5, 5): (0.84, 0.88),
    ("tad-lora", 0.1, 1): (0.70, 0.74), ("tad-lora", 0.1, 5): (0.66, 0.70),
    ("tad-lora-no-joint", 0.5, 1): (0.70, 0.72), ("tad-lora-no-joint", 0.5, 5): (0.74, 0.78),
    ("tad-lora-no-joint", 0.1, 1): (0.60, 0.64), ("tad-lora-no-joint", 0.1, 5): (0.56, 0.60),
    ("lora", 0.5, None): (0.78, 0.80), ("lora", 0.1, None): (0.60, 0.64),
}
RHO = {0.5: 0.19, 0.1: 0.64}  # sqrt(1 - rho): 0.9 and 0.6


def write_run(directory, method, p, interval, seed, final_acc, rho=None, **settings):
    """A run's traces and summary: evaluated rounds 0, 5 and 9 ending at final_acc; consensus
    of A seed / 2 (tad-lora) or 2 seed (otherwise), of B 1, cross term seed / 10. Settings
    are more of its configuration."""
    directory.mkdir(parents=True)
    consensus_a = seed / 2 if method == "tad-lora" else 2 * seed
    rounds = []
    for t, acc in ((0, 0.1), (5, (0.1 + final_acc) / 2), (9, final_acc)):
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


def markdown_table(text, first_header):
    """The rows of the Markdown table whose first header cell is first_header, as
    {first cell: {header: cell}}."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


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

    def test_final_accuracy_is_mean_and_sample_std_over_seeds(self):
        table = markdown_table(self.text, "final mean client accuracy")
        self.assertEqual(table["tad-lora T=5"]["p = 0.5"], "0.8600 ± 0.0283 (2 seeds)")
        self.assertEqual(table["tad-lora T=1"]["p = 0.1"], "0.7200 ± 0.0283 (2 seeds)")
        self.assertEqual(table["lora"]["p = 0.5"], "0.7900 ± 0.0141 (2 seeds)")
        self.assertEqual(table["tad-lora-no-joint T=5"]["p = 0.1"], "0.5800 ± 0.0283 (2 seeds)")
        averaged = markdown_table(self.text, "final averaged model")
        self.assertEqual(averaged["tad-lora T=5"]["p = 0.1"], "0.7300 ± 0.0283 (2 seeds)")

    def test_best_interval_per_p(self):
        table = markdown_table(self.text, "final mean client accuracy")
        self.assertEqual(table["tad-lora (best T)"]["p = 0.5"], "0.8600 ± 0.0283 (2 seeds, T=5)")
        self.assertEqual(table["tad-lora (best T)"]["p = 0.1"], "0.7200 ± 0.0283 (2 seeds, T=1)")
        by_interval = markdown_table(self.text, "T")
        self.assertEqual(by_interval["T = 1"]["p = 0.5"], "0.8100 ± 0.0141 (2 seeds)")

    def test_ablation_pairs_joint_and_no_joint_mixing(self):
        lines = [line for line in self.text.splitlines()
                 if line.startswith("| tad-lora") and "| 0.5 | 5 |" in line]
        self.assertEqual(lines, [
            "| tad-lora-no-joint | 0.5 | 5 | 0.7600 ± 0.0283 (2 seeds) | 3 ± 1.414 (2 seeds) "
            "| 1 ± 0 (2 seeds) | 0.15 ± 0.07071 (2 seeds) |",
            "| tad-lora | 0.5 | 5 | 0.8600 ± 0.0283 (2 seeds) | 0.75 ± 0.3536 (2 seeds) "
            "| 1 ± 0 (2 seeds) | 0.15 ± 0.07071 (2 seeds) |"])

    def test_calibrates_the_switching_constant(self):
        rows = [line for line in self.text.splitlines() if line.startswith("| tad-lora | 0.")
                and "exact" in line]
        # c = median(4.5, 0.6) = 2.55: T = 2.55 / sqrt(0.81) = 2.83 -> 3 and 2.55 / 0.6 -> 4.
        self.assertEqual(rows, ["| tad-lora | 0.5 | 0.1900 (exact) | 5 | 4.500 | 3 |",
                                "| tad-lora | 0.1 | 0.6400 (exact) | 1 | 0.600 | 4 |"])
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
                         ["accuracy-vs-T.png", "accuracy.png", "consensus.png", "network.png",
                          "report.md"])
        text = (out / "report.md").read_text(encoding="utf-8")
        self.assertIn("Only one p: no figure against p.", text)
        self.assertIn("No rho in the tad-lora runs swept over T", text)
        # Four T, each once: the median of the tied ones, the lower middle.
        self.assertIn("tad-lora: T = 3 shown of [1, 3, 5, 10]", text)
        table = markdown_table(text, "final mean client accuracy")
        self.assertEqual(list(table), ["tad-lora T=3", "tad-lora (best T)"])
        self.assertEqual(table["tad-lora T=3"]["p = 0.5"], "0.5000 (1 seed)")

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
