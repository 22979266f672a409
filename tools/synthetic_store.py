"""Write a synthetic results store with plausible rows, to test and time the HTML report.

The rows follow the shapes the study found, not a pipeline: per image a magnitude ``k``
(distinct, so a curve paired with the wrong image shows), ``mse_outside = k * (9.694 s^2 -
4.105 s + 40) + noise`` along strength, growth with the disc's area along radius, a floor of
about ``40 k``, edge profiles from the real mask geometry, seconds growing with the steps run.
Every inpainted row also carries the defects users see, its excess over the floor and a texture
profile; the masks and mitigation experiments get rows of their own (on the first image only at
the smoke size, as the smoke preset does). The smoke size repeats the first image's strength
sweep over two seeds and plants one spike (``img01`` at strength 0.6), so every section of the
report has something to show. With ``artifacts=True`` it also writes small original/output PNGs
where a run would.

Usage (sizes: ``smoke`` = the smoke preset's grid, ``study`` = the 2023 study's 5020 rows, 20 x 100
strength + 20 x 50 x 3 radius + 20 floor cases, ``paper`` = ``study`` plus 800 mask and 200
mitigation cases)::

    python tools/synthetic_store.py --size study --out /tmp/paper.sqlite --report /tmp/paper.html
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image

from harness import masks, metrics
from harness.mitigations import MITIGATIONS
from harness.store import Store

__all__ = ["SIZES", "Grid", "synthetic_rows", "write_store", "main"]


@dataclasses.dataclass(frozen=True)
class Grid:
    """The design of a synthetic run."""

    images: int
    strengths: tuple[float, ...]
    radii: tuple[float, ...]
    radius_strengths: tuple[float, ...]
    steps: int
    mask_images: int  # the masks and mitigation experiments use the first N images
    mask_areas: tuple[float, ...]
    mask_strengths: tuple[float, ...]
    mitigation_strengths: tuple[float, ...]
    first_image_seeds: int  # seeds of the first image's strength sweep
    spike: tuple[int, float] | None  # (image index, strength) of a planted spike


SIZES = {
    "smoke": Grid(3, tuple(np.round(np.linspace(0, 1, 11), 1)), (0.2, 0.5, 0.8), (0.1, 0.5, 0.9), 10, 1, (0.1, 0.3), (0.5,),
                  (0.5, 1.0), 2, (1, 0.6)),
    "paper": Grid(20, tuple(np.round(np.linspace(0, 1, 100), 2)), tuple(np.linspace(0.2, 0.8, 50)), (0.1, 0.5, 0.9),
                  200, 20, (0.1, 0.2, 0.3, 0.4), (0.5, 0.9), (0.5, 1.0), 1, None),
}
# the 2023 study's own design: the paper grid without the masks and mitigation experiments
SIZES["study"] = dataclasses.replace(SIZES["paper"], mask_images=0)
# synthetic leakage of each family relative to the disc's, and of each mitigation relative to none
_FAMILY_FACTOR = {"disc": 1.0, "box": 1.05, "strokes-thin": 1.3, "strokes-medium": 1.18, "strokes-thick": 1.1}
_MITIGATION = {"none": (1.0, 2.0), "paste": (0.0, 3.6), "blend": (0.08, 2.7), "crop": (0.0, 3.4),
               "dilate": (1.25, 2.2)}  # (leakage factor, seam)


@functools.lru_cache(maxsize=None)
def _disc(height: int, width: int, radius: float) -> tuple[dict, int, float]:
    """The disc mask's edge-distance bins (counts only), its outside pixel count and its area.
    Cached: the grid measures each disc many times (a study-sized store in 1 s instead of 20)."""
    mask = masks.disc_mask(height, width, radius)
    zeros = np.zeros((height, width, 3))
    return metrics.edge_profile(zeros, zeros, masks.edge_distance(mask)), int((~mask).sum()), float(mask.mean())


def _profile(height: int, width: int, radius: float, mse: float) -> dict:
    """An edge profile with the mask's real bin counts, errors falling off from the edge."""
    profile = copy.deepcopy(_disc(height, width, radius)[0])
    weights = 1.0 + 2.0 * np.exp(-np.asarray(profile["start"]) / 3.0)
    counts = np.asarray(profile["count"], dtype=float)
    scale = mse * counts.sum() / float((weights * counts).sum())
    profile["mse"] = [float(w * scale) for w in weights]
    return profile


