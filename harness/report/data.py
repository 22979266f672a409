"""The series the report plots, taken from one run's result rows (a ``Store.frame`` DataFrame).

Nothing here measures: every number is a row's recorded metric, or a mean, count-weighted mean or
least-squares fit over rows. Repeated seeds of one case are averaged before averaging over images,
so every image weighs the same.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.masks import disc_mask
from harness.store import decoded

__all__ = [
    "Series",
    "QuadraticFit",
    "StrengthCurves",
    "EdgeProfile",
    "FloorRow",
    "measured",
    "seed_means",
    "seed_spread",
    "fit_quadratic",
    "strength_curves",
    "area_fraction",
    "mask_areas",
    "radius_curves",
    "top_cases",
    "aggregate_profiles",
    "edge_profiles_by_strength",
    "with_profiles",
    "floor_rows",
    "timing_rows",
]

#: Experiments whose cases have an inpainted output (the floor is a VAE round trip).
INPAINT_EXPERIMENTS = ("strength", "radius")


@dataclass(frozen=True)
class Series:
    """One line: ``y`` against ``x``, sorted by ``x``."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class QuadraticFit:
    """``a x^2 + b x + c`` fitted by least squares, and its coefficient of determination."""

    coefficients: tuple[float, float, float]
    r_squared: float

    def equation(self) -> str:
        """The fit as text, e.g. ``9.694x² − 4.105x + 40.000``."""
        a, b, c = self.coefficients
        sign = lambda v: "−" if v < 0 else "+"  # noqa: E731 - a one-off formatting helper
        return f"{a:.3f}x² {sign(b)} {abs(b):.3f}x {sign(c)} {abs(c):.3f}"


@dataclass(frozen=True)
class StrengthCurves:
    """The strength sweep: one curve per image, and the mean over images with its spread."""

    per_image: dict[str, Series]
    strengths: np.ndarray
    mean: np.ndarray
    std: np.ndarray  # sample standard deviation over images (0 where one image)
    images: np.ndarray  # number of images measured at each strength
    fit: QuadraticFit | None  # None with fewer than 3 strengths


@dataclass(frozen=True)
class EdgeProfile:
    """MSE outside per distance bin from the mask edge, aggregated over cases."""

    start: np.ndarray
    stop: np.ndarray  # nan for the open last bin
    mse: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class FloorRow:
    """One image's VAE floor beside its leakage at the lowest and highest measured strength."""

    image: str
    floor: float
    low: float
    high: float


def measured(frame: pd.DataFrame, *experiments: str) -> pd.DataFrame:
    """The rows (of ``experiments``, default all) that have a finite ``mse_outside``."""
    rows = frame[frame.experiment.isin(experiments)] if experiments else frame
    mse = pd.to_numeric(rows.mse_outside, errors="coerce")
    return rows[np.isfinite(mse.to_numpy(dtype=float))]


def seed_means(rows: pd.DataFrame, keys: list[str], value: str | list[str] = "mse_outside") -> pd.DataFrame:
    """Mean of ``value`` (one column or several) over repeated seeds for each combination of ``keys``."""
    return rows.groupby(keys, sort=True, dropna=False)[value].mean().reset_index()


def seed_spread(frame: pd.DataFrame) -> tuple[dict[str, Series], pd.DataFrame] | None:
    """Strength experiment with several seeds per case: per image, the lowest and highest seed's
    MSE outside at each strength (``Series.y`` = (low, high)), and a table per case (image,
    strength, seeds, mean, std, min, max) sorted by std, largest first. ``None`` when every
    case ran with one seed."""
    rows = measured(frame, "strength")
    if rows.empty:
        return None
    stats = (rows.groupby(["image", "strength"], sort=True).mse_outside.agg(["count", "mean", "std", "min", "max"])
             .reset_index().rename(columns={"count": "seeds"}))
    if stats.empty or int(stats.seeds.max()) < 2:  # empty: no row names its image and strength
        return None
    bands = {str(image): Series(group.strength.to_numpy(float),
                                np.vstack([group["min"].to_numpy(float), group["max"].to_numpy(float)]))
             for image, group in stats.groupby("image", sort=True)}
    return bands, stats.sort_values("std", ascending=False, kind="mergesort").reset_index(drop=True)


