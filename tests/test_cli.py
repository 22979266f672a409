"""The ``leakage`` command on a small store written here."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pandas as pd
import pytest

from harness.cli import main
from harness.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "reports" / "leakage.sqlite")
    for run_id, mse in (("20260101-000000-aaaaaa", 10.0), ("20260102-000000-bbbbbb", 20.0)):
        store.start_run(run_id, name="nightly", preset="smoke", options={"steps": 10})
        for case in ("coffee-s0.50-r0.80-seed0", "coffee-s1.00-r0.80-seed0"):
            store.add_result(run_id, {"experiment": "strength", "case_id": case, "status": "passed",
                                      "mse_outside": mse, "seconds": 0.5})
        store.finish_run(run_id, "passed")
    return store


def test_runs_lists_every_run(store, capsys):
    assert main(["--store", str(store.path), "runs"]) == 0
    out = capsys.readouterr().out
    assert "20260101-000000-aaaaaa" in out and "20260102-000000-bbbbbb" in out and "nightly" in out


def test_export_writes_the_latest_run_or_the_named_one(store, tmp_path, capsys):
    target = tmp_path / "out" / "rows.csv"
    assert main(["--store", str(store.path), "export", "--csv", str(target)]) == 0
    frame = pd.read_csv(target)
    assert len(frame) == 2 and set(frame.mse_outside) == {20.0}
    assert "wrote 2 rows of run 20260102-000000-bbbbbb" in capsys.readouterr().out
    assert main(["--store", str(store.path), "export", "20260101", "--csv", str(target)]) == 0
    assert set(pd.read_csv(target).mse_outside) == {10.0}


def test_baseline_save_from_a_stored_run(store, tmp_path, capsys):
    code = main(["--store", str(store.path), "baseline", "save", "nightly", "--run", "20260101",
                 "--root", str(tmp_path)])
    assert code == 0
    document = json.loads((tmp_path / "baselines" / "nightly.json").read_text())
    assert document["run_id"] == "20260101-000000-aaaaaa" and len(document["cases"]) == 2
    assert "saved baseline 'nightly'" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--store", str(tmp_path / "missing.sqlite"), "runs"]) == 2
    assert "leakage: no results store at" in capsys.readouterr().err


def test_the_report_command_run_in_a_process_that_goes_on_freezes_nothing(store, tmp_path, capsys):
    # main() is the command inside a longer-lived process; only the console script (run) pauses
    # the collector for the report's imports and freezes them, as its process ends next
    if gc.get_freeze_count():
        pytest.skip("the heap of this process is frozen already")
    assert main(["--store", str(store.path), "report", "-o", str(tmp_path / "r.html")]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_the_report_commands_cpu_window_opens_before_its_imports(store, tmp_path, monkeypatch, capsys):
    # the report's worker count reads how busy the machine was since this snapshot: reading the
    # rows alone (0.1 s on 5020 rows) is too short a window, and the count fell back to the load average
    import harness.report
    from harness.cpu_load import CpuTimes

    seen = {}

    def build_report(*args, idle_since=None, **kwargs):
        seen["idle_since"] = idle_since
        return tmp_path / "r.html"

    monkeypatch.setattr(harness.report, "build_report", build_report)
    assert main(["--store", str(store.path), "report", "-o", str(tmp_path / "r.html")]) == 0
    assert isinstance(seen["idle_since"], CpuTimes)


def test_console_entry_points_exist():
    result = subprocess.run([sys.executable, "-m", "harness", "--help"], capture_output=True, text=True, check=True)
    assert "runs" in result.stdout and "export" in result.stdout


def test_the_console_script_exits_with_the_commands_code(tmp_path):
    # `python -m harness` and the `leakage` script both go through cli.run
    result = subprocess.run([sys.executable, "-m", "harness", "--store", str(tmp_path / "missing.sqlite"), "runs"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("leakage: no results store at")
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="console_scripts", name="leakage")] == ["harness.cli:run"]