def _texture(n_outside: int, floor: float, excess: float, rng: np.random.Generator) -> dict:
    """Five equal-count texture bins: the floor's error grows with texture, the excess barely."""
    counts = [len(part) for part in np.array_split(np.arange(n_outside), 5)]
    ramp = np.array([0.3, 0.6, 1.0, 1.4, 1.7])
    return {"low": [0.0, 3.0, 7.0, 12.0, 20.0], "high": [3.0, 7.0, 12.0, 20.0, 60.0],
            "floor": list(floor * ramp), "excess": list(excess * (1 + 0.05 * ramp)), "count": counts,
            "texture_rho_floor": float(0.5 + rng.normal(0, 0.05)), "texture_rho_excess": float(rng.normal(0.03, 0.02))}


def _row(experiment: str, image: str, size: tuple[int, int], strength, radius: float | None, steps: int,
         mse: float, rng: np.random.Generator, *, seed: int = 0, floor: float | None = None, **fields) -> dict:
    height, width = size
    if experiment == "floor":
        case_id = f"{image}-r{radius:.2f}"
    elif experiment == "masks":
        case_id = f"{image}-{fields['mask']}-a{fields['area']:.2f}-s{strength:.2f}-seed{seed}"
    elif experiment == "mitigation":
        case_id = f"{image}-{fields['mitigation']}-s{strength:.2f}-r{radius:.2f}-seed{seed}"
    else:
        case_id = f"{image}-s{strength:.2f}-r{radius:.2f}-seed{seed}"
    run = 0 if strength is None else int(steps * strength)
    row = dict(experiment=experiment, case_id=case_id, nodeid=f"benchmarks/test_{experiment}.py::test[{case_id}]",
               image=image, strength=strength, radius=radius, seed=None if strength is None else seed,
               steps=steps, steps_run=run, height=height, width=width, status="passed", flags=[],
               seconds=float(0.05 + 0.004 * run + abs(rng.normal(0, 0.005))), **{"mask": "disc", **fields})
    if strength is not None and run == 0:
        row.update(status="skipped", seconds=None,
                   message=f"strength {strength:g} with {steps} steps gives 0 denoising steps")
        return row
    _, n_outside, area = _disc(height, width, radius if radius is not None else 0.5)
    row.setdefault("mask_area", area)
    row.update(mse_outside=mse, psnr_outside=10 * math.log10(255**2 / mse) if mse > 0 else math.inf,
               mae_outside=math.sqrt(mse) * 0.8, max_abs_outside=min(255.0, 6 * math.sqrt(mse)), changed_frac=0.9,
               mse_inside=3000.0 * (strength or 0.01), n_outside=n_outside,
               edge_profile=_profile(height, width, radius or 0.5, mse) if mse > 0 else None)
    if radius is not None:
        row["radius_px"] = masks.disc_radius_px(height, width, radius)
    s = strength or 0.0
    floor = mse if floor is None else floor
    shift = (1.0 + 2.0 * s + rng.normal(0, 0.1), -0.5 + s + rng.normal(0, 0.1), 0.3 + rng.normal(0, 0.1))
    row.update(color_shift_r=shift[0], color_shift_g=shift[1], color_shift_b=shift[2],
               color_shift_outside=max(abs(v) for v in shift), ssim_outside=0.92 - 0.25 * s * min(1.0, mse / floor),
               detail_loss_outside=0.5 + 0.3 * s, seam=row.pop("seam", 1.0 + 2.0 * s),
               mse_floor=floor, mse_excess=mse - floor)
    if mse > 0:
        row["excess_profile"] = _profile(height, width, radius or 0.5, abs(mse - floor) + 1e-9)
    texture = _texture(n_outside, floor, mse - floor, rng)
    row.update({name: texture.pop(name) for name in ("texture_rho_floor", "texture_rho_excess")}, texture_profile=texture)
    return row


def _extra_rows(grid: Grid, image: str, k: float, dims: tuple[int, int], floor: float,
                rng: np.random.Generator) -> list[dict]:
    """The masks and mitigation experiments' rows of one image."""
    rows = []
    for family in masks.MASK_FAMILIES:
        for area in grid.mask_areas:
            for s in grid.mask_strengths:
                mse = _FAMILY_FACTOR[family] * k * (40 + 9.694 * s**2 + 30 * area) + rng.normal(0, 1)
                rows.append(_row("masks", image, dims, s, None, grid.steps, mse, rng, floor=floor, mask=family,
                                 area=area, mask_area=float(area + rng.normal(0, 0.002)),
                                 seam=1.0 + s + 0.5 * _FAMILY_FACTOR[family]))
    for s in grid.mitigation_strengths:
        base = k * (9.694 * s**2 - 4.105 * s + 40) + rng.normal(0, 1)
        for name in MITIGATIONS:
            factor, seam = _MITIGATION[name]
            width = {"blend": 4, "crop": 8, "dilate": 8}.get(name)
            rows.append(_row("mitigation", image, dims, s, 0.5, grid.steps, base * factor, rng, floor=floor,
                             mitigation=name, mitigation_px=width, seam=seam * (1 + s)))
    return rows