def fit_quadratic(x: np.ndarray, y: np.ndarray) -> QuadraticFit:
    """Least-squares quadratic (``numpy.polyfit`` degree 2) and R² = 1 − SS_res / SS_tot.

    R² is ``nan`` when ``y`` is constant (SS_tot = 0). Raises ``ValueError`` with fewer than 3
    distinct ``x``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.unique(x).size < 3:
        raise ValueError(f"a quadratic fit needs at least 3 distinct x values, got {np.unique(x).size}")
    coefficients = np.polyfit(x, y, 2)
    residual = float(np.sum((y - np.polyval(coefficients, x)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - residual / total if total > 0 else float("nan")
    return QuadraticFit(tuple(float(c) for c in coefficients), r_squared)


def strength_curves(frame: pd.DataFrame) -> StrengthCurves | None:
    """Curves of the strength experiment, or ``None`` when it measured nothing."""
    rows = measured(frame, "strength")
    if rows.empty:
        return None
    means = seed_means(rows, ["image", "strength"])
    per_image = {
        str(image): Series(group.strength.to_numpy(float), group.mse_outside.to_numpy(float))
        for image, group in means.groupby("image", sort=True)
    }
    if not per_image:  # no measured row names its image
        return None
    stats = means.groupby("strength", sort=True).mse_outside.agg(["mean", "std", "count"])
    strengths, mean = stats.index.to_numpy(float), stats["mean"].to_numpy(float)
    fit = fit_quadratic(strengths, mean) if strengths.size >= 3 else None
    return StrengthCurves(per_image, strengths, mean, stats["std"].fillna(0.0).to_numpy(float),
                          stats["count"].to_numpy(int), fit)


@functools.lru_cache(maxsize=4096)
def area_fraction(height: int, width: int, radius: float) -> float:
    """Share of the image's pixels inside the disc mask: ``disc_mask(height, width, radius).mean()``.

    Computed from the actual (pixelated) mask the case was measured with, not from πr².
    """
    return float(disc_mask(int(height), int(width), float(radius)).mean())


def mask_areas(rows: pd.DataFrame) -> np.ndarray:
    """Each row's mask area as recorded (``mask_area``); rows from before it was recorded get
    :func:`area_fraction` of their disc."""
    recorded = pd.to_numeric(rows.get("mask_area", pd.Series(np.nan, index=rows.index)), errors="coerce").to_numpy(float)
    return np.array([a if np.isfinite(a) else area_fraction(h, w, r)
                     for a, h, w, r in zip(recorded, rows.height, rows.width, rows.radius)], dtype=float)


def radius_curves(frame: pd.DataFrame) -> dict[str, dict[float, Series]]:
    """Radius experiment: per image (by the row's own ``image``), per strength, MSE outside
    against the disc's area fraction. Empty when the experiment measured nothing."""
    rows = measured(frame, "radius").dropna(subset=["height", "width", "radius"])
    if rows.empty:
        return {}
    rows = rows.assign(area=mask_areas(rows))
    means = seed_means(rows, ["image", "strength", "radius", "height", "width", "area"])
    curves: dict[str, dict[float, Series]] = {}
    for (image, strength), group in means.groupby(["image", "strength"], sort=True):
        group = group.sort_values("area")
        curves.setdefault(str(image), {})[float(strength)] = Series(
            group.area.to_numpy(float), group.mse_outside.to_numpy(float)
        )
    return curves


def top_cases(frame: pd.DataFrame, n: int = 3) -> dict[str, list[dict]]:
    """Per image (sorted by name), its ``n`` inpainted cases with the highest ``mse_outside``.

    Ties are broken by experiment then case id, so the choice is stable; an image with fewer
    measured cases gets them all.
    """
    rows = measured(frame, *INPAINT_EXPERIMENTS)
    ordered = rows.assign(_key=-rows.mse_outside.astype(float)).sort_values(
        ["_key", "experiment", "case_id"], kind="mergesort"
    )
    top: dict[str, list[dict]] = {str(image): [] for image in sorted(ordered.image.dropna().unique())}
    for row in ordered.groupby("image", sort=False).head(n).drop(columns="_key").to_dict("records"):
        top[str(row["image"])].append(row)  # head keeps the worst-first order
    return top


def aggregate_profiles(profiles: list[dict]) -> EdgeProfile:
    """Pool edge profiles of several cases: per bin, the count-weighted mean of their MSEs.

    Bins are matched by their ``start``; a bin missing from a case (empty there) adds nothing.
    """
    sums: dict[float, list] = {}
    for profile in profiles:
        for start, stop, mse, count in zip(profile["start"], profile["stop"], profile["mse"], profile["count"]):
            entry = sums.setdefault(float(start), [np.nan if stop is None else float(stop), 0.0, 0])
            entry[1] += float(mse) * int(count)
            entry[2] += int(count)
    starts = sorted(k for k, v in sums.items() if v[2] > 0)
    return EdgeProfile(
        start=np.asarray(starts, dtype=float),
        stop=np.asarray([sums[s][0] for s in starts], dtype=float),
        mse=np.asarray([sums[s][1] / sums[s][2] for s in starts], dtype=float),
        count=np.asarray([sums[s][2] for s in starts], dtype=int),
    )


def edge_profiles_by_strength(frame: pd.DataFrame) -> dict[float, EdgeProfile]:
    """Strength experiment: the pooled edge profile of every strength that has profiles."""
    rows = with_profiles(measured(frame, "strength"), "edge_profile")
    return {
        float(strength): aggregate_profiles(list(group.edge_profile))
        for strength, group in rows.groupby("strength", sort=True)
    }


def with_profiles(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The ``rows`` that have a non-empty profile in ``column``, decoded (a frame read with
    ``Store.frame(profiles=False)`` holds it as JSON text); no rows when the column is missing."""
    if column not in rows:
        return rows.iloc[:0]
    profiles = decoded(rows[column])
    keep = np.array([isinstance(p, dict) and bool(p.get("count")) for p in profiles], dtype=bool)
    return rows[keep].assign(**{column: [p for p, k in zip(profiles, keep) if k]})


def floor_rows(frame: pd.DataFrame) -> tuple[list[FloorRow], float | None, float | None]:
    """Each image's floor and its leakage at the lowest and highest measured strength.

    Returns the rows and the two strengths (``None`` without a measured strength sweep); an
    image not measured at one of them gets ``nan`` there.
    """
    floor = seed_means(measured(frame, "floor"), ["image"])
    if floor.empty:
        return [], None, None
    sweep = seed_means(measured(frame, "strength"), ["image", "strength"])
    low = high = None
    lookup: dict[tuple[str, float], float] = {}
    if not sweep.empty:
        low, high = float(sweep.strength.min()), float(sweep.strength.max())
        lookup = {(str(i), float(s)): float(m) for i, s, m in zip(sweep.image, sweep.strength, sweep.mse_outside)}
    rows = [
        FloorRow(str(image), float(mse), lookup.get((str(image), low), np.nan), lookup.get((str(image), high), np.nan))
        for image, mse in zip(floor.image, floor.mse_outside)
    ]
    return rows, low, high


def timing_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with both a strength and a finite time (the floor has no strength)."""
    strength = pd.to_numeric(frame.strength, errors="coerce")
    seconds = pd.to_numeric(frame.seconds, errors="coerce")
    keep = np.isfinite(strength.to_numpy(float)) & np.isfinite(seconds.to_numpy(float))
    return frame[keep].assign(strength=strength[keep], seconds=seconds[keep])
