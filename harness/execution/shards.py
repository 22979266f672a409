"""Shards: a deterministic 1/N of the selected cases per machine, and ``leakage merge``.

``--leak-shard K/N`` keeps whole groups (see :mod:`harness.execution.groups`), assigned greedily
to the least loaded shard in order of decreasing estimated cost (steps run x pixels; ties by the
group's first node id), so the same selection gives every shard the same share on any machine.
Items outside groups (skipped cases, other tests) go by a stable hash of their node id.

Each shard writes its own store; :func:`merge_shards` joins their runs into one run of another
store after checking that they measured the same thing (preset, options less the shard, and
pipeline fingerprint; the device may differ and is listed in the merged run's machine record).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from harness.atomic import write_atomic
from harness.execution.groups import Group
from harness.execution.reuse import fingerprint_differences, option_differences
from harness.store import Store, StoreError, new_run_id

__all__ = ["Shard", "parse", "shard_nodeids", "merge_shards", "MergeError"]

#: Options that may differ between the shards of one run.
SHARD_OPTIONS = ("shard", "store", "run_name", "summary_md", "artifacts", "reuse")


class MergeError(ValueError):
    """The shards cannot be merged; the message says which differ and how."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int


def parse(value: str) -> Shard:
    """``"K/N"`` (as :func:`harness.options.parse_shard` normalised it)."""
    index, count = (int(part) for part in value.split("/"))
    return Shard(index, count)


def shard_nodeids(groups: list[Group], others: list[str], shard: Shard) -> set[str]:
    """The node ids shard ``shard`` runs: its groups, and its share of ``others`` (items in no group)."""
    loads = [0.0] * shard.count
    kept: set[str] = set()
    for group in sorted(groups, key=lambda g: (-g.cost, g.nodeids[0])):
        target = min(range(shard.count), key=lambda i: (loads[i], i))
        loads[target] += group.cost
        if target == shard.index - 1:
            kept.update(group.nodeids)
    kept.update(n for n in others if zlib.crc32(n.encode()) % shard.count == shard.index - 1)
    return kept


def _shard_runs(paths: list[Path]) -> list[tuple[Path, Store, dict]]:
    runs = []
    for path in paths:
        store = Store(path)
        run = store.run()
        if run["status"] in ("running", "died", "interrupted"):
            raise MergeError(f"{path}: its run {run['run_id']} is {run['status']}; finish it first "
                             "(`pytest ... --leak-resume` continues an interrupted or died run)")
        if not run["options"].get("shard"):
            raise MergeError(f"{path}: run {run['run_id']} is not a shard (it ran without --leak-shard)")
        runs.append((path, store, run))
    return runs


def _check_alike(runs: list[tuple[Path, Store, dict]]) -> None:
    """Every shard measured what the first did, and together they are all N shards once."""
    first_path, _, first = runs[0]
    for path, _, run in runs[1:]:
        problems = [f"preset: {first['preset']!r} vs {run['preset']!r}"] if run["preset"] != first["preset"] else []
        problems += option_differences(first["options"], run["options"], ignore=SHARD_OPTIONS)
        problems += ["fingerprint " + line for line in fingerprint_differences(first["fingerprint"], run["fingerprint"],
                                                                               ignore=("device",))]
        if problems:
            raise MergeError(f"{path} did not measure what {first_path} did: " + "; ".join(problems))
    shards = [parse(run["options"]["shard"]) for _, _, run in runs]
    count = shards[0].count
    seen = [s.index for s in shards]
    missing = sorted(set(range(1, count + 1)) - set(seen))
    doubled = sorted({i for i in seen if seen.count(i) > 1})
    if any(s.count != count for s in shards) or missing or doubled:
        raise MergeError(f"the stores hold shards {', '.join(run['options']['shard'] for _, _, run in runs)}; "
                         f"a merge needs each of 1/{count} to {count}/{count} once"
                         + (f" (missing: {', '.join(map(str, missing))})" if missing else ""))


def _copy_artifacts(shard_store: Path, shard_run: str, out_store: Path, run_id: str, row: dict) -> None:
    """Copy a row's output PNG (and its image's original) next to ``out_store``, under ``run_id``."""
    source_root, target_root = shard_store.parent, out_store.parent
    original = Path("artifacts") / shard_run / "originals" / f"{row['image']}.png"
    target_original = target_root / "artifacts" / run_id / "originals" / f"{row['image']}.png"
    if (source_root / original).is_file() and not target_original.exists():
        write_atomic(target_original, (source_root / original).read_bytes())
    if isinstance(row.get("artifact"), str) and (source_root / row["artifact"]).is_file():
        relative = Path(row["artifact"])
        parts = relative.parts
        if row.get("reused_from") is None and len(parts) > 2 and parts[1] == shard_run:
            relative = Path("artifacts", run_id, *parts[2:])
        target = target_root / relative
        if not target.exists():
            write_atomic(target, (source_root / row["artifact"]).read_bytes())
        row["artifact"] = relative.as_posix()


def merge_shards(out: Path, paths: list[Path]) -> tuple[str, int, list[str]]:
    """Join the latest run of each shard store in ``paths`` into one new run of store ``out``.

    Returns the merged run's id, its row count and the devices the shards ran on. The merged run
    has the shards' preset, options (``shard`` unset), fingerprint (the first shard's device) and
    a status of ``failed`` if any shard failed; its machine record lists every shard's.

    Raises
    ------
    MergeError
        When the shards differ in what they measured, are unfinished, or are not all N shards.
    StoreError
        When a store cannot be read or ``out`` cannot be written.
    """
    if not paths:
        raise MergeError("name at least one shard store")
    runs = _shard_runs(paths)
    _check_alike(runs)
    first = runs[0][2]
    target = Store(out)
    run_id = new_run_id()
    devices = [str(run["fingerprint"].get("device")) for _, _, run in runs]
    shards = [{"store": str(path), "run_id": run["run_id"], "shard": run["options"]["shard"],
               "device": run["fingerprint"].get("device"), "host": run["host"], "machine": run["machine"]}
              for path, _, run in runs]
    target.start_run(run_id, name=f"merged {len(runs)} shards", preset=first["preset"],
                     options={**first["options"], "shard": None})
    try:
        target.set_fingerprint(run_id, first["fingerprint"])
        target.set_machine(run_id, {**first["machine"], "shards": shards})
        count = 0
        for path, store, run in runs:
            for row in store.rows(run["run_id"]):
                row.pop("run_id")
                _copy_artifacts(path, run["run_id"], Path(out), run_id, row)
                target.add_result(run_id, row)
                count += 1
        failed = [run for _, _, run in runs if run["status"] != "passed"]
        target.finish_run(run_id, "failed" if failed else "passed",
                          f"failed in shard {', '.join(r['options']['shard'] for r in failed)}" if failed else None)
    except (StoreError, OSError) as exc:
        target.finish_run(run_id, "error", f"merge stopped: {exc}")
        raise
    finally:
        target.close()
    return run_id, count, devices
