"""Opening the results store's SQLite file: read-only to read, read-write to record.

Reading never writes. Read commands open ``file:...?mode=ro``, so a foreign file is refused exactly
as it was found (no switch to WAL mode, no migration), and a store of an older version is read as
it is. A WAL-mode store needs its ``-shm`` file even to be read; where the folder is read-only and
that file cannot be created, the store is opened ``immutable=1`` instead (SQLite's documented way to
read a WAL database on read-only media: nobody can be writing it, since no writer could create its
``-wal`` there either).

Recording opens read-write with a busy timeout, and runs the schema's set-up (create it, or check
and migrate it) inside one ``BEGIN IMMEDIATE`` transaction: of two processes creating one fresh
store at the same moment, the second waits for the first and then finds a complete schema.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Callable

from harness.atomic import make_folder

__all__ = ["StoreError", "StoreWriteError", "BUSY_TIMEOUT_SECONDS", "open_for_reading", "open_for_writing"]

#: How long a connection waits for another one's lock before giving up ("database is locked").
BUSY_TIMEOUT_SECONDS = 30.0

_SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(Exception):
    """The store file is unusable: another program's database, a newer schema, an unknown run."""


class StoreWriteError(StoreError):
    """Writing the store failed (a full disk, a read-only file, ...); what was written stays."""


def _describe(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def open_for_reading(path: Path, check: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A read-only connection to the store at ``path``, after ``check`` accepted it.

    ``check`` raises :class:`StoreError` for a file that is not a store this harness reads; the
    file is left exactly as it was.
    """
    _require_file(path)
    try:
        conn = _connect_read_only(path)
        try:
            check(conn)
        except BaseException:
            conn.close()
            raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a leakage results store ({exc})") from exc
    return conn


def _require_file(path: Path) -> None:
    if not path.exists():
        raise StoreError(f"no results store at {path}; run `pytest benchmarks` first or pass --store")
    if not path.is_file():
        raise StoreError(f"{path} is not a file; expected a results store (.sqlite)")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the results store {path}: {_describe(exc)}") from exc
    if header and header != _SQLITE_HEADER[: len(header)]:
        raise StoreError(f"{path} is not a leakage results store (not an SQLite file)")


def _connect_read_only(path: Path) -> sqlite3.Connection:
    path = path.resolve()
    uri = path.as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK):
            raise  # the folder is writable: not the read-only case immutable=1 is for
    # a WAL store on read-only media: its -shm cannot be created, nobody can be writing it
    conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def open_for_writing(path: Path, setup: Callable[[sqlite3.Connection], None], *, create: bool) -> sqlite3.Connection:
    """A read-write connection to the store at ``path`` (created with its folder when ``create``).

    ``setup`` runs inside one ``BEGIN IMMEDIATE`` transaction: it creates the schema in an empty
    file, or checks and migrates an existing one, raising :class:`StoreError` for a file that is
    not a store. Only after it succeeded is the file switched to WAL mode, so a refused file is
    not changed.
    """
    if not create:
        _require_file(path)
    else:
        if path.exists():
            _require_file(path)
        try:
            make_folder(path.parent)
        except OSError as exc:
            raise StoreError(f"cannot create the results store {path}: {_describe(exc)}") from exc
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the results store {path}: {exc}") from exc
    try:
        _set_up(conn, setup)
        _use_wal(conn)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        if type(exc) is sqlite3.DatabaseError:  # "file is not a database"
            raise StoreError(f"{path} is not a leakage results store ({exc})") from exc
        raise StoreError(f"cannot open the results store {path} for writing ({exc})") from exc
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode: readers look while a run writes; ``synchronous=NORMAL`` skips an fsync
    per commit, and WAL stays consistent with it.

    The switch needs an exclusive lock and cannot happen inside a transaction. SQLite answers
    "database is locked" at once, without waiting in the busy handler, when another connection
    is switching or reading at that moment (seen in about 1 of 1000 trials of two processes
    creating one store), so it is retried here until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            break
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    conn.execute("PRAGMA synchronous=NORMAL")


def _set_up(conn: sqlite3.Connection, setup: Callable[[sqlite3.Connection], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")  # the write lock first: nobody else can be half-way through
    try:
        setup(conn)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
