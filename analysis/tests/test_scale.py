"""analysis/scale.py on runs of known costs."""

import json
import subprocess
import tempfile
import unittest
from pathlib import Path

SCALE = Path(__file__).resolve().parents[1] / "scale.py"
PYTHON = "/usr/bin/python3"


def write_summary(directory, clients, rounds, train, ns3, complete=True):
    """A run of `clients` clients over `rounds` rounds with the given seconds of training and
    of ns-3 (evaluation 1 s, exchange 0), set-up 0.5 s, 100 MB per 100 clients."""
    directory.mkdir(parents=True)
    summary = {"complete": complete, "config": {"clients": clients},
               "final": {"round": rounds - 1}, "max_rss_mb": clients,
               "network": {"model": f"p2p core: {clients} access links"},
               "wall_breakdown_s": {"setup": 0.5, "train": train, "evaluate": 1.0,
                                    "exchange": 0.0, "ns3": ns3}}
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


class ScaleTest(unittest.TestCase):
    def run_scale(self, *arguments):
        return subprocess.run([PYTHON, str(SCALE), *map(str, arguments)], capture_output=True,
                              text=True, check=False)

    def test_costs_per_client_round_and_their_ratio_to_the_smallest_size(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "runs"
            # 10 clients x 10 rounds: (8 + 1 + 0 + 1) s / 100 = 100 ms per client-round;
            # 50 x 10: (40 + 1 + 0 + 19) s / 500 = 120 ms.
            write_summary(root / "a", 10, 10, train=8.0, ns3=1.0)
            write_summary(root / "b", 50, 10, train=40.0, ns3=19.0)
            result = self.run_scale(root, "--out", Path(tmp) / "out")
            self.assertEqual(result.returncode, 0, result.stderr)
            table = (Path(tmp) / "out" / "scale.md").read_text(encoding="utf-8").splitlines()
            self.assertEqual(table[2], "| 10 | 0.50 | 80.00 | 10.00 | 0.00 | 10.00 | 100.00 | "
                                       "1.00 | 10 |")
            self.assertEqual(table[3], "| 50 | 0.50 | 80.00 | 2.00 | 0.00 | 38.00 | 120.00 | "
                                       "1.20 | 50 |")
            self.assertTrue((Path(tmp) / "out" / "scale.png").stat().st_size > 1000)

    def test_an_unfinished_run_or_no_run_is_refused_with_status_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(Path(tmp) / "stopped", 10, 3, train=1.0, ns3=1.0, complete=False)
            result = self.run_scale(Path(tmp), "--out", Path(tmp) / "out")
            self.assertEqual(result.returncode, 2)
            self.assertIn("did not complete", result.stderr)
            self.assertEqual(result.stderr.count("\n"), 1)
            self.assertFalse((Path(tmp) / "out").exists())
            result = self.run_scale(Path(tmp) / "nothing")
            self.assertEqual(result.returncode, 2)
            self.assertIn("no run directory", result.stderr)


if __name__ == "__main__":
    unittest.main()
