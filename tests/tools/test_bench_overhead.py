"""tools/bench_overhead.py runs end to end on a tiny configuration: it records the harness's
calls, replays them byte for byte in a bare diffusers loop, and prints a ratio. (It times
nothing here: a benchmark's figures come from running it, not from the test suite.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench_overhead.py"


def test_bench_overhead_replays_the_harness_calls_and_prints_a_ratio():
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--pairs", "1", "--artifacts", "none", "--report", "off", "--",
         "-k", "test_floor or (test_strength and s1.00)", "--leak-images", "coffee", "--leak-max-side", "32",
         "--leak-steps", "2"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bare loop: 2 calls, outputs checked byte for byte: {'roundtrip': 1, 'inpaint': 1}, mismatches: 0" in run.stdout
    assert re.search(r"harness / bare: median \d+\.\d{3}x \(min \d+\.\d{3}, max \d+\.\d{3}\) over 1 pairs", run.stdout)


def test_bench_overhead_refuses_zero_pairs():
    run = subprocess.run([sys.executable, str(SCRIPT), "--pairs", "0"], capture_output=True, text=True)
    assert run.returncode == 2 and "--pairs must be at least 1" in run.stderr
