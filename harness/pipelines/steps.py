"""How many denoising steps a strength leaves, without importing torch.

``harness.cases`` uses :func:`steps_run` to report strengths whose step count rounds to zero as
skipped (with the reason) instead of calling the pipeline, which would raise.
"""

from __future__ import annotations

__all__ = ["steps_run"]


def steps_run(steps: int, strength: float) -> int:
    """Number of scheduler steps an img2img/inpaint call keeps for ``strength``.

    Mirrors diffusers' ``get_timesteps``: ``min(int(steps * strength), steps)``, including its
    float truncation (``steps_run(100, 0.29) == 28`` because ``100 * 0.29`` is ``28.999...``).
    Zero means the pipeline would refuse the call. Schedulers of order > 1, and PNDM, run more
    UNet evaluations than this; :class:`harness.pipelines.Timing` records the true count.

    Raises
    ------
    ValueError
        If ``steps`` is not a positive integer or ``strength`` is outside [0, 1].

    Examples
    --------
    >>> steps_run(10, 0.5), steps_run(10, 0.05), steps_run(100, 0.29)
    (5, 0, 28)
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")
    return min(int(steps * strength), steps)
