"""Shared fixtures: a temporary project that holds this repo's benchmarks, for pytester runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _pipeline_modules_loaded() -> None:
    """Import torch, diffusers and transformers in this process before any in-process pytester run.

    pytester restores ``sys.modules`` after each in-process run; a torch first imported inside a
    run would be dropped from it, and torch cannot be imported a second time in one process.
    Loading the tiny pipeline once imports every module a run will touch.
    """
    from harness.pipelines import load_inpainter

    load_inpainter("tiny", device="cpu")


@pytest.fixture
def leak_project(pytester: pytest.Pytester, _pipeline_modules_loaded) -> pytest.Pytester:
    """A project with this repo's ``benchmarks/`` and a pyproject.toml that makes it the rootdir."""
    shutil.copytree(REPO / "benchmarks", pytester.path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\n")
    return pytester
