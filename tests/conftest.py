"""Shared fixtures: a temporary project that holds this repo's benchmarks, for pytester runs, and
a read-only folder that a command really cannot write, and tiny random-weight pipelines of every
supported family."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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


class ReadOnlyFolder:
    """A folder to fill, then :meth:`lock`, and :meth:`run` a Python command for which it is
    read-only. Not as root, the lock is ``chmod`` (files 0444, folder 0555). As root (CI runs as
    root) permissions do not bind, so the command runs in its own mount namespace where the
    folder is bind-mounted read-only: a read-only filesystem, as on read-only media."""

    def __init__(self, path: Path):
        self.path = path
        self.as_root = os.geteuid() == 0
        #: the OS error a write into the folder gets
        self.refusal = "Read-only file system" if self.as_root else "Permission denied"

    def lock(self) -> None:
        for child in self.path.rglob("*"):
            child.chmod(0o555 if child.is_dir() else 0o444)
        self.path.chmod(0o555)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, *args]
        if self.as_root:
            if shutil.which("unshare") is None:
                pytest.skip("running as root needs unshare(1) to make a read-only filesystem")
            # cd after mounting: a working folder entered before would still be the writable one
            mount_read_only = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && cd "$0" && exec "$@"'
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount_read_only,
                       str(self.path), *command]
        return subprocess.run(command, capture_output=True, text=True, cwd=self.path)


@pytest.fixture
def read_only_folder():
    """A :class:`ReadOnlyFolder` in a temporary folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="leakage-ro-"))
    yield ReadOnlyFolder(path)
    for child in [path, *path.rglob("*")]:
        child.chmod(0o755 if child.is_dir() else 0o644)
    shutil.rmtree(path)


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
