"""What a run ran on: Python and library versions, CPU and GPU, and the project's git commit.

The counterpart of pytest-benchmark's ``machine_info`` / ``commit_info``, recorded with every run
so that the gate and the history can say what changed besides the pipeline. Nothing here imports
torch: versions come from the installed distributions' metadata, GPUs from ``nvidia-smi`` (or
from torch where the pipeline already loaded it, see :func:`device_info`).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["PACKAGES", "machine_info", "device_info", "cpu_model", "nvidia_gpus", "git_commit"]

#: Distributions whose versions change what a run computes.
PACKAGES = ("numpy", "Pillow", "torch", "diffusers", "transformers")
_TIMEOUT = 10  # seconds for one git or nvidia-smi call; they normally take milliseconds


def machine_info(root: str | os.PathLike) -> dict:
    """The machine and commit info of a run of the project at ``root`` (JSON-ready, flat)."""
    info = {"python": platform.python_version(), "python_implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count()}
    info.update({name: _version(name) for name in PACKAGES})
    gpus, driver = nvidia_gpus()
    if gpus:
        info.update(gpu=", ".join(gpus), gpu_driver=driver)
    info.update(git_commit(Path(root)))
    return info


def device_info(device: str) -> dict:
    """The GPU a pipeline runs on and the CUDA torch was built with; empty on the CPU.

    Called where the pipeline is loaded, so torch is imported already.
    """
    if not str(device).startswith("cuda"):
        return {}
    import torch

    index = torch.device(device).index or 0
    return {"gpu": torch.cuda.get_device_name(index), "cuda": torch.version.cuda,
            "gpu_capability": ".".join(map(str, torch.cuda.get_device_capability(index)))}


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                    return value.strip()
    except OSError:
        pass  # not Linux: platform's answer below
    return platform.processor() or platform.machine() or "unknown"


def nvidia_gpus() -> tuple[list[str], str | None]:
    """GPU names and the driver version from ``nvidia-smi``; ``([], None)`` without it."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], None
    output = _run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"])
    rows = [[part.strip() for part in line.split(",")] for line in (output or "").splitlines() if "," in line]
    return [row[0] for row in rows], (rows[0][1] if rows else None)


def git_commit(root: Path) -> dict:
    """``{"git_commit": sha, "git_dirty": bool}`` of the git work tree holding ``root``;
    ``{"git_commit": None}`` when it is not in one (checked without running git) or git fails."""
    if not any((folder / ".git").exists() for folder in (root, *root.parents)):
        return {"git_commit": None}
    git = shutil.which("git")
    commit = _run([git, "-C", str(root), "rev-parse", "HEAD"]) if git else None
    if not commit:
        return {"git_commit": None}
    # tracked files only: a run's own outputs (reports/) are untracked and make nothing dirty
    status = _run([git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return {"git_commit": commit.strip(), "git_dirty": bool(status and status.strip())}


def _run(command: list[str]) -> str | None:
    """A command's stdout, or ``None`` when it fails; quiet either way (its stderr is dropped)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT, check=False,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None

