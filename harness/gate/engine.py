"""The baseline lifecycle of a session: check before the sweep, judge each case, save, compare,
update; and what the summary says.

:meth:`BaselineGate.prepare` loads and checks the baseline when pytest starts, so a missing,
corrupt, foreign or incomparable baseline costs no sweep; :meth:`BaselineGate.case_values` is
what each case's verdict needs (shipped to xdist workers); :meth:`BaselineGate.run` compares the
finished run as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.gate.baseline import BaselineError, baseline_from_store, baseline_path, load_baseline, write_baseline
from harness.gate.comparison import Comparison, case_differences, compare, refuse_incomparable
from harness.gate.describe import comparison_lines
from harness.gate.tolerance import Tolerance
from harness.store import Store

__all__ = ["BaselineGate", "GateOutcome", "case_regressions"]


@dataclass
class GateOutcome:
    """What the gate did: lines for the terminal, whether it fails the session, what to report."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False
    baseline: dict | None = None
    comparison: Comparison | None = None


@dataclass
class BaselineGate:
    """``--leak-save-baseline``, ``--leak-compare`` and ``--leak-update-baseline`` for one session."""

    root: Path
    tolerances: dict[str, Tolerance]
    compare_name: str | None = None
    save_name: str | None = None
    update: bool = False
    command: str = "pytest benchmarks"
    baseline: dict | None = None

    @property
    def comparing(self) -> bool:
        """Whether this session compares with a baseline (rather than rewriting it)."""
        return bool(self.compare_name) and not self.update

    def prepare(self, preset: str, options: dict) -> dict | None:
        """Load and check the baseline this session compares with, before any case runs.

        Raises :class:`BaselineError` (missing, unreadable, foreign, non-finite values, another
        preset or other settings) with the reason and, for a missing one, the command that writes it.
        """
        if not self.comparing:
            return None
        name, path = self.compare_name, baseline_path(self.compare_name, self.root)
        if not path.exists():
            raise BaselineError(
                f"baseline {name!r} does not exist at {path}; write it with "
                f"`{self.command} --leak-save-baseline {name}` (or `leakage baseline save {name}`)"
            )
        baseline = load_baseline(path)
        refuse_incomparable(baseline, {"preset": preset, "options": options}, path)
        self.baseline = baseline
        return baseline

    def case_values(self) -> dict[str, dict]:
        """Per case key, the baseline's values of the gated metrics (what a case's verdict needs)."""
        if self.baseline is None:
            return {}
        return {key: {m: v for m, v in case["metrics"].items() if m in self.tolerances}
                for key, case in self.baseline["cases"].items()}

    def run(self, store: Store, run_id: str) -> GateOutcome:
        outcome = GateOutcome()
        if self.save_name:
            path = baseline_path(self.save_name, self.root)
            write_baseline(baseline_from_store(store, run_id, name=self.save_name), path)
            outcome.lines.append(f"baseline {self.save_name!r} saved: {path}")
        if self.compare_name:
            self._compare(store, run_id, outcome)
        return outcome

    def _compare(self, store: Store, run_id: str, outcome: GateOutcome) -> None:
        name, path = self.compare_name, baseline_path(self.compare_name, self.root)
        current = baseline_from_store(store, run_id, name=name)
        if self.update:
            write_baseline(current, path)
            outcome.lines.append(f"baseline {name!r} rewritten from this run ({len(current['cases'])} cases): {path}")
            return
        try:
            baseline = self.baseline or self.prepare(current["preset"], current["options"])
            comparison = compare(baseline, current, self.tolerances, path=path)
        except BaselineError as exc:
            outcome.failed = True
            outcome.lines.append(f"FAILED: {exc}")
            return
        outcome.baseline, outcome.comparison = baseline, comparison
        outcome.lines.extend(comparison_lines(comparison))
        if comparison.failed:
            outcome.failed = True
            obtained = write_baseline(current, path.with_name(path.stem + ".obtained.json"))
            outcome.lines.append(
                f"wrote {obtained}; if the change is intended, accept it with "
                f"`{self.command} --leak-compare {name} --leak-update-baseline`"
            )


def case_regressions(values: dict[str, dict], tolerances: dict[str, Tolerance], row: dict,
                     baseline_name: str) -> str | None:
    """One line naming every metric on which ``row`` is worse than its baseline case beyond
    tolerance (metric, baseline, now, change, tolerance); ``None`` when none is, or when the
    baseline does not hold this case at this seed."""
    key = f"{row['experiment']}/{row['case_id']}"
    if key not in values:
        return None
    worse, _ = case_differences(key, values[key], row, tolerances)
    if not worse:
        return None
    return f"{row['case_id']}: worse than baseline {baseline_name!r}: " + "; ".join(d.message() for d in worse)
