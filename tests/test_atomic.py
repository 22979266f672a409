"""Atomic writes: a failure while writing leaves the old file and no temporary file."""

from __future__ import annotations

import os
import stat

import pytest

from harness.atomic import atomic_path, write_atomic


def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "report.html"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_a_failure_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "baseline.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new cont")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = write_atomic(tmp_path / "fresh.txt", "x")
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o640)
        write_atomic(kept, "y")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
