"""The heartbeat thread of a recording process."""

from __future__ import annotations

import shutil

from harness.heartbeat import Heartbeat
from harness.store import Store, StoreWriteError

OLD = "2000-01-01T00:00:00+00:00"


def _heartbeat(store: Store, run_id: str) -> str:
    return Store(store.path).run(run_id)["heartbeat"]


def test_the_heartbeat_is_refreshed_while_the_thread_runs(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    store._commit([("UPDATE runs SET heartbeat = ? WHERE run_id = 'r'", (OLD,))])
    beats, real_beat = [], Store.beat

    def beat_twice_then_stop(self, run_id):
        real_beat(self, run_id)
        beats.append(run_id)
        if len(beats) == 2:
            heartbeat._stop.set()

    monkeypatch.setattr(Store, "beat", beat_twice_then_stop)
    heartbeat = Heartbeat(store.path, "r", interval=0.001).start()
    heartbeat._thread.join()
    heartbeat.stop()
    assert beats == ["r", "r"] and heartbeat.error is None
    assert _heartbeat(store, "r") > OLD


def test_each_beat_moves_the_rows_so_far_into_the_sqlite_file(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    for number in range(5):
        store.add_result("r", {"experiment": "strength", "case_id": f"c{number}", "status": "passed"})
    real_beat = Store.beat

    def beat_once(self, run_id):
        real_beat(self, run_id)
        heartbeat._stop.set()

    monkeypatch.setattr(Store, "beat", beat_once)
    heartbeat = Heartbeat(store.path, "r", interval=0.001).start()
    heartbeat._thread.join()
    # the writer is still open, as in a live run: only the .sqlite file is copied
    copy = tmp_path / "copy" / "s.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(store.path, copy)
    assert len(Store(copy).frame("r")) == 5 and heartbeat.error is None


def test_every_row_written_refreshes_the_heartbeat(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})
    store._commit([("UPDATE runs SET heartbeat = ? WHERE run_id = 'r'", (OLD,))])
    store.add_result("r", {"experiment": "strength", "case_id": "a", "status": "passed"})
    assert _heartbeat(store, "r") > OLD


def test_a_failing_heartbeat_stops_and_keeps_the_error(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("r", name=None, preset="smoke", options={})

    def full(self, run_id):
        raise StoreWriteError(f"cannot write the results store {self.path}: database or disk is full")

    monkeypatch.setattr(Store, "beat", full)
    beat = Heartbeat(store.path, "r", interval=0.001).start()
    beat._thread.join()  # it ends by itself after the failed beat
    beat.stop()
    assert beat.error == f"cannot write the results store {store.path}: database or disk is full"
