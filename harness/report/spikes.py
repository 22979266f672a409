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
    rows = measured(frame, "strength")
    # one grouping for every image's seed means (as the per-image curves; pandas' own sums), then
    # plain arrays per image: a pandas grouping per image took most of the strength section's data time
    means = rows.groupby(["image", "strength"], sort=True).mse_outside.mean()
    images, strengths, values = rows.image.to_numpy(), rows.strength.to_numpy(float), rows.mse_outside.to_numpy(float)
    for image, curve in means.groupby(level="image", sort=True):
        if curve.size < MIN_STRENGTHS:
            continue
        fit = fit_quadratic(curve.index.get_level_values("strength").to_numpy(float), curve.to_numpy(float))
        at = np.flatnonzero(images == image)  # the image's rows, in frame order
        fitted = np.polyval(fit.coefficients, strengths[at])
        residual = values[at] - fitted
        mad = MAD_SCALE * float(np.median(np.abs(residual - np.median(residual))))
        if mad == 0.0:
            continue
        scores = residual / mad
        for i in np.flatnonzero(scores > SPIKE_MADS):
            row = next(rows.iloc[[at[i]]].itertuples())  # values boxed as before (a Python float seed)
            spikes.append({"image": str(image), "case_id": row.case_id, "strength": float(row.strength),
                           "seed": row.seed, "mse_outside": float(row.mse_outside), "fitted": float(fitted[i]),
                           "mads": float(scores[i])})
    return sorted(spikes, key=lambda s: (-s["mads"], s["case_id"]))
