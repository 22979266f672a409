"""Machine and commit info: versions without importing, the CPU, git's commit and dirty flag."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version

import pytest

from harness import machine


def test_machine_info_has_versions_cpu_and_no_commit_outside_git(tmp_path):
    info = machine.machine_info(tmp_path)
    assert info["numpy"] == version("numpy") and info["Pillow"] == version("Pillow")
    assert info["diffusers"] == version("diffusers") and info["torch"] == version("torch")
    assert info["python"].count(".") == 2 and info["cpu"] and info["cpu_count"] >= 1
    assert info["git_commit"] is None and "git_dirty" not in info


def test_not_a_git_repository_is_decided_without_running_git(tmp_path, monkeypatch):
    monkeypatch.setattr(machine.subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    assert machine.git_commit(tmp_path) == {"git_commit": None}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_commit_and_dirty_flag_of_a_git_work_tree(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("a run's output")
    (tmp_path / "sub").mkdir()
    assert machine.git_commit(tmp_path / "sub") == {"git_commit": head, "git_dirty": False}
    (tmp_path / "a.txt").write_text("two")
    assert machine.git_commit(tmp_path) == {"git_commit": head, "git_dirty": True}


def test_a_broken_git_is_quiet(tmp_path, monkeypatch, capfd):
    (tmp_path / ".git").mkdir()  # looks like a repository, is not one
    assert machine.git_commit(tmp_path) == {"git_commit": None}
    assert capfd.readouterr() == ("", "")


def test_gpus_come_from_nvidia_smi_when_present(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 565.57.01'\necho 'NVIDIA H200, 565.57.01'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert machine.nvidia_gpus() == (["NVIDIA H200", "NVIDIA H200"], "565.57.01")
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert machine.nvidia_gpus() == ([], None)


def test_device_info_is_empty_on_the_cpu():
    assert machine.device_info("cpu") == {}
