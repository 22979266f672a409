"""History across runs and ``leakage compare`` / ``leakage history`` on stores written here."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pytest

from harness.cli import main
from harness.gate.history import changes_between, run_history
from harness.gate.stats import bootstrap_mean
from harness.store import Store

FINGERPRINT = {"ref": "tiny", "diffusers": "0.41.1", "torch": "2.13.0", "weights_sha256": "a" * 64}


def _run(store: Store, run_id: str, values: dict[str, float], *, pipeline="tiny", fingerprint=None, seed=0,
         machine=None, preset="smoke") -> None:
    store.start_run(run_id, name=None, preset=preset, options={"pipeline": pipeline, "steps": 10, "seeds": [seed]})
    store.set_fingerprint(run_id, fingerprint or FINGERPRINT)
    store.set_machine(run_id, machine or {"python": "3.11.7", "git_commit": "c" * 40})
    for image, mse in values.items():
        case_id = f"{image}-s0.50-r0.80-seed{seed}"
        store.add_result(run_id, {"experiment": "strength", "case_id": case_id, "image": image, "strength": 0.5,
                                  "radius": 0.8, "seed": seed, "status": "passed", "mse_outside": mse,
                                  "mae_outside": 5.0})
    store.finish_run(run_id, "passed")


@pytest.fixture
def store(tmp_path) -> Store:
    """Three runs of tiny (the second under diffusers 0.42.1), one of tiny-9ch, one of the paper preset."""
    store = Store(tmp_path / "leakage.sqlite")
    _run(store, "20260101-000000-aaaaaa", {"coffee": 100.0, "rocket": 200.0})
    _run(store, "20260102-000000-bbbbbb", {"coffee": 100.0, "rocket": 200.0})
    _run(store, "20260103-000000-cccccc", {"coffee": 400.0}, pipeline="tiny-9ch")
    _run(store, "20260104-000000-dddddd", {"coffee": 100.0}, preset="paper")
    _run(store, "20260105-000000-eeeeee", {"coffee": 130.0, "rocket": 260.0})
    # a library upgrade between the first and the second run: edit the stored fingerprint
    store.set_fingerprint("20260102-000000-bbbbbb", {**FINGERPRINT, "diffusers": "0.42.1"})
    return store


def test_history_keeps_the_series_in_time_order_labelled_with_what_changed(store):
    history = run_history(store)  # the latest run: tiny on smoke
    assert (history.preset, history.pipeline) == ("smoke", "tiny")
    points = history.series("strength")
    assert [p.run_id for p in points] == ["20260101-000000-aaaaaa", "20260102-000000-bbbbbb", "20260105-000000-eeeeee"]
    assert [p.changes for p in points] == [(), ("diffusers 0.41.1 -> 0.42.1",), ("diffusers 0.42.1 -> 0.41.1",)]
    last = points[-1]
    assert (last.cases, last.mean) == (2, pytest.approx(195.0))
    assert (last.low, last.high) == (bootstrap_mean([130.0, 260.0]).low, bootstrap_mean([130.0, 260.0]).high)
    assert [p.run_id for p in run_history(store, "20260103").points] == ["20260103-000000-cccccc"]


def test_changes_between_runs_name_fingerprint_machine_and_options():
    before = {"fingerprint": {"diffusers": "0.41.1"}, "machine": {"numpy": "1.26"}, "options": {"steps": 10}}
    after = {"fingerprint": {"diffusers": "0.42.1"}, "machine": {"numpy": "2.0"}, "options": {"steps": 20}}
    assert changes_between(before, after) == ["diffusers 0.41.1 -> 0.42.1", "numpy 1.26 -> 2.0", "steps 10 -> 20"]
    assert changes_between(None, after) == []


def test_history_command_prints_the_labels_and_json(store, capsys):
    assert main(["--store", str(store.path), "history"]) == 0
    out = capsys.readouterr().out
    assert "preset smoke, pipeline tiny: 3 runs" in out
    assert "20260102-000000-bbbbbb" in out and "diffusers 0.41.1 -> 0.42.1" in out and "first run" in out
    assert main(["--store", str(store.path), "history", "--run", "20260103", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["pipeline"] == "tiny-9ch" and [p["mean"] for p in document["points"]] == [400.0]


def test_compare_two_stored_runs(store, tmp_path, capsys):
    # the same numbers: passes, names what changed
    assert main(["--store", str(store.path), "compare", "20260101", "20260102", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "20260102 against 20260101:" in out and "passed, 2 cases compared" in out
    assert "fingerprint differs from the baseline's: diffusers 0.41.1 -> 0.42.1" in out
    # +30 % on both images: each case and the group are worse; exit code 1
    assert main(["--store", str(store.path), "compare", "20260102", "20260105", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED, 2 cases compared, 2 worse beyond tolerance" in out
    assert "strength/rocket-s0.50-r0.80-seed0  mse_outside" in out and "WORSE" in out


def test_compare_json_and_a_baseline_against_a_run(store, tmp_path, capsys):
    assert main(["--store", str(store.path), "baseline", "save", "before", "--run", "20260101",
                 "--root", str(tmp_path)]) == 0
    capsys.readouterr()
    code = main(["--store", str(store.path), "compare", "before", "20260105", "--root", str(tmp_path), "--json"])
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["failed"] is True and document["a"] == "before"
    assert {r["key"] for r in document["regressions"]} == {"strength/coffee-s0.50-r0.80-seed0",
                                                           "strength/rocket-s0.50-r0.80-seed0"}
    (group,) = [g for g in document["aggregate"] if g["metric"] == "mse_outside"]
    assert group["verdict"] == "worse" and group["change"] == pytest.approx(0.3)


@pytest.mark.parametrize("args, message", [
    (["compare", "nosuch", "20260101"], "'nosuch' is neither a baseline (*nosuch.json does not exist) nor a run"),
    (["compare", "20260101", "20260104"], "was recorded with preset 'smoke', this run uses 'paper'"),
    (["compare", "2026", "20260101"], "5 runs in * match '2026'"),
])
def test_compare_errors_are_one_line_and_exit_2(store, tmp_path, capsys, args, message):
    assert main(["--store", str(store.path), *args, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("leakage: ") and err.count("\n") == 1
    assert fnmatch(err.strip(), f"*{message}*")


def test_compare_refuses_a_bad_tolerance_table(store, tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.leakage.tolerances]\nmse_outside = 3\n")
    assert main(["--store", str(store.path), "compare", "20260101", "20260102", "--root", str(tmp_path)]) == 2
    assert "[tool.leakage.tolerances] mse_outside must be" in capsys.readouterr().err
