"""The results store: one SQLite file, one row per run and one per case.

Only one process writes (the pytest controller), so the store needs no locking beyond SQLite's
own; WAL mode lets a reader (``leakage runs``, a report) look while a run is writing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.metrics import METRIC_NAMES

__all__ = ["Store", "StoreError", "SCHEMA_VERSION", "RESULT_COLUMNS", "RESULT_SCHEMA", "RUN_SCHEMA", "new_run_id"]

#: Version 2: columns are declared below and added to older stores in place (see ``_migrate``).
SCHEMA_VERSION = 2

#: Columns of the ``results`` table besides ``run_id``, with their SQL types, in order. Adding a
#: column here is the whole schema change: a store written before gains it (NULL in old rows) in
#: one transaction the next time it is opened. Removing or retyping one needs a version bump.
RESULT_SCHEMA: dict[str, str] = {
    "experiment": "TEXT NOT NULL",
    "case_id": "TEXT NOT NULL",
    "nodeid": "TEXT",
    "image": "TEXT",
    "strength": "REAL",
    "radius": "REAL",
    "seed": "INTEGER",
    "steps": "INTEGER",
    "steps_run": "INTEGER",
    "height": "INTEGER",
    "width": "INTEGER",
    "status": "TEXT NOT NULL",
    **{m: "INTEGER" if m == "n_outside" else "REAL" for m in METRIC_NAMES},
    "seconds": "REAL",
    "flags": "TEXT",
    "message": "TEXT",
    "edge_profile": "TEXT",
    "artifact": "TEXT",
    "recorded": "TEXT",
}
RESULT_COLUMNS = tuple(RESULT_SCHEMA)

#: Columns of the ``runs`` table, declared and migrated like :data:`RESULT_SCHEMA`.
RUN_SCHEMA: dict[str, str] = {
    "run_id": "TEXT PRIMARY KEY",
    "name": "TEXT",
    "started": "TEXT NOT NULL",
    "finished": "TEXT",
    "status": "TEXT NOT NULL",
    "preset": "TEXT",
    "fingerprint": "TEXT",
    "options": "TEXT",
    "machine": "TEXT",  # JSON: Python and library versions, CPU/GPU, the project's git commit
    "message": "TEXT",  # why a run failed as a whole (e.g. its pipeline could not be loaded)
}

#: Columns that hold JSON (lists and dicts), decoded when read.
_JSON_COLUMNS = ("flags", "edge_profile")
_KEY_COLUMNS = ("experiment", "case_id")  # with run_id: the primary key, never added by a migration

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs ({", ".join(f"{c} {t}" for c, t in RUN_SCHEMA.items())});
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    {", ".join(f"{c} {t}" for c, t in RESULT_SCHEMA.items())},
    PRIMARY KEY (run_id, experiment, case_id)
);
"""


def _addable(sql_type: str) -> str:
    """The type of a column added to an existing table: SQLite cannot add a NOT NULL column
    without a default, so old rows hold NULL there."""
    return sql_type.replace(" NOT NULL", "").replace(" PRIMARY KEY", "")


