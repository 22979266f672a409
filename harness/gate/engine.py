"""The baseline lifecycle at the end of a run: save, compare, update; and what the summary says."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.gate.baseline import (
    BaselineError,
    Comparison,
    baseline_from_store,
    baseline_path,
    compare,
    load_baseline,
    write_baseline,
)
from harness.gate.tolerance import Tolerance
from harness.store import Store

__all__ = ["BaselineGate", "GateOutcome"]

_SHOWN = 25  # failing comparisons listed in full; the rest are counted (all are in .obtained.json)


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
        if not path.exists():
            outcome.failed = True
            outcome.lines.append(
                f"FAILED: baseline {name!r} does not exist at {path}; write it with "
                f"`{self.command} --leak-save-baseline {name}` (or `leakage baseline save {name}`)"
            )
            return
        try:
            baseline = load_baseline(path)
            comparison = compare(baseline, current, self.tolerances, path=path)
        except BaselineError as exc:
            outcome.failed = True
            outcome.lines.append(f"FAILED: {exc}")
            return
        outcome.baseline, outcome.comparison = baseline, comparison
        outcome.lines.extend(self._describe(comparison))
        if comparison.failed:
            outcome.failed = True
            obtained = write_baseline(current, path.with_name(path.stem + ".obtained.json"))
            outcome.lines.append(
                f"wrote {obtained}; if the change is intended, accept it with "
                f"`{self.command} --leak-compare {name} --leak-update-baseline`"
            )

    def _describe(self, cmp: Comparison) -> list[str]:
        verdict = "FAILED" if cmp.failed else "passed"
        lines = [f"baseline {cmp.name!r} ({cmp.path}): {verdict}, {cmp.compared} cases compared, "
                 f"{len(cmp.regressions)} worse beyond tolerance, {len(cmp.improvements)} better"]
        lines.extend(f"FAILED: {p}" for p in cmp.problems)
        if cmp.regressions:
            width = max(len(d.key) for d in cmp.regressions[:_SHOWN])
            lines.append(f"  {'case':<{width}}  {'metric':<15} {'baseline':>10} {'now':>10} {'change':>9}  tolerance")
            for d in cmp.regressions[:_SHOWN]:
                rel = f"{d.change / d.baseline:+.1%}" if d.baseline else "n/a"
                lines.append(f"  {d.key:<{width}}  {d.metric:<15} {d.baseline:>10.4g} {d.current:>10.4g} "
                             f"{rel:>9}  {d.tolerance.describe()}")
            if len(cmp.regressions) > _SHOWN:
                lines.append(f"  ... and {len(cmp.regressions) - _SHOWN} more")
        if cmp.fingerprint_changes:
            lines.append("fingerprint differs from the baseline's: " + "; ".join(cmp.fingerprint_changes))
        for label, keys in (("new since the baseline", cmp.new), ("in the baseline but not measured now", cmp.gone)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys) - 8} more)" if len(keys) > 8 else "")
                lines.append(f"{len(keys)} cases {label}: {shown}")
        return lines
