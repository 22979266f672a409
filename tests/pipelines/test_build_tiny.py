"""``tools/build_tiny_pipelines.py`` still builds loadable pipelines shaped like the embedded ones.

A two-step dry run (about 30 s of CPU time): the embedded folders were written by the full
run of the same script, so every file except the weights, the VAE's data-derived scaling factor
and the training records must come out identical — bar the library versions that
diffusers and transformers stamp into their configs, which follow the installed versions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.pipelines import load_inpainter
from harness.pipelines.source import embedded_folder

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "build_tiny_pipelines.py"
DIFFERENT = {"vae/config.json", "vae/training.json", "unet/training.json"}


def _build(out: Path) -> Path:
    command = [sys.executable, str(SCRIPT), "--vae-steps", "2", "--unet-steps", "2", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("built"))


def test_the_same_flags_build_the_same_bytes(dry_run, tmp_path):
    """Every file but the training records (which hold timings) is identical in a second build."""
    again = _build(tmp_path)
    files = sorted(path.relative_to(dry_run) for path in dry_run.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(again) for path in again.rglob("*") if path.is_file())
    weights = [f for f in files if f.suffix == ".safetensors"]
    assert len(weights) == 6  # vae, unet and text encoder of both pipelines
    for relative in files:
        if relative.name != "training.json":
            assert (dry_run / relative).read_bytes() == (again / relative).read_bytes(), relative
    for name in ("tiny/vae/training.json", "tiny-9ch/unet/training.json"):
        first, second = (json.loads((root / name).read_text()) for root in (dry_run, again))
        timings = ("seconds", "cpu_seconds")
        assert {k: v for k, v in first.items() if k not in timings} == {
            k: v for k, v in second.items() if k not in timings}


@pytest.mark.parametrize("name", ["tiny", "tiny-9ch"])
def test_dry_run_matches_the_embedded_layout_and_configs(dry_run, name):
    built, embedded = dry_run / name, embedded_folder(name)
    files = sorted(path.relative_to(built).as_posix() for path in built.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(embedded).as_posix() for path in embedded.rglob("*") if path.is_file())
    for relative in files:
        if relative.endswith(".txt"):
            assert (built / relative).read_bytes() == (embedded / relative).read_bytes(), relative
        elif relative.endswith(".json") and relative not in DIFFERENT:
            assert _unversioned(built / relative) == _unversioned(embedded / relative), relative
    record = json.loads((built / "vae" / "training.json").read_text())
    assert record["steps"] == 2 and record["held_out"] == ["coffee", "rocket", "meadow"]
    assert record["threads"] == 1 and record["cpu_seconds"] > 0 and "coffee" not in record["training_images"]


def _unversioned(path: Path) -> dict:
    """A config without the ``*_version`` stamps of the libraries that wrote it."""
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith("_version")}


def test_dry_run_output_loads_and_inpaints(dry_run):
    inpainter = load_inpainter(str(dry_run / "tiny"), device="cpu")
    image = np.zeros((32, 48, 3), np.uint8)
    mask = np.zeros((32, 48), bool)
    mask[8:24, 16:32] = True
    assert inpainter.inpaint(image, mask, strength=1.0, seed=0, steps=2).shape == (32, 48, 3)


@pytest.mark.parametrize("flag", ["--vae-steps", "--threads"])
def test_bad_counts_are_refused(flag):
    result = subprocess.run([sys.executable, str(SCRIPT), flag, "0"], capture_output=True, text=True)
    assert result.returncode == 2 and f"{flag} must be >= 1, got 0" in result.stderr