class StoreError(Exception):
    """The store file is unusable: another program's database, a newer schema, an unknown run."""


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A results store at ``path`` (created with its parent folder on first write).

    Examples
    --------
    >>> store = Store("reports/leakage.sqlite")   # doctest: +SKIP
    >>> store.frame().groupby("experiment").mse_outside.mean()   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    # -- connection -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (it reopens on the next call)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        """The store's one connection, opened and checked on first use (a run writes thousands of
        rows: reopening per row cost more than the rows)."""
        if self._conn is None:
            self._conn = self._open(create=create)
        return self._conn

    def _open(self, *, create: bool) -> sqlite3.Connection:
        if not create and not self.path.exists():
            raise StoreError(f"no results store at {self.path}; run `pytest benchmarks` first or pass --store")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; commits skip an fsync
            version = self._schema_version(conn, create=create)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a leakage results store ({exc})") from exc
        if version != SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{self.path} has schema version {version}, this harness reads version {SCHEMA_VERSION}; "
                "use a new --leak-store path or the matching harness version"
            )
        return conn

    @staticmethod
    def _schema_version(conn: sqlite3.Connection, *, create: bool) -> int:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            if tables or not create:
                raise sqlite3.DatabaseError("no meta table")
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return SCHEMA_VERSION
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else -1
        if 1 <= version <= SCHEMA_VERSION:
            _migrate(conn)
            return SCHEMA_VERSION
        return version

    # -- writing (the pytest controller only) -------------------------------------------------

    def start_run(self, run_id: str, *, name: str | None, preset: str, options: dict) -> None:
        """Record a run as started (status ``running``)."""
        conn = self._connect(create=True)
        with conn:
            conn.execute(
                "INSERT INTO runs (run_id, name, started, status, preset, options) VALUES (?, ?, ?, 'running', ?, ?)",
                (run_id, name, _now(), preset, json.dumps(options, sort_keys=True, default=str)),
            )

    def set_fingerprint(self, run_id: str, fingerprint: dict) -> None:
        """Attach the pipeline's fingerprint to a run."""
        self._update_run(run_id, "fingerprint = ?", json.dumps(fingerprint, sort_keys=True, default=str))

    def set_machine(self, run_id: str, machine: dict) -> None:
        """Attach the machine and commit info (:func:`harness.machine.machine_info`) to a run."""
        self._update_run(run_id, "machine = ?", json.dumps(machine, sort_keys=True, default=str))

    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        """Mark a run finished with ``status`` (``passed``, ``failed``, ``interrupted``, ...) and,
        for a run that failed as a whole, the ``message`` saying why."""
        conn = self._connect(create=False)
        with conn:
            conn.execute("UPDATE runs SET finished = ?, status = ?, message = ? WHERE run_id = ?",
                         (_now(), status, message, run_id))

    def _update_run(self, run_id: str, assignment: str, value) -> None:
        conn = self._connect(create=False)
        with conn:
            conn.execute(f"UPDATE runs SET {assignment} WHERE run_id = ?", (value, run_id))

    def add_result(self, run_id: str, row: dict) -> None:
        """Insert or replace one case's row. Unknown keys are an error; missing ones are NULL."""
        unknown = set(row) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns: {', '.join(sorted(unknown))}")
        values = {col: row.get(col) for col in RESULT_COLUMNS}
        values["recorded"] = values["recorded"] or _now()
        for col in _JSON_COLUMNS:
            if values[col] is not None:
                values[col] = json.dumps(values[col])
        cols = ("run_id", *RESULT_COLUMNS)
        conn = self._connect(create=False)
        with conn:
            conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                (run_id, *values.values()),
            )

    # -- reading ---------------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """Every run, oldest first, with its number of result rows in ``cases``."""
        return pd.read_sql_query(
            f"SELECT {', '.join(f'runs.{c}' for c in RUN_SCHEMA)}, "
            "(SELECT COUNT(*) FROM results WHERE results.run_id = runs.run_id) AS cases "
            "FROM runs ORDER BY started, run_id",
            self._connect(create=False),
        )

    def latest_run_id(self) -> str:
        """The id of the most recently started run."""
        runs = self.runs()
        if runs.empty:
            raise StoreError(f"{self.path} holds no runs yet")
        return str(runs.run_id.iloc[-1])

    def run(self, run_id: str | None = None) -> dict:
        """One run's record as a dict (latest by default); ``fingerprint``, ``options`` and
        ``machine`` decoded."""
        run_id = self._resolve(run_id)
        runs = self.runs()
        record = runs[runs.run_id == run_id].iloc[0].to_dict()
        for key in ("fingerprint", "options", "machine"):  # NULL (e.g. a pipeline never loaded) reads as NaN
            record[key] = json.loads(record[key]) if isinstance(record[key], str) and record[key] else {}
        return record

    def _resolve(self, run_id: str | None) -> str:
        if run_id is None:
            return self.latest_run_id()
        ids = self.runs().run_id.tolist()
        matches = [r for r in ids if r == run_id] or [r for r in ids if r.startswith(run_id)]
        if len(matches) != 1:
            found = "no run in {} matches" if not matches else f"{len(matches)} runs in {{}} match"
            raise StoreError(f"{found.format(self.path)} {run_id!r}; `leakage runs` lists them")
        return matches[0]

    def frame(self, run_id: str | None = None) -> pd.DataFrame:
        """One run's result rows (latest run by default), JSON columns decoded."""
        run_id = self._resolve(run_id)
        frame = pd.read_sql_query(
            f"SELECT run_id, {', '.join(RESULT_COLUMNS)} FROM results WHERE run_id = ? ORDER BY experiment, case_id",
            self._connect(create=False), params=(run_id,),
        )
        for col in _JSON_COLUMNS:
            frame[col] = [json.loads(v) if isinstance(v, str) else None for v in frame[col]]
        return frame


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store of an older (or the same) version up to :data:`SCHEMA_VERSION` in one
    transaction: add every declared column a table lacks, then record the version."""
    missing = [
        (table, column, sql_type)
        for table, schema in (("runs", RUN_SCHEMA), ("results", RESULT_SCHEMA))
        for column, sql_type in schema.items()
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    ]
    current = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    if not missing and current == str(SCHEMA_VERSION):
        return
    with conn:
        for table, column, sql_type in missing:
            if column in _KEY_COLUMNS or column == "run_id":
                raise sqlite3.DatabaseError(f"table {table} has no key column {column}")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {_addable(sql_type)}")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

