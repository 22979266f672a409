"""How far a metric may move from its baseline, and in which direction that is worse.

A change is allowed up to ``max(abs, rel x |baseline|)``; only a change in the worse direction
beyond that fails. Exactly at the limit passes. Defaults can be overridden per metric::

    [tool.leakage.tolerances]
    mse_outside = { rel = 0.05, abs = 0.5 }
    psnr_outside = { abs = 0.5, direction = "higher" }
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Tolerance", "DEFAULT_TOLERANCES", "parse_tolerances"]


@dataclass(frozen=True)
class Tolerance:
    """``direction`` is the better direction: ``lower`` for errors, ``higher`` for PSNR."""

    rel: float = 0.0
    abs: float = 0.0
    direction: str = "lower"

    def limit(self, baseline: float) -> float:
        return max(self.abs, self.rel * abs(baseline))

    def judge(self, baseline: float, current: float) -> str:
        """``worse`` / ``better`` (beyond the tolerance) or ``same``."""
        if baseline == current:  # covers inf == inf
            return "same"
        if math.isinf(baseline) or math.isinf(current):
            worse = current < baseline if self.direction == "higher" else current > baseline
            return "worse" if worse else "better"
        change = current - baseline if self.direction == "lower" else baseline - current
        allowed = self.limit(baseline)
        if change > allowed:
            return "worse"
        if change < -allowed:
            return "better"
        return "same"

    def describe(self) -> str:
        sign = "+" if self.direction == "lower" else "-"
        parts = [f"{sign}{self.rel:.0%}" if self.rel else "", f"{sign}{self.abs:g}" if self.abs else ""]
        return " or ".join(p for p in parts if p) or "exact"


#: What the gate compares unless configured otherwise (seconds are for pytest-benchmark, not here).
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "mse_outside": Tolerance(rel=0.10, abs=1.0),
    "mae_outside": Tolerance(rel=0.10, abs=0.1),
    "max_abs_outside": Tolerance(rel=0.25, abs=8.0),
    "changed_frac": Tolerance(rel=0.10, abs=0.02),
}

_KNOWN = ("mse_outside", "psnr_outside", "mae_outside", "max_abs_outside", "changed_frac", "mse_inside", "seconds",
          "color_shift_outside", "ssim_outside", "detail_loss_outside", "seam", "mse_floor", "mse_excess")
_HIGHER_IS_BETTER = ("psnr_outside", "ssim_outside")


def parse_tolerances(table) -> dict[str, Tolerance]:
    """Defaults overridden by ``[tool.leakage.tolerances]``; ``ValueError`` naming a bad entry."""
    if table is None:
        return dict(DEFAULT_TOLERANCES)
    if not isinstance(table, dict):
        raise ValueError("[tool.leakage.tolerances] must be a table of metric = { rel, abs, direction }")
    out = dict(DEFAULT_TOLERANCES)
    for metric, spec in table.items():
        where = f"[tool.leakage.tolerances] {metric}"
        if metric not in _KNOWN:
            raise ValueError(f"{where}: unknown metric; expected one of {', '.join(_KNOWN)}")
        if spec is False:  # `metric = false` leaves a metric out of the gate
            out.pop(metric, None)
            continue
        if not isinstance(spec, dict) or set(spec) - {"rel", "abs", "direction"}:
            raise ValueError(f"{where} must be {{ rel = ..., abs = ..., direction = 'lower'|'higher' }} or false")
        direction = spec.get("direction", "higher" if metric in _HIGHER_IS_BETTER else "lower")
        for key in ("rel", "abs"):
            value = spec.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}: {key} must be a finite number >= 0, got {value!r}")
        if direction not in ("lower", "higher"):
            raise ValueError(f"{where}: direction must be 'lower' or 'higher', got {direction!r}")
        # a configured entry replaces the default whole: what is written is what applies
        out[metric] = Tolerance(float(spec.get("rel", 0.0)), float(spec.get("abs", 0.0)), direction)
    return out
