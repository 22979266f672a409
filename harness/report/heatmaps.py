"""Heatmaps: each image's worst cases as original, output and error map, all maps on one scale.

The error map is :func:`harness.metrics.error_map` of the saved original and output PNGs (per-pixel
squared error, mean over RGB, 0-255² units), shrunk to display size by box averaging (which keeps
the mean), coloured on ONE linear scale shared by every map of the report, with the mask's outline
drawn on it. The scale's top is the 99th percentile of the outside-the-mask values of all maps
shown, so leakage stays visible; brighter pixels (mostly inside the mask) are clipped.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from PIL import Image

from harness.masks import disc_mask, disc_mask_px
from harness.metrics import error_map
from harness.report.data import top_cases

__all__ = ["ArtifactError", "Heatmap", "ImageHeatmaps", "HeatmapSection", "build_heatmaps", "shared_vmax", "data_uri",
           "DISPLAY_WIDTH", "PERCENTILE", "CMAP"]

DISPLAY_WIDTH = 200  # px: images are shrunk to this width (never enlarged)
PERCENTILE = 99.0
CMAP = "inferno"
OUTLINE = (0, 229, 255)  # cyan: visible on every colour of inferno


class ArtifactError(Exception):
    """A case's saved images cannot be used (not recorded, unreadable, sizes differ)."""


@dataclass(frozen=True)
class Heatmap:
    """One case's output and error map (data URIs) and the scale its map was coloured with."""

    case: dict
    output: str
    error: str
    vmax: float


@dataclass
class ImageHeatmaps:
    """One image's original (shown once) and the heatmaps of its worst cases, worst first."""

    original: str
    maps: list[Heatmap]


@dataclass
class HeatmapSection:
    """The heatmaps grouped by image, the shared scale's top, and the cases that could not be shown."""

    groups: dict[str, ImageHeatmaps]
    vmax: float
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Loaded:
    image: str
    case: dict
    original: np.ndarray  # display size, uint8 RGB
    output: np.ndarray
    error: np.ndarray  # display size, float
    mask: np.ndarray  # display size, bool


def data_uri(picture: np.ndarray | Image.Image) -> str:
    """An RGB ``uint8`` array or a PIL image as a lossless PNG ``data:`` URI: a study of pixel
    changes must not show JPEG's own. zlib's fastest level: a third of the time of its default
    for a few percent more bytes, on the report's many photographic tiles."""
    buffer = io.BytesIO()
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    image.save(buffer, format="PNG", compress_level=1)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _display_size(height: int, width: int) -> tuple[int, int]:
    if width <= DISPLAY_WIDTH:
        return height, width
    return max(1, round(height * DISPLAY_WIDTH / width)), DISPLAY_WIDTH


def _shrink(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Box-average ``array`` (uint8 RGB, float or bool 2-D) to ``size`` = (height, width)."""
    if array.shape[:2] == size:
        return array
    height, width = size
    if array.ndim == 2:
        small = Image.fromarray(array.astype(np.float32)).resize((width, height), Image.Resampling.BOX)
        values = np.asarray(small, dtype=np.float64)
        return values >= 0.5 if array.dtype == np.bool_ else values
    return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.BOX))


def _read(path: Path, case_id: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as exc:  # includes FileNotFoundError and undecodable files
        raise ArtifactError(f"{case_id}: cannot read {path.name} ({exc.__class__.__name__})") from exc


def _load(case: dict, store_dir: Path, run_id: str, originals: dict[str, np.ndarray]) -> _Loaded:
    """Read one case's original and output, compute its error map, shrink all to display size."""
    case_id = f"{case['experiment']}/{case['case_id']}"
    if not isinstance(case.get("artifact"), str) or not case["artifact"]:
        raise ArtifactError(f"{case_id}: no output image was saved")
    image = str(case["image"])
    if image not in originals:
        originals[image] = _read(store_dir / "artifacts" / run_id / "originals" / f"{image}.png", case_id)
    original, output = originals[image], _read(store_dir / case["artifact"], case_id)
    try:
        errors = error_map(original, output)
    except ValueError as exc:
        raise ArtifactError(f"{case_id}: {exc}") from exc
    mask = _disc(case, *original.shape[:2])
    size = _display_size(*original.shape[:2])
    return _Loaded(image, case, _shrink(original, size), _shrink(output, size), _shrink(errors, size),
                   _shrink(mask, size))


def _disc(case: dict, height: int, width: int) -> np.ndarray:
    """The case's disc as drawn: from its recorded radius in pixels (the study's preparation
    floors it), or from its radius fraction for rows recorded before that."""
    radius_px = case.get("radius_px")
    if isinstance(radius_px, (int, float)) and np.isfinite(radius_px):
        return disc_mask_px(height, width, float(radius_px))
    return disc_mask(height, width, float(case["radius"]))


def shared_vmax(errors: list[np.ndarray], masks: list[np.ndarray], percentile: float = PERCENTILE) -> float:
    """The top of the one colour scale: a high percentile of all maps' outside-the-mask values
    (all values if no map has an outside), never 0."""
    outside = [e[~m] for e, m in zip(errors, masks)]
    values = np.concatenate(outside) if any(v.size for v in outside) else np.concatenate([e.ravel() for e in errors])
    vmax = float(np.percentile(values, percentile)) if values.size else 0.0
    if vmax <= 0 and values.size:
        vmax = float(values.max())
    return vmax if vmax > 0 else 1.0


def _outline(mask: np.ndarray) -> np.ndarray:
    """Masked pixels with an unmasked 4-neighbour (or on the image border)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def colourise(errors: np.ndarray, mask: np.ndarray, vmax: float) -> Image.Image:
    """The error map on the linear scale ``0..vmax`` (clipped), mask outline in cyan, as a
    palette image: 255 colours of the colour map plus the outline's, exact and small as PNG."""
    index = np.rint(np.clip(errors / vmax, 0.0, 1.0) * 254).astype(np.uint8)
    index[_outline(mask)] = 255
    palette = colormaps[CMAP](np.linspace(0.0, 1.0, 255), bytes=True)[:, :3]
    image = Image.fromarray(index)  # mode L; putpalette turns it into P, keeping the indices
    image.putpalette(np.vstack([palette, OUTLINE]).astype(np.uint8).ravel().tolist())
    return image


def build_heatmaps(frame: pd.DataFrame, store_dir: Path, run_id: str, n: int = 3) -> HeatmapSection:
    """The top-``n`` cases of every image (see :func:`~harness.report.data.top_cases`) that have
    readable artifacts, coloured on one shared scale; unusable cases are listed in ``missing``."""
    originals: dict[str, np.ndarray] = {}
    loaded, missing = [], []
    for cases in top_cases(frame, n).values():
        for case in cases:
            try:
                loaded.append(_load(case, Path(store_dir), run_id, originals))
            except ArtifactError as exc:
                missing.append(str(exc))
    if not loaded:
        return HeatmapSection({}, 1.0, missing)
    vmax = shared_vmax([item.error for item in loaded], [item.mask for item in loaded])
    groups: dict[str, ImageHeatmaps] = {}
    for item in loaded:
        if item.image not in groups:
            groups[item.image] = ImageHeatmaps(data_uri(item.original), [])
        groups[item.image].maps.append(Heatmap(item.case, data_uri(item.output),
                                               data_uri(colourise(item.error, item.mask, vmax)), vmax))
    return HeatmapSection(groups, vmax, missing)
