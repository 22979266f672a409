"""Shared fixtures: a temporary project that holds this repo's benchmarks, for pytester runs, and
tiny random-weight pipelines of every supported family."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "tools" / "build_test_pipelines.py"

#: Folder built by tools/build_test_pipelines.py -> (pipeline class it loads as, scheduler it ships).
TEST_FAMILIES = {
    "sd": ("StableDiffusionInpaintPipeline", "PNDMScheduler"),
    "sd-9ch": ("StableDiffusionInpaintPipeline", "PNDMScheduler"),
    "sd-legacy": ("StableDiffusionInpaintPipelineLegacy", "PNDMScheduler"),
    "sdxl": ("StableDiffusionXLInpaintPipeline", "EulerDiscreteScheduler"),
    "sd3": ("StableDiffusion3InpaintPipeline", "FlowMatchEulerDiscreteScheduler"),
    "flux": ("FluxInpaintPipeline", "FlowMatchEulerDiscreteScheduler"),
    "flux-fill": ("FluxFillPipeline", "FlowMatchEulerDiscreteScheduler"),
}


@pytest.fixture(scope="session")
def _pipeline_modules_loaded() -> None:
    """Import torch, diffusers and transformers in this process before any in-process pytester run.

    pytester restores ``sys.modules`` after each in-process run; a torch first imported inside a
    run would be dropped from it, and torch cannot be imported a second time in one process.
    Loading the tiny pipeline once imports every module a run will touch. One torch thread, as
    every leakage session sets (in-process runs set it for this process anyway): small tensors
    on shared cores run several times slower with more.
    """
    import torch

    from harness.pipelines import load_inpainter

    torch.set_num_threads(1)
    load_inpainter("tiny", device="cpu")


@pytest.fixture
def leak_project(pytester: pytest.Pytester, _pipeline_modules_loaded) -> pytest.Pytester:
    """A project with this repo's ``benchmarks/`` and a pyproject.toml that makes it the rootdir."""
    shutil.copytree(REPO / "benchmarks", pytester.path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\n")
    return pytester


@pytest.fixture(scope="session")
def test_pipelines(tmp_path_factory) -> Path:
    """Every family's random-weight folder, built once per session by the tool users run, offline."""
    out = tmp_path_factory.mktemp("test-pipelines")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--out", str(out)], check=True, capture_output=True,
                   text=True, env=env)
    return out


@pytest.fixture(scope="session")
def family_inpainters(test_pipelines, _pipeline_modules_loaded) -> dict:
    """Each test folder loaded once on the CPU (this also imports every family's modules before
    any in-process pytester run)."""
    from harness.pipelines import load_inpainter

    return {name: load_inpainter(str(test_pipelines / name), device="cpu") for name in TEST_FAMILIES}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # a test taking ``family`` runs once per test folder
    if "family" in metafunc.fixturenames:
        metafunc.parametrize("family", list(TEST_FAMILIES))


@pytest.fixture(scope="session")
def family_expectations() -> dict:
    """Folder name -> (pipeline class it loads as, scheduler it ships)."""
    return TEST_FAMILIES
