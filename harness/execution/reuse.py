"""Measurement keys, reuse and resume.

A **measurement key** identifies a result: the pipeline's fingerprint (weights hash, library
versions, dtype, device kind, torch threads), the options that change outputs (size, resize,
prompt, guidance, paste-back, batch size), the case less its experiment (see
:func:`harness.execution.groups.identity`) with the bytes of the user's image and mask files, and
the result columns this harness records. Equal keys mean the row can be copied instead of computed:

* ``--leak-reuse`` copies the newest measured row with the same key from any run in the store;
* ``--leak-resume [RUN]`` reopens an interrupted or died run whose options and fingerprint equal
  this session's, and copies its own rows, so only the cases it lacks are computed.

The key needs the fingerprint, which is known only once a process has loaded the pipeline, so
each process computes keys itself and reads the store (read-only) before measuring a case.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from harness.cases import Case
from harness.execution.groups import identity
from harness.liveness import DIED
from harness.store import RESULT_COLUMNS, Store, StoreError

__all__ = ["OUTPUT_OPTIONS", "RESUMABLE", "comparable_fingerprint", "measurement_key", "ReuseSource", "reused_row",
           "option_differences", "fingerprint_differences", "resumable_run"]

#: Recorded options that change a case's output (the case, the pipeline and its scheduler are
#: keyed separately, through the case and the fingerprint).
OUTPUT_OPTIONS = ("max_side", "resize", "prompt", "guidance_scale", "paste_back", "batch_size")
#: Options a resumed run may differ in: where and how results are written, not what they are.
NOT_COMPARED = ("run_name", "store", "summary_md", "artifacts", "reuse", "batch")
#: The run statuses ``--leak-resume`` continues.
RESUMABLE = ("interrupted", DIED, "error")
_NOT_COPIED = ("nodeid", "status", "message", "recorded")
_VERDICT_FLAGS = ("threshold", "regression")  # judged again in the session that copies the row


def comparable_fingerprint(fingerprint: dict) -> dict:
    """``fingerprint`` with its device reduced to its kind (``cuda:1`` computes what ``cuda:0`` does)."""
    device = str(fingerprint.get("device") or "")
    return {**fingerprint, "device": device.split(":")[0]}


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(path: str | None) -> str | None:
    if path is None:
        return None
    stat = os.stat(path)
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def measurement_key(fingerprint: dict, options: dict, case: Case) -> str:
    """The sha256 (hex) that identifies ``case``'s result under ``fingerprint`` and the run's
    recorded ``options`` (see the module's docstring for what goes in)."""
    measured = identity(case)
    payload = {
        "fingerprint": comparable_fingerprint(fingerprint),
        "options": {name: options.get(name) for name in OUTPUT_OPTIONS},
        "case": {**measured.as_dict(), "image_sha256": _digest(measured.image.path),
                 "mask_sha256": _digest(measured.image.mask)},
        "columns": list(RESULT_COLUMNS),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ReuseSource:
    """Measured rows of a store to copy: from any run, or from ``run_id`` only (a resumed run)."""

    def __init__(self, store: Store, run_id: str | None = None):
        self.store = store
        self.run_id = run_id
        self._absent = False

    def find(self, key: str) -> dict | None:
        """The newest measured row with ``key``, or ``None`` (also when there is no store yet)."""
        if self._absent:
            return None
        try:
            return self.store.find_result(key, run_id=self.run_id)
        except StoreError:
            self._absent = not self.store.path.exists()
            if self._absent:
                return None
            raise


def reused_row(source: dict, case: Case, run_id: str) -> dict:
    """``source`` (a stored row of an identical measurement) as ``case``'s row in run ``run_id``:
    the case's own experiment and id, its verdict to be judged again, and in ``reused_from`` the
    run that computed it (unchanged when a resumed run copies its own row)."""
    row = {column: source.get(column) for column in RESULT_COLUMNS if column not in _NOT_COPIED}
    row.update(experiment=case.experiment, case_id=case.case_id, mitigation=case.mitigation)
    row["flags"] = [flag for flag in (source.get("flags") or []) if flag not in _VERDICT_FLAGS]
    if source["run_id"] != run_id:
        row["reused_from"] = source.get("reused_from") or source["run_id"]
    return row


def _differences(recorded: dict, current: dict, ignore: tuple[str, ...]) -> list[str]:
    keys = sorted((set(recorded) | set(current)) - set(ignore))
    return [f"{key}: {recorded.get(key)!r} recorded, {current.get(key)!r} now"
            for key in keys if recorded.get(key) != current.get(key)]


def option_differences(recorded: dict, current: dict, *, ignore: tuple[str, ...] = NOT_COMPARED) -> list[str]:
    """Lines naming each option whose recorded value differs from the current one."""
    return _differences(recorded, current, ignore)


def fingerprint_differences(recorded: dict, current: dict, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Lines naming each fingerprint entry that differs (device compared by kind)."""
    return _differences(comparable_fingerprint(recorded), comparable_fingerprint(current), ignore)


def resumable_run(store: Store, wanted: str | None) -> dict:
    """The run ``--leak-resume`` continues: ``wanted`` (an id or unique prefix), or the latest
    interrupted or died run.

    Raises
    ------
    ValueError
        When there is none, or the run asked for finished (or is still running).
    StoreError
        When the store cannot be read.
    """
    if not store.path.exists():
        raise ValueError(f"--leak-resume: no interrupted or died run in {store.path} to resume (there is no store)")
    if wanted is None:
        candidates = [run for run in store.runs().to_dict("records") if run["status"] in RESUMABLE]
        if not candidates:
            raise ValueError(f"--leak-resume: no interrupted or died run in {store.path} to resume")
        wanted = candidates[-1]["run_id"]
    run = store.run(wanted)
    if run["status"] not in RESUMABLE:
        why = (f"is still running (pid {run['pid']} on {run['host']})" if run["status"] == "running"
               else f"finished as {run['status']}")
        raise ValueError(f"--leak-resume: run {run['run_id']} {why}; only an interrupted or died run can be resumed")
    return run
