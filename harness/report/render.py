"""Assemble the report's sections from one run and render the single, self-contained HTML file.

Each section builder returns ``None`` when the run has no data for it, and the template leaves it
out. The template is autoescaped: every string from the store (names, paths, messages) is escaped.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd

from harness.atomic import write_atomic
from harness.cpu_load import CpuTimes, snapshot
from harness.report import compare, data, figures, summary
from harness.report.defects import defects_section
from harness.report.excess import sources_section
from harness.report.heatmaps import CMAP, PERCENTILE, build_heatmaps
from harness.report.history import history_section
from harness.report.mask_families import masks_section
from harness.report.mitigation import mitigation_section
from harness.report.spikes import SPIKE_MADS, find_spikes
from harness.report.workers import run_jobs
from harness.store import Store

__all__ = ["build_report", "render_report", "SECTIONS"]

#: Section ids and titles, in page order.
SECTIONS = (
    ("summary", "Summary"),
    ("comparison", "Comparison"),
    ("strength", "Strength"),
    ("radius", "Radius"),
    ("masks", "Masks"),
    ("mitigation", "Mitigations"),
    ("defects", "What users see"),
    ("sources", "Where it comes from"),
    ("heatmaps", "Heatmaps"),
    ("edge", "Edge profile"),
    ("floor", "VAE floor"),
    ("timing", "Timing"),
    ("history", "History"),
    ("cases", "All cases"),
)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["zip"] = zip
    env.filters["num"] = summary.format_number
    env.filters["pct"] = lambda v: "–" if v is None or not math.isfinite(v) else f"{100 * v:+.1f}%"
    env.filters["pretty_json"] = summary.pretty_json
    env.filters["collapsed"] = summary.collapsed_label
    return env


def _summary(frame: pd.DataFrame, record: dict) -> dict:
    pipeline, environment = summary.split_fingerprint(record.get("fingerprint"))
    statuses, counts = summary.status_counts(frame)
    return {"record": record, "pipeline": pipeline, "environment": environment,
            "machine": summary.flat_items(record.get("machine")),
            "options": summary.flat_items(record.get("options")), "statuses": statuses, "counts": counts,
            "time": summary.time_summary(frame), "worst": summary.worst_cases(frame),
            "flagged": summary.flagged_cases(frame), "floor": summary.floor_psnr(frame), "sd_vae": summary.SD_VAE_PSNR}


def _strength(frame: pd.DataFrame) -> dict | None:
    curves = data.strength_curves(frame)
    if curves is None:
        return None
    spikes, spread = find_spikes(frame), data.seed_spread(frame)
    bands, seeds = spread if spread is not None else (None, None)
    return {"curves": curves, "panels": figures.strength_panels(curves, spikes, bands),
            "mean": figures.strength_mean(curves), "spikes": spikes, "spike_mads": SPIKE_MADS,
            "seeds": seeds.to_dict("records") if seeds is not None else None}


def _radius(frame: pd.DataFrame) -> dict | None:
    curves = data.radius_curves(frame)
    return {"images": len(curves), "panels": figures.radius_panels(curves)} if curves else None


def _heatmaps(frame: pd.DataFrame, store_dir: Path, run_id: str) -> dict | None:
    if data.measured(frame, *data.INPAINT_EXPERIMENTS).empty:
        return None
    section = build_heatmaps(frame, store_dir, run_id)
    colorbar = figures.colorbar_figure(section.vmax, CMAP) if section.groups else None
    return {"section": section, "colorbar": colorbar, "percentile": PERCENTILE}


def _edge(frame: pd.DataFrame) -> dict | None:
    profiles = data.edge_profiles_by_strength(frame)
    if not profiles:
        return None
    return {"figure": figures.edge_figure(profiles), "strengths": len(profiles),
            "shown": len(figures.shown_strengths(profiles))}


def _floor(frame: pd.DataFrame) -> dict | None:
    rows, low, high = data.floor_rows(frame)
    if not rows:
        return None
    return {"rows": rows, "low": low, "high": high, "figure": figures.floor_figure(rows, low, high)}


def _timing(frame: pd.DataFrame) -> dict | None:
    rows = data.timing_rows(frame)
    return {"figure": figures.timing_figure(rows)} if not rows.empty else None


def _comparison(frame: pd.DataFrame, record: dict, baseline: dict | None, failures: list[dict] | None,
                aggregate: list[dict] | None) -> dict | None:
    if baseline is None:
        return None
    base_curves = compare.baseline_curves(baseline)
    curves = data.strength_curves(frame)
    figure = (figures.comparison_figure(curves, base_curves, str(baseline.get("name", "baseline")))
              if curves is not None and base_curves is not None else None)
    rows = compare.delta_rows(frame, baseline, failures)
    return {"baseline": baseline, "figure": figure, "rows": rows, "failing": sum(r["failing"] for r in rows),
            "fingerprint": compare.fingerprint_changes(baseline, record.get("fingerprint")),
            "aggregate": compare.aggregate_rows(aggregate)}


def _cases(frame: pd.DataFrame) -> dict | None:
    if not len(frame):
        return None
    # the rows are built here, with the section, so that a worker process does it
    return {"columns": summary.CASE_COLUMNS, "body": markupsafe.Markup(summary.case_rows_html(frame))}


def render_report(frame: pd.DataFrame, record: dict, *, store_dir: Path, baseline: dict | None = None,
                  gate_failures: list[dict] | None = None, aggregate: list[dict] | None = None,
                  history: dict | None = None, workers: int | None = None,
                  idle_since: CpuTimes | None = None) -> str:
    """The report's HTML for one run's rows ``frame`` and its ``record`` (see :class:`Store`).

    ``aggregate`` is the gate's group verdicts (``GroupVerdict.as_dict``), ``history`` the
    section of :func:`harness.report.history.history_section`. ``workers`` is the number of
    processes that build sections (default: one per CPU other processes leave free, up to 4; see
    :func:`harness.report.workers.run_jobs`; ``idle_since``, a :func:`harness.cpu_load.snapshot`
    from before the rows were read, lets it measure that); the page is the same with any number.
    """
    started = time.perf_counter()
    # the sections are independent: each is one job, built side by side where processes can be forked
    # the slowest first, so that the workers finish together (on 5020 rows, 2 cores: strength 0.48 s,
    # radius 0.39, heatmaps 0.32, sources 0.31, edge 0.24, defects 0.2, floor 0.15, the rest 0.12 or less)
    jobs = {
        "strength": partial(_strength, frame),
        "radius": partial(_radius, frame),
        "heatmaps": partial(_heatmaps, frame, Path(store_dir), str(record["run_id"])),
        "sources": partial(sources_section, frame),
        "edge": partial(_edge, frame),
        "defects": partial(defects_section, frame),
        "floor": partial(_floor, frame),
        "cases": partial(_cases, frame),
        "summary": partial(_summary, frame, record),
        "timing": partial(_timing, frame),
        "comparison": partial(_comparison, frame, record, baseline, gate_failures, aggregate),
        "masks": partial(masks_section, frame),
        "mitigation": partial(mitigation_section, frame),
    }
    page = {}  # jinja2 compiles the template (0.07 s on a 2-core machine) while the workers draw

    def compile_template() -> None:
        page["template"] = _environment().get_template("report.html")

    sections = run_jobs(jobs, workers=workers, idle_since=idle_since, meanwhile=compile_template)
    sections["history"] = history
    nav = [(key, title) for key, title in SECTIONS if sections[key] is not None]
    if "template" not in page:
        compile_template()
    return page["template"].render(
        run=record, sections=sections, nav=nav, generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        harness_version=_harness_version(), build_seconds=time.perf_counter() - started,
    )


def _harness_version() -> str:
    try:
        return version("inpaint-leakage")
    except PackageNotFoundError:
        return "unknown"


def build_report(store_path: str | Path, *, run_id: str | None = None, output: str | Path = "reports/leakage.html",
                 baseline: dict | None = None, gate_failures: list[dict] | None = None,
                 aggregate: list[dict] | None = None, workers: int | None = None,
                 idle_since: CpuTimes | None = None) -> Path:
    """Write the HTML report of one run (latest by default) of the store at ``store_path``.

    Raises :class:`~harness.store.StoreError` for a missing store or an unknown run, and
    :class:`~harness.report.compare.BaselineError` for a baseline in another format.
    ``workers``, ``idle_since``: see :func:`render_report` (by default the snapshot is taken here,
    so that reading the rows is the window). Returns the path written.
    """
    if baseline is not None:
        compare.check_baseline(baseline)
    if idle_since is None:
        idle_since = snapshot()  # how busy the others keep the machine while the rows are read picks the workers
    with Store(store_path) as store:  # closed at once: a reader left open keeps SQLite's -wal file
        record = store.run(run_id)
        frame = store.frame(record["run_id"], profiles=False)  # each is decoded by the section that draws it
        history = history_section(store, record["run_id"])
    html = render_report(frame, record, store_dir=store.path.parent, baseline=baseline, gate_failures=gate_failures,
                         aggregate=aggregate, history=history, workers=workers, idle_since=idle_since)
    return write_atomic(output, html)
