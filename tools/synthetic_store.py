"""Write a synthetic results store with plausible rows, to test and time the HTML report.

The rows follow the shapes the study found, not a pipeline: per image a magnitude ``k``
(distinct, so a curve paired with the wrong image shows), ``mse_outside = k * (9.694 s^2 -
4.105 s + 40) + noise`` along strength, growth with the disc's area along radius, a floor of
about ``40 k``, edge profiles from the real mask geometry, seconds growing with the steps run.
With ``artifacts=True`` it also writes small original/output PNGs where a run would.

Usage (sizes: ``smoke`` = the smoke preset's grid, ``paper`` = 20 x 100 + 20 x 50 x 3 + 20)::

    python tools/synthetic_store.py --size paper --out /tmp/paper.sqlite --report /tmp/paper.html
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image

from harness import masks, metrics
from harness.store import Store

__all__ = ["SIZES", "synthetic_rows", "write_store", "main"]

#: Grids: (images, strengths, radii, radius strengths, steps).
SIZES = {
    "smoke": (3, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), (0.2, 0.5, 0.8), (0.1, 0.5, 0.9), 10),
    "paper": (20, tuple(np.round(np.linspace(0, 1, 100), 2)), tuple(np.linspace(0.2, 0.8, 50)), (0.1, 0.5, 0.9), 200),
}


def _profile(height: int, width: int, radius: float, mse: float) -> dict:
    """An edge profile with the mask's real bin counts, errors falling off from the edge."""
    mask = masks.disc_mask(height, width, radius)
    zeros = np.zeros((height, width, 3))
    profile = metrics.edge_profile(zeros, zeros, masks.edge_distance(mask))  # counts only
    weights = 1.0 + 2.0 * np.exp(-np.asarray(profile["start"]) / 3.0)
    counts = np.asarray(profile["count"], dtype=float)
    scale = mse * counts.sum() / float((weights * counts).sum())
    profile["mse"] = [float(w * scale) for w in weights]
    return profile


def _row(experiment: str, image: str, size: tuple[int, int], strength, radius: float, steps: int,
         mse: float, rng: np.random.Generator) -> dict:
    height, width = size
    if experiment == "floor":
        case_id = f"{image}-r{radius:.2f}"
    else:
        case_id = f"{image}-s{strength:.2f}-r{radius:.2f}-seed0"
    run = 0 if strength is None else int(steps * strength)
    row = dict(experiment=experiment, case_id=case_id, nodeid=f"benchmarks/test_{experiment}.py::test[{case_id}]",
               image=image, strength=strength, radius=radius, seed=None if strength is None else 0,
               steps=steps, steps_run=run, height=height, width=width, status="passed", flags=[],
               seconds=float(0.05 + 0.004 * run + abs(rng.normal(0, 0.005))))
    if strength is not None and run == 0:
        row.update(status="skipped", seconds=None,
                   message=f"strength {strength:g} with {steps} steps gives 0 denoising steps")
        return row
    n_outside = int((~masks.disc_mask(height, width, radius)).sum())
    row.update(mse_outside=mse, psnr_outside=10 * math.log10(255**2 / mse), mae_outside=math.sqrt(mse) * 0.8,
               max_abs_outside=min(255.0, 6 * math.sqrt(mse)), changed_frac=0.9, mse_inside=3000.0 * (strength or 0.01),
               n_outside=n_outside, edge_profile=_profile(height, width, radius, mse))
    return row


def synthetic_rows(size: str = "smoke", *, images: list[str] | None = None, seed: int = 0) -> list[dict]:
    """The rows of one synthetic run on the grid ``SIZES[size]`` (floor, radius, strength)."""
    n_images, strengths, radii, radius_strengths, steps = SIZES[size]
    names = images or [f"img{i:02d}" for i in range(n_images)]
    rng = np.random.default_rng(seed)
    rows = []
    for i, image in enumerate(names):
        k = 1.0 + 0.25 * i
        dims = (96, 128) if i % 2 == 0 else (80, 128)
        rows.append(_row("floor", image, dims, None, 0.8, steps, k * 40 + rng.normal(0, 1), rng))
        for s in radius_strengths:
            for r in radii:
                area = float(masks.disc_mask(*dims, float(r)).mean())
                mse = k * (40 + 80 * s * area) + rng.normal(0, 1)
                rows.append(_row("radius", image, dims, s, float(r), steps, mse, rng))
        for s in strengths:
            mse = k * (9.694 * s**2 - 4.105 * s + 40) + rng.normal(0, 1)
            rows.append(_row("strength", image, dims, float(s), 0.8, steps, mse, rng))
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
        if artifacts and row.get("mse_outside") is not None:
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
