"""The results store: schema, runs, rows, and refusing files that are not stores."""

from __future__ import annotations

import math
import sqlite3

import pytest

from harness.store import PROFILE_COLUMNS, RESULT_COLUMNS, SCHEMA_VERSION, Store, StoreError, decoded, new_run_id


def _row(case_id, **extra):
    return {"experiment": "strength", "case_id": case_id, "image": "coffee", "strength": 0.5, "radius": 0.8,
            "seed": 0, "status": "passed", "mse_outside": 12.5, "flags": [], **extra}


def test_rows_round_trip_with_json_columns_and_infinity(tmp_path):
    store = Store(tmp_path / "sub" / "s.sqlite")
    store.start_run("r1", name="first", preset="smoke", options={"steps": 10})
    profile = {"start": [1.0], "stop": [None], "mse": [3.5], "count": [7]}
    store.add_result("r1", _row("a", psnr_outside=math.inf, edge_profile=profile, flags=["threshold"]))
    frame = store.frame()
    assert list(frame.columns) == ["run_id", *RESULT_COLUMNS]
    row = frame.iloc[0]
    assert row.psnr_outside == math.inf and row.edge_profile == profile and row["flags"] == ["threshold"]
    assert row.recorded  # stamped when written


def test_profiles_can_stay_json_text_until_decoded(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", name=None, preset="smoke", options={})
    profile = {"start": [1.0], "stop": [None], "mse": [3.5], "count": [7]}
    store.add_result("r1", _row("a", edge_profile=profile, flags=["threshold"]))
    store.add_result("r1", _row("b"))  # no profiles: SQL NULL
    raw, full = store.frame(profiles=False), store.frame()
    assert raw.loc[0, "flags"] == ["threshold"]  # the short columns are decoded all the same
    assert isinstance(raw.loc[0, "edge_profile"], str) and not isinstance(raw.loc[1, "edge_profile"], str)
    for column in PROFILE_COLUMNS:
        assert decoded(raw[column]) == decoded(full[column]) == list(full[column])
    assert decoded(["[1]", {"a": 1}, None, math.nan]) == [[1], {"a": 1}, None, None]


def test_replacing_a_row_keeps_one_row_per_case(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r1", name=None, preset="smoke", options={})
    store.add_result("r1", _row("a", status="passed"))
    store.add_result("r1", _row("a", status="error", message="teardown broke"))
    # the same case id in another experiment is another row
    store.add_result("r1", _row("a", experiment="radius"))
    frame = store.frame()
    assert len(frame) == 2
    assert frame.set_index("experiment").loc["strength", "status"] == "error"


def test_runs_latest_prefix_and_fingerprint(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    for run_id in ("20260101-000000-aaaaaa", "20260102-000000-bbbbbb"):
        store.start_run(run_id, name=None, preset="smoke", options={"seed": 0})
    store.set_fingerprint("20260102-000000-bbbbbb", {"diffusers": "0.42.1"})
    store.add_result("20260101-000000-aaaaaa", _row("a"))
    store.finish_run("20260101-000000-aaaaaa", "failed")
    runs = store.runs()
    assert list(runs.run_id) == ["20260101-000000-aaaaaa", "20260102-000000-bbbbbb"]
    assert list(runs.cases) == [1, 0] and runs.status.tolist() == ["failed", "running"]
    assert store.run()["fingerprint"] == {"diffusers": "0.42.1"}  # latest by default
    assert len(store.frame("20260101")) == 1  # a unique prefix selects a run
    with pytest.raises(StoreError, match="2 runs in .* match '2026'"):
        store.frame("2026")
    with pytest.raises(StoreError, match="no run in .* matches 'nope'"):
        store.frame("nope")


def test_unknown_columns_are_refused(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    with pytest.raises(ValueError, match="unknown result columns: colour"):
        store.add_result("r", _row("a", colour="red"))


def test_missing_foreign_and_newer_stores_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no results store at"):
        Store(tmp_path / "none.sqlite").runs()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="is not a leakage results store"):
        Store(garbage).runs()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="is not a leakage results store"):
        Store(other).start_run("r", name=None, preset="smoke", options={})
    newer = Store(tmp_path / "newer.sqlite")
    newer.start_run("r", name=None, preset="smoke", options={})
    with sqlite3.connect(newer.path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Store(newer.path).runs()


def test_store_uses_wal_and_run_ids_sort_by_time(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run(new_run_id(), name=None, preset="smoke", options={})
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first, second = new_run_id(), new_run_id()
    assert first[:15] <= second[:15] and first != second


def test_a_version_1_store_gains_new_columns_in_place_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.sqlite"
    # the version-1 layout, as the first release wrote it, less two result columns
    columns = [c for c in RESULT_COLUMNS if c not in ("artifact", "recorded")]
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, started TEXT NOT NULL, finished TEXT, "
            "status TEXT NOT NULL, preset TEXT, fingerprint TEXT, options TEXT);"
            f"CREATE TABLE results (run_id TEXT NOT NULL, {', '.join(columns)}, "
            "PRIMARY KEY (run_id, experiment, case_id));"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "INSERT INTO runs VALUES ('old', NULL, '2026-01-01', NULL, 'passed', 'smoke', NULL, '{}');"
        )
        conn.execute("INSERT INTO results (run_id, experiment, case_id, status, mse_outside) "
                     "VALUES ('old', 'strength', 'a', 'passed', 7.5)")
    store = Store(path)
    frame = store.frame("old")
    assert list(frame.columns) == ["run_id", *RESULT_COLUMNS]
    assert frame.mse_outside.tolist() == [7.5] and frame.artifact.isna().all()
    store.start_run("new", name=None, preset="smoke", options={})
    store.add_result("new", _row("b", artifact="x.png"))
    assert store.frame("new").artifact.tolist() == ["x.png"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_the_latest_run_is_the_last_started_even_within_one_second(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    # same second, and the later run's random suffix sorts first
    store.start_run("20260101-000000-ffffff", name=None, preset="smoke", options={})
    store.start_run("20260101-000000-000000", name=None, preset="smoke", options={})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET started = '2026-01-01T00:00:00+00:00'")
    assert Store(store.path).latest_run_id() == "20260101-000000-000000"
