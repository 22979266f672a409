"""The report's history section: the run's experiments across every run of the same preset and
pipeline in the store (:func:`harness.gate.history.run_history`), as a figure and a table.

Each point is numbered; the table says which run it is and what changed since the one before.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from harness.gate.history import RunHistory, run_history, series_records
from harness.report.figures import MSE_LABEL, label, svg_uri
from harness.store import Store

__all__ = ["history_section", "history_figure"]


def history_section(store: Store, run_id: str) -> dict | None:
    """The section's data (``None`` unless the store holds at least two runs of the series)."""
    if len(series_records(store, run_id)) < 2:
        return None  # without reading the run's rows a second time (half a second at the paper size)
    history = run_history(store, run_id)
    if len({p.run_id for p in history.points}) < 2:
        return None
    numbers = {run["run_id"]: i for i, run in enumerate(history.runs, 1)}
    rows = [{"number": numbers[run["run_id"]], "run_id": run["run_id"], "name": run.get("name"),
             "started": run["started"], "status": run["status"], "current": run["run_id"] == run_id,
             "points": {p.experiment: p for p in history.points if p.run_id == run["run_id"]},
             "changes": next((p.changes for p in history.points if p.run_id == run["run_id"]), ())}
            for run in history.runs]
    return {"history": history, "rows": rows, "experiments": history.experiments(),
            "figure": history_figure(history, numbers, run_id)}


def history_figure(history: RunHistory, numbers: dict[str, int], current: str) -> str:
    """One panel per experiment: mean MSE outside per run with its interval, in time order; runs
    whose fingerprint, machine or settings changed get a dotted line, the current run a ring."""
    experiments = history.experiments()
    figure = Figure(figsize=(7.5, 1.2 + 2.0 * len(experiments)), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(experiments), 1, sharex=True, squeeze=False).ravel())
    changed = {numbers[p.run_id]: p.changes for p in history.points if p.changes}
    for ax, experiment in zip(axes, experiments):
        series = history.series(experiment)
        x = np.array([numbers[p.run_id] for p in series])
        mean = np.array([p.mean for p in series])
        below = mean - np.array([p.low for p in series])
        above = np.array([p.high for p in series]) - mean
        for position, changes in sorted(changed.items()):
            ax.axvline(position - 0.5, color="#c0392b", linestyle=":", linewidth=1)
            if ax is axes[0]:  # what changed, once, along the line (the table lists it all)
                text = label(changes[0], 36) + (f" (+{len(changes) - 1})" if len(changes) > 1 else "")
                ax.annotate(text, (position - 0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                            textcoords="offset points", rotation=90, va="top", fontsize=7, color="#c0392b")
        ax.errorbar(x, mean, yerr=[below, above], fmt="-o", markersize=4, capsize=3, color="#1f5fa8")
        mine = [i for i, p in enumerate(series) if p.run_id == current]
        if mine:
            ax.plot(x[mine], mean[mine], "o", markersize=10, markerfacecolor="none", color="#e67e22")
        ax.set_title(label(experiment), fontsize=9)
        ax.grid(alpha=0.3)
    axes[-1].set_xticks(sorted(numbers.values()), [f"#{n}" for n in sorted(numbers.values())])
    axes[-1].set_xlabel("run, in time order (dotted: something changed since the run before)")
    figure.supylabel(MSE_LABEL, fontsize=9)
    return svg_uri(figure)
