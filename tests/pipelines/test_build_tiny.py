"""``tools/build_tiny_pipelines.py`` still builds loadable pipelines shaped like the embedded ones.

A one-step dry run (about 15 s on two CPU cores): the embedded folders were written by the full
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


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    command = [sys.executable, str(SCRIPT), "--vae-steps", "1", "--unet-steps", "1", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    return out


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
    assert record["steps"] == 1 and record["held_out"] == ["coffee", "rocket", "meadow"]


def _unversioned(path: Path) -> dict:
    """A config without the ``*_version`` stamps of the libraries that wrote it."""
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith("_version")}


def test_dry_run_output_loads_and_inpaints(dry_run):
    inpainter = load_inpainter(str(dry_run / "tiny"), device="cpu")
    image = np.zeros((32, 48, 3), np.uint8)
    mask = np.zeros((32, 48), bool)
    mask[8:24, 16:32] = True
    assert inpainter.inpaint(image, mask, strength=1.0, seed=0, steps=2).shape == (32, 48, 3)


def test_bad_step_counts_are_refused():
    result = subprocess.run([sys.executable, str(SCRIPT), "--vae-steps", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and "--vae-steps must be >= 1, got 0" in result.stderr
