"""The results store: one SQLite file, one row per run and one per case.

Only one process writes (the pytest controller), so the store needs no locking beyond SQLite's
own; WAL mode lets a reader (``leakage runs``, a report) look while a run is writing. Reading
opens the file read-only and changes nothing; see :mod:`harness.store_file` for how the file is
opened and :mod:`harness.liveness` for how a run that died is told from a live one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from harness import liveness
from harness.metrics import METRIC_NAMES
from harness.store_file import StoreError, StoreWriteError, open_for_reading, open_for_writing
from harness.texture import TEXTURE_NAMES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Store", "StoreError", "StoreWriteError", "SCHEMA_VERSION", "RESULT_COLUMNS", "RESULT_SCHEMA",
           "RUN_SCHEMA", "RUN_STATUSES", "PROFILE_COLUMNS", "decoded", "new_run_id"]

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
    "mask": "TEXT",  # the mask family (disc, box, strokes-..., user)
    "area": "REAL",  # the share of the image the family was asked to cover
    "mask_area": "REAL",  # the share it covers
    "radius_px": "REAL",  # a disc's radius in pixels as drawn
    "mitigation": "TEXT",
    "mitigation_px": "INTEGER",  # the feather, crop padding or dilation in pixels
    "excess_profile": "TEXT",
    "texture_profile": "TEXT",
    **{name: "REAL" for name in TEXTURE_NAMES},
    "batch_size": "INTEGER",  # cases in the pipeline call that made the output (1: alone)
    "batch_seconds": "REAL",  # that call's wall time; ``seconds`` is this case's share of it
    "peak_memory_bytes": "INTEGER",  # the device's peak allocation during the call (NULL on the CPU)
    "measurement_key": "TEXT",  # what identifies the result (harness.execution.reuse)
    "reused_from": "TEXT",  # the run that computed this row, when it was copied from there
}
RESULT_COLUMNS = tuple(RESULT_SCHEMA)

#: Columns of the ``runs`` table, declared and migrated like :data:`RESULT_SCHEMA`. ``host`` and
#: ``pid`` name the recording process and ``heartbeat`` is its last sign of life (see
#: :mod:`harness.liveness`); ``message`` says why a run failed when no case did.
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
    "host": "TEXT",
    "pid": "INTEGER",
    "heartbeat": "TEXT",
    "message": "TEXT",
}

#: What a run's ``status`` can be when read. ``running`` and the finished states are written;
#: ``died`` is derived when reading (a ``running`` run whose process is gone, see :mod:`harness.liveness`).
RUN_STATUSES = (liveness.RUNNING, "passed", "failed", "interrupted", "error", liveness.DIED)

#: Columns that hold JSON (lists and dicts), decoded when read.
_JSON_COLUMNS = ("flags", "edge_profile", "excess_profile", "texture_profile")
#: The per-bin profiles among them: most of the time to read a run's rows is decoding these.
PROFILE_COLUMNS = ("edge_profile", "excess_profile", "texture_profile")
_KEY_COLUMNS = ("experiment", "case_id")  # with run_id: the primary key, never added by a migration

_CREATE = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"CREATE TABLE runs ({', '.join(f'{c} {t}' for c, t in RUN_SCHEMA.items())})",
    f"""CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    {", ".join(f"{c} {t}" for c, t in RESULT_SCHEMA.items())},
    PRIMARY KEY (run_id, experiment, case_id)
)""",
)


def _addable(sql_type: str) -> str:
    """The type of a column added to an existing table: SQLite cannot add a NOT NULL column
    without a default, so old rows hold NULL there."""
    return sql_type.replace(" NOT NULL", "").replace(" PRIMARY KEY", "")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A results store at ``path`` (created with its parent folder on the first write).

    Reading methods open the file read-only and never change it; writing methods (the pytest
    controller's) open it read-write. Every problem with the file is a :class:`StoreError` that
    names it; a failed write is a :class:`StoreWriteError` and leaves what was written before.

    Examples
    --------
    >>> store = Store("reports/leakage.sqlite")   # doctest: +SKIP
    >>> store.frame().groupby("experiment").mse_outside.mean()   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None  # read-write, once this process writes
        self._reader: sqlite3.Connection | None = None  # read-only, until it does

    # -- connections ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections (they reopen on the next call)."""
        for conn in (self._conn, self._reader):
            if conn is not None:
                conn.close()
        self._conn = self._reader = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _writer(self, *, create: bool = False) -> sqlite3.Connection:
        """The read-write connection, opened and set up on first use (a run writes thousands of
        rows: reopening per row cost more than the rows)."""
        if self._conn is None:
            self._conn = open_for_writing(self.path, self._set_up, create=create)
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        return self._conn

    def _read(self) -> sqlite3.Connection:
        """The connection to read with: the writer's when this process writes, else read-only."""
        if self._conn is not None:
            return self._conn
        if self._reader is None:
            self._reader = open_for_reading(self.path, self._check_version)
        return self._reader

    def _set_up(self, conn: sqlite3.Connection) -> None:
        """Inside the opening transaction: create the schema in an empty file, or check and
        migrate an existing store."""
        tables = _tables(conn)
        if "meta" not in tables:
            if tables:
                raise StoreError(f"{self.path} is not a leakage results store (no meta table)")
            for statement in _CREATE:
                conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        self._check_version(conn)
        _migrate(conn)

    def _check_version(self, conn: sqlite3.Connection) -> int:
        """The store's schema version if this harness reads it, else :class:`StoreError`."""
        if "meta" not in _tables(conn):
            raise StoreError(f"{self.path} is not a leakage results store (no meta table)")
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            found = "no schema version" if row is None else f"an unreadable schema version {row[0]!r}"
            raise StoreError(f"{self.path} has {found} in its meta table; it is not a store this "
                             "harness wrote, or it is damaged") from None
        if not 1 <= version <= SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, this harness reads versions 1 to {SCHEMA_VERSION}; "
                "use a new --leak-store path or the matching harness version"
            )
        return version

    # -- writing (the pytest controller only) -------------------------------------------------

    def _commit(self, statements: list[tuple[str, tuple]], *, create: bool = False) -> None:
        """Run ``statements`` in one transaction: the one place the store is written."""
        conn = self._writer(create=create)
        with conn:
            for sql, params in statements:
                conn.execute(sql, params)

    def _write(self, statements: list[tuple[str, tuple]], *, create: bool = False) -> None:
        try:
            self._commit(statements, create=create)
        except (sqlite3.Error, OverflowError) as exc:
            raise StoreWriteError(f"cannot write the results store {self.path}: {exc}") from exc

    def start_run(self, run_id: str, *, name: str | None, preset: str, options: dict) -> None:
        """Record a run as started (status ``running``) by this process on this host."""
        now = _now()
        self._write([(
            "INSERT INTO runs (run_id, name, started, status, preset, options, host, pid, heartbeat) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, name, now, liveness.RUNNING, preset, json.dumps(options, sort_keys=True, default=str),
             liveness.this_host(), os.getpid(), now),
        )], create=True)
        self.checkpoint()  # the .sqlite file alone now holds the schema and the run

    def reopen_run(self, run_id: str) -> None:
        """Mark a finished or died run ``running`` again, recorded by this process (a resumed run)."""
        now = _now()
        self._write([(
            "UPDATE runs SET status = ?, finished = NULL, message = NULL, host = ?, pid = ?, heartbeat = ? "
            "WHERE run_id = ?", (liveness.RUNNING, liveness.this_host(), os.getpid(), now, run_id),
        )])
        self.checkpoint()

    def set_fingerprint(self, run_id: str, fingerprint: dict) -> None:
        """Attach the pipeline's fingerprint to a run."""
        self._write([("UPDATE runs SET fingerprint = ? WHERE run_id = ?",
                      (json.dumps(fingerprint, sort_keys=True, default=str), run_id))])

    def set_machine(self, run_id: str, machine: dict) -> None:
        """Attach the machine and commit info (:func:`harness.machine.machine_info`) to a run."""
        self._write([("UPDATE runs SET machine = ? WHERE run_id = ?",
                      (json.dumps(machine, sort_keys=True, default=str), run_id))])

    def beat(self, run_id: str) -> None:
        """Refresh a run's heartbeat: its recording process is alive."""
        self._write([("UPDATE runs SET heartbeat = ? WHERE run_id = ?", (_now(), run_id))])

    def finish_run(self, run_id: str, status: str, message: str | None = None) -> None:
        """Mark a run finished with ``status`` (``passed``, ``failed``, ``interrupted``, ...) and
        ``message`` (why, when it failed without a failing case); then move every row from the
        write-ahead log into the ``.sqlite`` file, so that file alone is the complete store."""
        now = _now()
        self._write([("UPDATE runs SET finished = ?, status = ?, message = ?, heartbeat = ? WHERE run_id = ?",
                      (now, status, message, now, run_id))])
        self.checkpoint(truncate=True)

    def checkpoint(self, *, truncate: bool = False) -> None:
        """Copy the write-ahead log into the ``.sqlite`` file (and empty the log with ``truncate``)."""
        try:
            self._writer().execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if truncate else 'PASSIVE'})").fetchall()
        except sqlite3.Error as exc:
            raise StoreWriteError(f"cannot write the results store {self.path}: {exc}") from exc

    def add_result(self, run_id: str, row: dict) -> None:
        """Insert or replace one case's row (and refresh the run's heartbeat). Unknown keys are an
        error; missing ones are NULL."""
        unknown = set(row) - set(RESULT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns: {', '.join(sorted(unknown))}")
        values = {col: row.get(col) for col in RESULT_COLUMNS}
        values["recorded"] = values["recorded"] or _now()
        for col in _JSON_COLUMNS:
            if values[col] is not None:
                values[col] = json.dumps(values[col])
        cols = ("run_id", *RESULT_COLUMNS)
        self._write([
            (f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
             (run_id, *values.values())),
            ("UPDATE runs SET heartbeat = ? WHERE run_id = ?", (values["recorded"], run_id)),
        ])

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        conn = self._read()
        try:
            cursor = conn.execute(sql, params)
            return [d[0] for d in cursor.description], cursor.fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the results store {self.path} ({exc}); it may be damaged: "
                             "`sqlite3 FILE .recover` can save what is left") from exc

    def _select(self, table: str, schema: dict[str, str] | tuple[str, ...]) -> str:
        """Column list for ``table``: a store written before a column was declared reads NULL
        there (reading never migrates)."""
        present = {name for _, name, *_ in self._query(f"PRAGMA table_info({table})")[1]}
        return ", ".join(f"{table}.{c}" if c in present else f"NULL AS {c}" for c in schema)

    def _run_records(self) -> list[dict]:
        """Every run as a dict, oldest first; a ``running`` run whose process is gone reads as
        ``died`` (the one place where that is decided)."""
        columns, rows = self._query(
            f"SELECT {self._select('runs', RUN_SCHEMA)}, "
            "(SELECT COUNT(*) FROM results WHERE results.run_id = runs.run_id) AS cases "
            # `started` has whole seconds and run ids end in a random suffix: within one second
            # the insertion order (rowid) says which run came last
            "FROM runs ORDER BY started, runs.rowid"
        )
        records = [dict(zip(columns, row)) for row in rows]
        for record in records:
            record["status"] = liveness.run_status(record["status"], host=record["host"], pid=record["pid"],
                                                   heartbeat=record["heartbeat"])
        return records

    def runs(self) -> pd.DataFrame:
        """Every run, oldest first, with its number of result rows in ``cases``; ``status`` is one
        of :data:`RUN_STATUSES` (``died`` for a run whose process is gone)."""
        import pandas as pd  # here, not at the top: the recording session needs no pandas

        return pd.DataFrame.from_records(self._run_records(), columns=[*RUN_SCHEMA, "cases"], coerce_float=True)

    def latest_run_id(self) -> str:
        """The id of the most recently started run."""
        records = self._run_records()
        if not records:
            raise StoreError(f"{self.path} holds no runs yet")
        return str(records[-1]["run_id"])

    def run(self, run_id: str | None = None) -> dict:
        """One run's record as a dict (latest by default); ``fingerprint``, ``options`` and
        ``machine`` decoded (``{}`` when not recorded, e.g. when the pipeline failed to load)."""
        run_id = self._resolve(run_id)
        record = next(r for r in self._run_records() if r["run_id"] == run_id)
        for key in ("fingerprint", "options", "machine"):
            record[key] = json.loads(record[key]) if isinstance(record[key], str) and record[key] else {}
        return record

    def _resolve(self, run_id: str | None) -> str:
        if run_id is None:
            return self.latest_run_id()
        ids = [r["run_id"] for r in self._run_records()]
        matches = [r for r in ids if r == run_id] or [r for r in ids if r.startswith(run_id)]
        if len(matches) != 1:
            found = "no run in {} matches" if not matches else f"{len(matches)} runs in {{}} match"
            raise StoreError(f"{found.format(self.path)} {run_id!r}; `leakage runs` lists them")
        return matches[0]

    def find_result(self, key: str, *, run_id: str | None = None) -> dict | None:
        """The newest measured row (metrics present) with ``measurement_key`` ``key``, from any
        run or from ``run_id`` only, as a dict with ``run_id`` and JSON columns decoded."""
        present = {name for _, name, *_ in self._query("PRAGMA table_info(results)")[1]}
        if "measurement_key" not in present:  # a store from before keys were recorded
            return None
        where = " AND results.run_id = ?" if run_id is not None else ""
        records = self._records(
            f"WHERE measurement_key = ? AND status IN ('passed', 'failed') AND mse_outside IS NOT NULL{where} "
            "ORDER BY recorded DESC LIMIT 1", (key, run_id) if run_id is not None else (key,))
        return records[0] if records else None

    def rows(self, run_id: str | None = None) -> list[dict]:
        """One run's result rows (latest run by default) as dicts, JSON columns decoded."""
        return self._records("WHERE results.run_id = ? ORDER BY experiment, case_id", (self._resolve(run_id),))

    def _records(self, condition: str, params: tuple) -> list[dict]:
        columns, rows = self._query(
            f"SELECT results.run_id, {self._select('results', RESULT_COLUMNS)} FROM results {condition}", params)
        records = [dict(zip(columns, row)) for row in rows]
        for record in records:
            for col in _JSON_COLUMNS:
                if isinstance(record[col], str):
                    record[col] = json.loads(record[col])
        return records

    def frame(self, run_id: str | None = None, *, profiles: bool = True) -> pd.DataFrame:
        """One run's result rows (latest run by default), JSON columns decoded.

        With ``profiles=False`` the :data:`PROFILE_COLUMNS` keep their JSON text, for readers that
        use few of them and decode those with :func:`decoded` (the report decodes each in the
        worker process that draws it): decoding them is most of the time to read a paper-sized run.
        """
        import pandas as pd

        run_id = self._resolve(run_id)
        columns, rows = self._query(
            f"SELECT results.run_id, {self._select('results', RESULT_COLUMNS)} FROM results "
            "WHERE results.run_id = ? ORDER BY experiment, case_id",
            (run_id,),
        )
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        for col in _JSON_COLUMNS:
            if profiles or col not in PROFILE_COLUMNS:
                frame[col] = decoded(frame[col])
        return frame


def decoded(values) -> list:
    """A JSON column's values decoded: text is parsed, values already decoded are kept, anything
    else (SQL NULL, read as None or NaN) is None."""
    return [json.loads(v) if isinstance(v, str) else v if isinstance(v, (dict, list)) else None for v in values]


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store of an older (or the same) version up to :data:`SCHEMA_VERSION`, inside the
    opening transaction: add every declared column a table lacks, then record the version."""
    for table, schema in (("runs", RUN_SCHEMA), ("results", RESULT_SCHEMA)):
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for column, sql_type in schema.items():
            if column in present:
                continue
            if column in _KEY_COLUMNS or column == "run_id":
                raise StoreError(f"table {table} has no key column {column}: not a leakage results store")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {_addable(sql_type)}")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND value != ?",
                 (str(SCHEMA_VERSION), str(SCHEMA_VERSION)))
