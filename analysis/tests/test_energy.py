"""analysis/energy.py on runs of known numbers."""

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from test_report import ANALYSIS, PYTHON, markdown_table, write_run  # noqa: E402

ENERGY_HEADER = "round,client,device,train_s,compute_j,radio_tx_j,radio_rx_j,radio_idle_j"


def write_energy(directory, rounds, clients, joules):
    """energy.csv: every client draws the same joules (compute, tx, rx, idle) each round."""
    rows = [f"{t},{i},rpi4,0.2,{','.join(map(str, joules))}"
            for t in range(rounds) for i in range(clients)]
    (directory / "energy.csv").write_text("\n".join([ENERGY_HEADER, *rows]) + "\n",
                                          encoding="utf-8")


def energy_report(*arguments):
    """Run energy.py."""
    return subprocess.run([PYTHON, str(ANALYSIS / "energy.py"), *map(str, arguments)],
                          capture_output=True, text=True, check=False)


class EnergyToTarget(unittest.TestCase):
    """T = 1 reaches 0.75 at round 5 in both seeds, T = 5 at round 5 (seed 1) and never (seed
    2): joules per client to the end of round 5 are 6 rounds x the round's joules."""

    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="tadlora-energy-"))
        self.addCleanup(shutil.rmtree, self.root)
        for interval, seed, final, joules in ((1, 1, 0.80, (1, 0.1, 0.2, 2)),
                                              (1, 2, 0.80, (1, 0.1, 0.2, 3)),
                                              (5, 1, 0.76, (1, 0.1, 0.2, 2)),
                                              (5, 2, 0.74, (1, 0.1, 0.2, 2))):
            run = self.root / f"t{interval}-s{seed}"
            # evaluated rounds 0, 5, 9: 0.1, then 0.75 at round 5 when final >= 0.75
            write_run(run, "tad-lora", 0.5, interval, seed, final,
                      evaluated={0: 0.1, 5: 0.75 if final >= 0.75 else 0.7, 9: final})
            write_energy(run, 10, 4, joules)

    def test_joules_per_client_to_the_target(self):
        result = energy_report(self.root, "--out", self.root / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        text = (self.root / "out" / "report.md").read_text(encoding="utf-8")
        rows = markdown_table(text, "group")
        t1, t5 = rows["switch-interval 1"], rows["switch-interval 5"]
        self.assertEqual(t1["reached"], "2/2")
        self.assertEqual(t1["rounds"], "6.0 ± 0.0 (2 seeds)")
        self.assertEqual(t1["compute (J)"], "6.00 ± 0.00 (2 seeds)")
        # idle: 6 x 2 and 6 x 3 -> 15 ± 3; total 6 x 3.3 and 6 x 4.3 -> 22.8 ± 3
        self.assertEqual(t1["radio idle (J)"], "15.00 ± 3.00 (2 seeds)")
        self.assertEqual(t1["total (J)"], "22.80 ± 3.00 (2 seeds)")
        self.assertEqual(t5["reached"], "1/2")
        self.assertEqual(t5["total (J)"], "19.80 (1 seed)")
        self.assertTrue((self.root / "out" / "energy-to-target.png").exists())

    def test_a_target_out_of_range_is_refused(self):
        result = energy_report(self.root, "--target-acc", "1.5")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--target-acc: 1.5 is not in (0, 1]", result.stderr)


class Devices(unittest.TestCase):
    """Two device mixes, two seeds each: accuracy, missed exchanges per client-round (missed /
    (4 clients x 10 rounds)) and round time from summary.json."""

    def test_mixes_are_tabled(self):
        root = Path(tempfile.mkdtemp(prefix="tadlora-devices-"))
        self.addCleanup(shutil.rmtree, root)
        for profile, seed, final, missed in (("laptop", 1, 0.80, 0), ("laptop", 2, 0.82, 0),
                                             ("mix:laptop=0.5,rpi4=0.5", 1, 0.70, 20),
                                             ("mix:laptop=0.5,rpi4=0.5", 2, 0.74, 16)):
            run = root / f"{profile}-{seed}"
            write_run(run, "tad-lora", 0.1, 5, seed, final, **{"device-profile": profile})
            summary_path = run / "summary.json"
            summary = summary_path.read_text(encoding="utf-8")
            summary = summary.replace('"network": {"delivery_ratio": 0.9}',
                                      f'"network": {{"delivery_ratio": 0.9, "missed_exchanges": '
                                      f'{missed}, "mean_round_time_s": 1.5}}')
            summary = summary.replace('"avg_model_acc": ', '"round": 9, "avg_model_acc": ')
            summary_path.write_text(summary, encoding="utf-8")
        result = energy_report(root, "--out", root / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = markdown_table((root / "out" / "report.md").read_text(encoding="utf-8"),
                              "device profile")
        self.assertEqual(rows["laptop"]["missed per client-round"], "0.000 ± 0.000 (2 seeds)")
        mix = rows["mix:laptop=0.5,rpi4=0.5"]
        self.assertEqual(mix["final mean client accuracy"], "0.7200 ± 0.0200 (2 seeds)")
        self.assertEqual(mix["missed per client-round"], "0.450 ± 0.050 (2 seeds)")
        self.assertTrue((root / "out" / "devices.png").exists())


if __name__ == "__main__":
    unittest.main()