def synthetic_rows(size: str = "smoke", *, images: list[str] | None = None, seed: int = 0) -> list[dict]:
    """The rows of one synthetic run on the grid ``SIZES[size]`` (floor, radius, strength, masks, mitigation)."""
    grid = SIZES[size]
    names = images or [f"img{i:02d}" for i in range(grid.images)]
    rng = np.random.default_rng(seed)
    rows = []
    for i, image in enumerate(names):
        k = 1.0 + 0.25 * i
        dims = (96, 128) if i % 2 == 0 else (80, 128)
        floor = k * 40 + rng.normal(0, 1)
        rows.append(_row("floor", image, dims, None, 0.8, grid.steps, floor, rng))
        for s in grid.radius_strengths:
            for r in grid.radii:
                area = _disc(*dims, float(r))[2]
                mse = k * (40 + 80 * s * area) + rng.normal(0, 1)
                rows.append(_row("radius", image, dims, s, float(r), grid.steps, mse, rng, floor=floor))
        for seed_index in range(grid.first_image_seeds if i == 0 else 1):
            for s in grid.strengths:
                mse = k * (9.694 * s**2 - 4.105 * s + 40) + rng.normal(0, 1 + seed_index)
                if grid.spike == (i, float(s)):
                    mse += 50 * k
                rows.append(_row("strength", image, dims, float(s), 0.8, grid.steps, mse, rng, seed=seed_index,
                                 floor=floor))
        if i < grid.mask_images:
            rows += _extra_rows(grid, image, k, dims, floor, rng)
    return rows


def _picture(height: int, width: int, index: int) -> np.ndarray:
    """A smooth, distinct picture per image (gradients and a stripe)."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1) + 37 * index) % 256
    green = (y * 255 // max(height - 1, 1) + 91 * index) % 256
    blue = np.where((x // 16 + y // 16 + index) % 3 == 0, 200, 60)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def _output(original: np.ndarray, row: dict, rng: np.random.Generator) -> np.ndarray:
    """The original with noise of about the row's MSE outside, repainted inside the disc."""
    out = original.astype(np.float64) + rng.normal(0, math.sqrt(row["mse_outside"]), original.shape)
    mask = masks.disc_mask(row["height"], row["width"], row["radius"])
    out[mask] = (255 * row["strength"] if row["strength"] is not None else out[mask])
    return np.clip(out, 0, 255).astype(np.uint8)


def write_store(path: str | Path, rows: list[dict], *, run_id: str = "synthetic-run", artifacts: bool = False,
                preset: str = "synthetic", fingerprint: dict | None = None, seed: int = 0) -> str:
    """Record ``rows`` as one finished run in a (new or existing) store; returns the run id."""
    store = Store(path)
    store.start_run(run_id, name="synthetic", preset=preset, options={"preset": preset, "prompt": ""})
    store.set_fingerprint(run_id, fingerprint or {"model": "tiny", "diffusers": "0.0-synthetic",
                                                  "torch": "0.0-synthetic", "dtype": "float32", "device": "cpu"})
    root = Path(path).parent
    rng = np.random.default_rng(seed)
    originals: dict[str, np.ndarray] = {}
    for row in rows:
        row = dict(row)
        if artifacts and row.get("mse_outside") is not None and row["experiment"] in ("strength", "radius", "floor"):
            if row["image"] not in originals:
                originals[row["image"]] = _picture(row["height"], row["width"], len(originals))
            original = originals[row["image"]]
            base = root / "artifacts" / run_id
            _save(original, base / "originals" / f"{row['image']}.png")
            out_path = base / row["experiment"] / f"{row['case_id']}.png"
            _save(_output(original, row, rng), out_path)
            row["artifact"] = str(out_path.relative_to(root))
        store.add_result(run_id, row)
    store.finish_run(run_id, "passed")
    return run_id


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        Image.fromarray(array).save(path)


def main(argv: list[str] | None = None) -> int:
    """Write a synthetic store and, with ``--report``, time rendering its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--out", required=True, help="store path (a new file)")
    parser.add_argument("--no-artifacts", action="store_true", help="write no PNGs")
    parser.add_argument("--report", help="also render the report to this path and print time and size")
    args = parser.parse_args(argv)
    rows = synthetic_rows(args.size)
    start = time.perf_counter()
    write_store(args.out, rows, artifacts=not args.no_artifacts, preset=args.size)
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - start:.1f} s")
    if args.report:
        from harness.report import build_report

        start = time.perf_counter()
        out = build_report(args.out, output=args.report)
        print(f"report {out}: {out.stat().st_size / 1e6:.2f} MB in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
