"""Which device a process measures on, so xdist workers spread over the GPUs."""

from __future__ import annotations

__all__ = ["worker_device"]


def worker_device(requested: str, worker_id: str | None, *, cuda_count: int | None = None) -> str:
    """The device for this process.

    ``auto`` and ``cuda`` mean: on xdist worker ``gwN``, ``cuda:{N % number of GPUs}``; without
    xdist ``cuda:0``; ``auto`` falls back to ``cpu`` when there is no GPU (``cuda`` raises).
    ``cpu`` and an explicit ``cuda:N`` are used as given.
    """
    if requested == "cpu" or requested.startswith("cuda:"):
        return requested
    if requested not in ("auto", "cuda"):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu, cuda or cuda:N")
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if cuda_count == 0:
        if requested == "cuda":
            raise ValueError("--leak-device cuda was asked for, but torch sees no CUDA device")
        return "cpu"
    index = int(worker_id.removeprefix("gw")) if worker_id and worker_id.startswith("gw") else 0
    return f"cuda:{index % cuda_count}"
