"""The ``leakage`` command: look at, compare and export what runs recorded.

Running the experiments is pytest's job (``pytest benchmarks``); this command reads the store,
read-only: it never changes the store file, whatever it finds there (``merge`` writes only the
store it is given as OUT). Every foreseeable problem
(no store, a foreign or damaged file, a folder that cannot be written) is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from pathlib import Path

from harness import cpu_load, heap
from harness.gate.baseline import BaselineError
from harness.store import Store, StoreError

__all__ = ["main"]

DEFAULT_STORE = "reports/leakage.sqlite"


def _cmd_runs(args: argparse.Namespace) -> int:
    runs = Store(args.store).runs()
    if runs.empty:
        print(f"no runs in {args.store}")
        return 0
    columns = ["run_id", "name", "preset", "status", "cases", "started", "finished"]
    print(runs[columns].to_string(index=False, na_rep="-"))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from harness.export import records, write_csv, write_json

    store = Store(args.store)
    run_id = store.run(args.run)["run_id"]
    frame = store.frame(run_id)
    if args.json == "-":
        print(json.dumps(records(frame), indent=1, allow_nan=False))
        return 0
    target = Path(args.json or args.csv)
    try:
        out = write_json(frame, target) if args.json else write_csv(frame, target)
    except OSError as exc:
        return _cannot_write(target, exc)
    print(f"wrote {len(frame)} rows of run {run_id} to {out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.gate.commands import compare_command

    return compare_command(args.store, args.a, args.b, root=Path(args.root), as_json=args.json)


def _cmd_history(args: argparse.Namespace) -> int:
    from harness.gate.commands import history_command

    return history_command(args.store, args.run, as_json=args.json)


def _cmd_baseline_save(args: argparse.Namespace) -> int:
    from harness.gate import baseline_from_store, baseline_path, write_baseline

    store = Store(args.store)
    document = baseline_from_store(store, args.run, name=args.name)
    path = write_baseline(document, baseline_path(args.name, Path(args.root)))
    print(f"saved baseline {args.name!r} from run {document['run_id']} ({len(document['cases'])} cases): {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    # how busy other processes keep the CPUs while this one imports and reads the rows decides
    # how many report workers to fork (harness.cpu_load): a window of a second, not a tenth
    idle_since = cpu_load.snapshot()
    # matplotlib and jinja2 load only for this command; where the process ends with it, their
    # import runs without the collector's full scans (see harness.heap)
    with heap.collector_paused() if args.process_ends else contextlib.nullcontext():
        from harness.report import build_report

    try:
        path = build_report(args.store, run_id=args.run, output=args.output, idle_since=idle_since)
    except OSError as exc:  # the output path is a folder, read-only, ...
        return _cannot_write(Path(args.output), exc)
    print(path)
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from harness.execution.shards import MergeError, merge_shards

    try:
        run_id, count, devices = merge_shards(Path(args.out), [Path(p) for p in args.shards])
    except MergeError as exc:
        print(f"leakage merge: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        return _cannot_write(Path(args.out), exc)
    print(f"merged {count} rows of {len(args.shards)} shards into run {run_id} of {args.out} "
          f"(devices: {', '.join(sorted(set(devices)))})")
    return 0


def _cannot_write(path: Path, exc: OSError) -> int:
    print(f"leakage: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leakage", description="Read what `pytest benchmarks` recorded: list runs, export rows, write the report, "
                    "save and compare baselines, follow leakage across runs."
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help=f"results store [default: {DEFAULT_STORE}]")
    sub = parser.add_subparsers(dest="command", required=True)

    runs = sub.add_parser("runs", help="list the runs in the store")
    runs.set_defaults(func=_cmd_runs)

    export = sub.add_parser("export", help="write one run's rows as CSV or JSON records")
    export.add_argument("run", nargs="?", default=None, help="run id or unique prefix [default: latest]")
    form = export.add_mutually_exclusive_group(required=True)
    form.add_argument("--csv", metavar="PATH", help="write CSV (flags and edge_profile as JSON text)")
    form.add_argument("--json", metavar="PATH", help="write a JSON array of records ('-': standard output)")
    export.set_defaults(func=_cmd_export)

    compare = sub.add_parser("compare", help="compare run or baseline B with A, as the gate does (exit 1: B regressed)")
    compare.add_argument("a", metavar="A", help="the reference: a run id (or unique prefix) or a baseline name")
    compare.add_argument("b", metavar="B", help="the one judged: a run id (or unique prefix) or a baseline name")
    compare.add_argument("--root", default=".", help="project folder holding baselines/ and pyproject.toml [default: .]")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.set_defaults(func=_cmd_compare)

    history = sub.add_parser("history", help="mean mse_outside per experiment across the runs of one preset and pipeline")
    history.add_argument("--run", default=None, help="a run of the series: run id or unique prefix [default: latest]")
    history.add_argument("--json", action="store_true", help="print the points as JSON")
    history.set_defaults(func=_cmd_history)

    report = sub.add_parser("report", help="write one run's self-contained HTML report")
    report.add_argument("--store", default=argparse.SUPPRESS, help="results store (also accepted before 'report')")
    report.add_argument("--run", default=None, metavar="RUN", help="run id or unique prefix [default: latest]")
    report.add_argument("-o", "--output", default="reports/leakage.html", metavar="PATH",
                        help="where to write the HTML [default: reports/leakage.html]")
    report.set_defaults(func=_cmd_report)

    merge = sub.add_parser("merge", help="join the runs of --leak-shard K/N stores into one run of store OUT")
    merge.add_argument("out", metavar="OUT", help="the store to add the merged run to (created if missing)")
    merge.add_argument("shards", metavar="SHARD", nargs="+", help="the shards' stores (the latest run of each)")
    merge.set_defaults(func=_cmd_merge)

    baseline = sub.add_parser("baseline", help="manage saved baselines")
    baseline_sub = baseline.add_subparsers(dest="baseline_command", required=True)
    save = baseline_sub.add_parser("save", help="save a run as baselines/NAME.json")
    save.add_argument("name", help="baseline name (or a path ending in .json)")
    save.add_argument("--run", default=None, help="run id or unique prefix [default: latest]")
    save.add_argument("--root", default=".", help="project folder holding baselines/ [default: .]")
    save.set_defaults(func=_cmd_baseline_save)
    return parser


def run() -> None:
    """The ``leakage`` console script: :func:`main`, then exit with its code.

    The process ends right after, so the objects alive now (modules, a report's rows) are frozen
    out of the garbage collector first: the interpreter's last full collection would walk them
    all for nothing, about a tenth of ``leakage report``'s time on a paper-sized run.
    """
    code = main(process_ends=True)
    gc.freeze()
    raise SystemExit(code)


def main(argv: list[str] | None = None, *, process_ends: bool = False) -> int:
    """What the ``leakage`` command does with ``argv`` (default: the command line); returns the
    exit code. ``process_ends``: the process exits right after (the console script), so the
    libraries a command imports may be frozen out of the garbage collector (:mod:`harness.heap`)."""
    args = build_parser().parse_args(argv)
    args.process_ends = process_ends
    try:
        return args.func(args)
    except (StoreError, BaselineError) as exc:
        print(f"leakage: {exc}", file=sys.stderr)
        return 2
