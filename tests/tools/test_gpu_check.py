"""tools/gpu_check.py runs on the CPU with shrunk components (its CUDA path needs a GPU), and
refuses bad arguments with one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_gpu_check_runs_the_smoke_cases_batched_and_unbatched_on_a_cpu():
    run = _run("--device", "cpu", "--tiny", "--size", "64", "--steps", "2", "--limit", "5", "--batch", "4",
               "--threads", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tiny random inpainting pipeline" in run.stdout and "64x64, 2 steps, 5 smoke cases" in run.stdout
    assert re.search(r"^batch 1: 5 cases in [\d.]+ s: [\d.]+ cases/s$", run.stdout, re.M)
    assert re.search(r"^batch 4: 5 cases in [\d.]+ s: [\d.]+ cases/s$", run.stdout, re.M)
    assert re.search(r"^batch 4 / batch 1: [\d.]+x$", run.stdout, re.M)


def test_the_batches_share_one_strength_each():
    sys.path.insert(0, str(SCRIPT.parent))
    from gpu_check import batches

    cases = [("img", "mask", strength, 0) for strength in (0.1, 0.5, 0.1, 0.1, 0.5, 0.1)]
    groups = batches(cases, 3)
    assert [[c[2] for c in group] for group in groups] == [[0.1, 0.1, 0.1], [0.1], [0.5, 0.5]]


def test_a_size_that_is_not_a_multiple_of_8_is_refused():
    run = _run("--device", "cpu", "--tiny", "--size", "60")
    assert run.returncode == 2 and "--size 60 must be a positive multiple of 8" in run.stderr


def test_cuda_without_a_gpu_is_refused_with_the_cpu_alternative():
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the CUDA path would run the full-size check")
    run = _run("--device", "cuda")
    assert run.returncode == 2 and "sees no CUDA device; use --device cpu --tiny" in run.stderr
