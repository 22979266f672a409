"""Spikes: strength cases far above their image's fitted strength curve.

The study saw "random spikes" in its curves. Here a spike is a measured case whose MSE outside
lies more than 3 scaled MADs above its image's least-squares quadratic in strength (fitted to the
seed means, as the strength section's fit): the median absolute deviation of the residuals is
robust to the spikes themselves, and an image whose residuals do not vary (a MAD of 0) has none.
With few strengths the fit bends towards a spike, so spikes are looked for only in images with
at least 6 measured strengths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.data import fit_quadratic, measured

__all__ = ["MAD_SCALE", "SPIKE_MADS", "MIN_STRENGTHS", "find_spikes"]

#: Scales a median absolute deviation to a standard deviation for normal data.
MAD_SCALE = 1.4826
#: How many scaled MADs above the fit make a spike.
SPIKE_MADS = 3.0
#: Fewer measured strengths than this leave too few residuals to judge (the fit has 3 parameters).
MIN_STRENGTHS = 6


def find_spikes(frame: pd.DataFrame) -> list[dict]:
    """Every strength case more than :data:`SPIKE_MADS` scaled MADs above its image's fitted
    curve, largest first: ``image``, ``case_id``, ``strength``, ``seed``, ``mse_outside``,
    ``fitted`` and ``mads`` (how many scaled MADs above the fit). Images with fewer than
    :data:`MIN_STRENGTHS` measured strengths are not judged."""
    spikes = []
    for image, rows in measured(frame, "strength").groupby("image", sort=True):
        means = rows.groupby("strength", sort=True).mse_outside.mean()
        if means.size < MIN_STRENGTHS:
            continue
        fit = fit_quadratic(means.index.to_numpy(float), means.to_numpy(float))
        fitted = np.polyval(fit.coefficients, rows.strength.to_numpy(float))
        residual = rows.mse_outside.to_numpy(float) - fitted
        mad = MAD_SCALE * float(np.median(np.abs(residual - np.median(residual))))
        if mad == 0.0:
            continue
        for row, value, score in zip(rows.itertuples(), fitted, residual / mad):
            if score > SPIKE_MADS:
                spikes.append({"image": str(image), "case_id": row.case_id, "strength": float(row.strength),
                               "seed": row.seed, "mse_outside": float(row.mse_outside), "fitted": float(value),
                               "mads": float(score)})
    return sorted(spikes, key=lambda s: (-s["mads"], s["case_id"]))
