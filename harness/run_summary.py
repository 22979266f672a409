"""A finished run in a few lines: per experiment its cases by status, mean and worst leakage and
time per case, for the terminal and as a Markdown step summary for CI (``--leak-summary-md``,
``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from harness.atomic import write_atomic

__all__ = ["ExperimentSummary", "summarize", "terminal_lines", "markdown", "write_markdown",
           "append_github_summary"]


@dataclass
class ExperimentSummary:
    """One experiment's cases: counts by status, mean and worst ``mse_outside``, seconds per case."""

    experiment: str
    cases: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    mean: float | None = None
    worst: float | None = None
    worst_case: str | None = None
    seconds: float | None = None

    def status_text(self) -> str:
        return ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))


def summarize(rows: dict[tuple[str, str], dict]) -> list[ExperimentSummary]:
    """Summaries of the rows (keyed by experiment and case id), one per experiment, by name."""
    by_experiment: dict[str, list[dict]] = defaultdict(list)
    for (experiment, _), row in sorted(rows.items()):
        by_experiment[experiment].append(row)
    out = []
    for experiment, group in by_experiment.items():
        summary = ExperimentSummary(experiment, len(group))
        for row in group:
            summary.counts[row["status"]] = summary.counts.get(row["status"], 0) + 1
        measured = [r for r in group if _finite(r.get("mse_outside"))]
        timed = [r["seconds"] for r in group if _finite(r.get("seconds"))]
        if measured:
            worst = max(measured, key=lambda r: r["mse_outside"])
            summary.mean = sum(r["mse_outside"] for r in measured) / len(measured)
            summary.worst, summary.worst_case = worst["mse_outside"], worst["case_id"]
        if timed:
            summary.seconds = sum(timed) / len(timed)
        out.append(summary)
    return out


def terminal_lines(summaries: list[ExperimentSummary]) -> list[str]:
    """One line per experiment."""
    lines = []
    for s in summaries:
        text = f"{s.experiment:<9} {s.cases:>5} cases ({s.status_text()})"
        if s.mean is not None:
            text += f"  mse_outside mean {s.mean:.2f}, worst {s.worst:.2f} ({s.worst_case})"
        if s.seconds is not None:
            text += f"  {s.seconds:.3f} s/case"
        lines.append(text)
    return lines


def markdown(summaries: list[ExperimentSummary], *, run_id: str, store: Path, gate: list[str] | str | None = None,
             report: Path | None = None) -> str:
    """The run (and its gate, as Markdown text or as plain lines) as GitHub-flavoured Markdown."""
    parts = ["### Inpainting leakage", "", f"Run `{run_id}` in `{store}`" + (f", report `{report}`" if report else ""),
             "", "| experiment | cases | statuses | mean mse_outside | worst | s/case |",
             "| --- | ---: | --- | ---: | --- | ---: |"]
    for s in summaries:
        mean = f"{s.mean:.2f}" if s.mean is not None else "–"
        worst = f"{s.worst:.2f} (`{s.worst_case}`)" if s.worst is not None else "–"
        seconds = f"{s.seconds:.3f}" if s.seconds is not None else "–"
        parts.append(f"| {s.experiment} | {s.cases} | {s.status_text()} | {mean} | {worst} | {seconds} |")
    parts.append("")
    if isinstance(gate, str):
        parts.append(gate)
    elif gate:
        parts.extend(f"- {line}" for line in gate)
    return "\n".join(parts).rstrip() + "\n"


def write_markdown(path: str | os.PathLike, text: str) -> Path:
    """Write the summary to ``path`` (atomically, like every file written for users)."""
    return write_atomic(path, text)


def append_github_summary(text: str, environ: dict | None = None) -> Path | None:
    """Append ``text`` to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions set it; return its path.

    Appending is that file's protocol (each step adds its part), so it is not replaced atomically.
    """
    target = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    return Path(target)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
