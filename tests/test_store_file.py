"""Opening the store's file: creation races, read-only reading, and files that are not stores."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from harness.cli import main
from harness.store import SCHEMA_VERSION, Store, StoreError

# Creates the store named on each input line at the monotonic time given with it, so that two
# of these processes open one fresh file at the same moment; prints "ok" or the error.
_CREATOR = r"""
import sys, time
from harness.store import Store
for line in sys.stdin:
    path, start_at, run_id = line.split()
    while time.monotonic() < float(start_at):
        pass
    try:
        Store(path).start_run(run_id, name=None, preset="smoke", options={})
        print("ok", flush=True)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
"""

TRIALS = 100


def test_two_processes_creating_one_store_at_the_same_moment_both_succeed(tmp_path):
    creators = [subprocess.Popen([sys.executable, "-c", _CREATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    failures = []
    try:
        for trial in range(TRIALS):
            path = tmp_path / f"s{trial}.sqlite"
            start_at = time.monotonic() + 0.05  # both are waiting when it comes
            for number, creator in enumerate(creators):
                creator.stdin.write(f"{path} {start_at} run{number}\n")
                creator.stdin.flush()
            answers = [creator.stdout.readline().strip() for creator in creators]
            if answers != ["ok", "ok"]:
                failures.append(answers)
    finally:
        for creator in creators:
            creator.stdin.close()
            creator.wait()
    assert failures == []
    for trial in range(TRIALS):
        store = Store(tmp_path / f"s{trial}.sqlite")
        assert sorted(store.runs().run_id) == ["run0", "run1"]
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT key, value FROM meta").fetchall() == [("schema_version", str(SCHEMA_VERSION))]
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_reading_a_foreign_sqlite_file_refuses_it_and_changes_nothing(tmp_path, capsys):
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    before = _listing(tmp_path)
    for argv in (["runs"], ["export", "--csv", str(tmp_path / "out.csv")], ["report", "-o", str(tmp_path / "r.html")]):
        assert main(["--store", str(foreign), *argv]) == 2
        assert capsys.readouterr().err == f"leakage: {foreign} is not a leakage results store (no meta table)\n"
    assert _listing(tmp_path) == before  # same bytes, no -wal or -shm, no output files
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    conn.close()


def test_reading_an_empty_or_garbage_file_refuses_it_and_changes_nothing(tmp_path, capsys):
    empty, garbage = tmp_path / "empty.sqlite", tmp_path / "garbage.sqlite"
    empty.write_bytes(b"")
    garbage.write_bytes(b"this is not sqlite" * 300)
    before = _listing(tmp_path)
    assert main(["--store", str(empty), "runs"]) == 2
    assert capsys.readouterr().err == f"leakage: {empty} is not a leakage results store (no meta table)\n"
    assert main(["--store", str(garbage), "runs"]) == 2
    assert capsys.readouterr().err == f"leakage: {garbage} is not a leakage results store (not an SQLite file)\n"
    assert main(["--store", str(tmp_path), "runs"]) == 2
    assert capsys.readouterr().err == f"leakage: {tmp_path} is not a file; expected a results store (.sqlite)\n"
    assert _listing(tmp_path) == before


def test_writing_refuses_a_foreign_file_without_switching_it_to_wal(tmp_path):
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match=r"other.sqlite is not a leakage results store \(no meta table\)$"):
        Store(foreign).start_run("r", name=None, preset="smoke", options={})
    assert foreign.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]


def test_a_store_where_a_file_blocks_its_folder_is_refused_naming_it(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match=r"^cannot create the results store .*afile/s.sqlite: Not a directory$"):
        Store(tmp_path / "afile" / "s.sqlite").start_run("r", name=None, preset="smoke", options={})


@pytest.mark.parametrize("value, found", [("abc", "an unreadable schema version 'abc'"), (None, "no schema version")])
def test_an_unreadable_schema_version_is_a_clear_error_for_readers_and_writers(tmp_path, capsys, value, found):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    store.close()
    with sqlite3.connect(store.path) as conn:
        if value is None:
            conn.execute("DELETE FROM meta")
        else:
            conn.execute("UPDATE meta SET value = ?", (value,))
    conn.close()
    message = f"{store.path} has {found} in its meta table; it is not a store this harness wrote, or it is damaged"
    assert main(["--store", str(store.path), "runs"]) == 2
    assert capsys.readouterr().err == f"leakage: {message}\n"
    with pytest.raises(StoreError) as info:
        Store(store.path).start_run("r2", name=None, preset="smoke", options={})
    assert str(info.value) == message


def test_reading_an_older_store_works_without_migrating_it(tmp_path, capsys):
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as conn:  # version 1: fewer run and result columns
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, started TEXT NOT NULL, finished TEXT, "
            "status TEXT NOT NULL, preset TEXT, fingerprint TEXT, options TEXT);"
            "CREATE TABLE results (run_id TEXT NOT NULL, experiment TEXT NOT NULL, case_id TEXT NOT NULL, "
            "status TEXT NOT NULL, mse_outside REAL, PRIMARY KEY (run_id, experiment, case_id));"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "INSERT INTO runs VALUES ('old', NULL, '2026-01-01', NULL, 'running', 'smoke', NULL, '{}');"
            "INSERT INTO results VALUES ('old', 'strength', 'a', 'passed', 7.5);"
        )
    conn.close()
    before = _listing(tmp_path)
    store = Store(path)
    frame = store.frame()
    assert frame.mse_outside.tolist() == [7.5] and frame.artifact.isna().all() and frame.seconds.isna().all()
    # no heartbeat was recorded by that harness: it cannot be judged, so it stays "running"
    assert store.run()["status"] == "running" and store.run()["fingerprint"] == {}
    assert main(["--store", str(path), "runs"]) == 0
    store.close()
    assert _listing(tmp_path) == before


def test_a_store_with_damaged_data_pages_is_one_clear_error(tmp_path, capsys):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    for number in range(300):
        store.add_result("r", {"experiment": "strength", "case_id": f"c{number}", "status": "passed",
                               "message": "x" * 200})
    store.finish_run("r", "passed")
    store.close()
    data = bytearray(store.path.read_bytes())
    page = 4096
    data[3 * page:] = bytes([0xA5]) * (len(data) - 3 * page)  # every page after the schema's
    store.path.write_bytes(bytes(data))
    for argv in (["report", "-o", str(tmp_path / "r.html")], ["export", "--csv", str(tmp_path / "x.csv")]):
        assert main(["--store", str(store.path), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"leakage: cannot read the results store {store.path} (") and err.count("\n") == 1
        assert "database disk image is malformed" in err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "x.csv").exists()


def test_a_valid_store_in_a_read_only_folder_can_be_read(read_only_folder):
    folder = read_only_folder.path
    store = Store(folder / "s.sqlite")
    store.start_run("20260101-000000-aaaaaa", name="ro", preset="smoke", options={})
    store.add_result("20260101-000000-aaaaaa", {"experiment": "strength", "case_id": "a", "status": "passed",
                                                "mse_outside": 3.0})
    store.finish_run("20260101-000000-aaaaaa", "passed")
    store.close()
    assert sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]  # closed cleanly: no -wal, no -shm
    read_only_folder.lock()
    before = store.path.read_bytes()

    listed = read_only_folder.run("-m", "harness", "--store", "s.sqlite", "runs")
    assert listed.returncode == 0, listed.stderr
    assert "20260101-000000-aaaaaa" in listed.stdout and "passed" in listed.stdout

    exported = read_only_folder.run("-m", "harness", "--store", "s.sqlite", "export", "--csv", "rows.csv")
    assert exported.returncode == 2
    assert exported.stderr == f"leakage: cannot write rows.csv: {read_only_folder.refusal}\n"
    saved = read_only_folder.run("-m", "harness", "--store", "s.sqlite", "baseline", "save", "b")
    assert saved.returncode == 2
    assert saved.stderr == f"leakage: cannot write baseline baselines/b.json: {read_only_folder.refusal}\n"

    assert store.path.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]


def test_a_finished_run_leaves_the_sqlite_file_complete_on_its_own(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    for number in range(50):
        store.add_result("r", {"experiment": "strength", "case_id": f"c{number}", "status": "passed"})
    store.finish_run("r", "passed")
    # the writer is still open (as in a session): only the .sqlite file is copied
    copy = tmp_path / "copy" / "s.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(store.path, copy)
    assert len(Store(copy).frame("r")) == 50 and Store(copy).run("r")["status"] == "passed"
    assert os.path.getsize(f"{store.path}-wal") == 0  # truncated by the checkpoint
