"""Turn a pipeline reference into a local diffusers folder.

A reference is one of

* ``"tiny"`` / ``"tiny-9ch"``: the embedded pipelines shipped in ``harness/pipelines/models/``;
* a path to a local diffusers folder (one with ``model_index.json``);
* a Hugging Face hub model id (``"owner/name"``), used from the local cache, or downloaded when
  the hub is reachable and offline mode is off.

Every route ends in a local folder, so the loader has one code path and the fingerprint can hash
exactly the files that were loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineLoadError

__all__ = ["EMBEDDED", "NotCachedError", "PipelineSource", "resolve_source", "embedded_folder"]

#: Names of the pipelines shipped inside the package.
EMBEDDED = ("tiny", "tiny-9ch")

_MODELS_DIR = Path(__file__).resolve().parent / "models"
_TRUTHY = {"1", "on", "yes", "true"}


class NotCachedError(PipelineLoadError):
    """A hub id that is not in the local cache while downloading was not allowed (but possible)."""


@dataclass(frozen=True)
class PipelineSource:
    """Where a reference's files are: ``kind`` is ``"embedded"``, ``"local"`` or ``"hub"``."""

    ref: str
    kind: str
    folder: Path


def embedded_folder(name: str) -> Path:
    """Folder of an embedded pipeline (``"tiny"`` or ``"tiny-9ch"``)."""
    if name not in EMBEDDED:
        raise ValueError(f"unknown embedded pipeline {name!r}; expected one of {EMBEDDED}")
    return _MODELS_DIR / name


def resolve_source(ref: str | os.PathLike, *, download: bool = True) -> PipelineSource:
    """Find the local diffusers folder for ``ref`` (a path may also be given as ``os.PathLike``).

    ``download=False`` never downloads: a hub id missing from the cache then raises
    :class:`NotCachedError` when the hub is reachable (offline it is the usual error).

    Raises
    ------
    PipelineLoadError
        If ``ref`` is a path that is not a diffusers folder, or a hub id that is neither cached
        nor downloadable; the message names ``ref`` and the remedy.
    """
    if isinstance(ref, os.PathLike):
        ref = os.fspath(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise PipelineLoadError(f"pipeline reference must be a non-empty string, got {ref!r}")
    if ref in EMBEDDED:
        return PipelineSource(ref, "embedded", _checked_folder(embedded_folder(ref), ref))
    path = Path(ref).expanduser()
    if path.exists() or _looks_like_path(ref):
        return PipelineSource(ref, "local", _checked_folder(path, ref))
    return PipelineSource(ref, "hub", _hub_snapshot(ref, download=download))


def _looks_like_path(ref: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else with a separator is meant as a path.
    return ref.startswith((".", "/", "~")) or "\\" in ref or ref.count("/") > 1


def _checked_folder(path: Path, ref: str) -> Path:
    if not path.is_dir():
        raise PipelineLoadError(f"pipeline folder {ref!r} does not exist (resolved to {path})")
    if not (path / "model_index.json").is_file():
        raise PipelineLoadError(
            f"{ref!r} is not a diffusers pipeline folder: {path / 'model_index.json'} is missing "
            "(save one with pipe.save_pretrained(folder), or pass a hub model id)"
        )
    return path.resolve()


def hub_offline() -> bool:
    """Whether hub access is off, read from the environment at call time.

    ``huggingface_hub`` reads ``HF_HUB_OFFLINE`` once at import; reading it again here honours a
    change made later in the process (e.g. by a test).
    """
    from huggingface_hub import constants

    from_env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY
    return from_env or bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir() -> str | None:
    """The hub cache folder from ``HF_HUB_CACHE`` or ``HF_HOME``, read at call time (None: default)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def _hub_snapshot(model_id: str, *, download: bool = True) -> Path:
    """The cached snapshot folder of ``model_id``, downloading it first when allowed."""
    from huggingface_hub import snapshot_download

    cache_dir = hub_cache_dir()
    try:
        cached = snapshot_download(model_id, cache_dir=cache_dir, local_files_only=True)
        return _checked_folder(Path(cached), model_id)
    except (OSError, ValueError, PipelineLoadError) as exc:
        cache_miss: Exception = exc
    if hub_offline():
        why = "offline mode is on (HF_HUB_OFFLINE) and it is not in the local cache"
        raise PipelineLoadError(_not_available(model_id, why, cache_dir)) from cache_miss
    if not download:
        raise NotCachedError(f"hub model {model_id!r} is not in the local cache yet") from cache_miss
    from diffusers import DiffusionPipeline

    try:
        folder = DiffusionPipeline.download(model_id, cache_dir=cache_dir, use_safetensors=True)
    except (OSError, ValueError) as exc:
        why = f"it could not be downloaded ({exc})"
        raise PipelineLoadError(_not_available(model_id, why, cache_dir)) from exc
    return _checked_folder(Path(folder), model_id)


def _not_available(model_id: str, why: str, cache_dir: str | None) -> str:
    where = f" into {cache_dir}" if cache_dir else ""
    return (
        f"hub model {model_id!r} is not available: {why}. Make it available by running "
        f"`hf download {model_id}` (or `huggingface-cli download {model_id}`) on a machine with "
        f"network access{where}, with HF_HOME pointing at the same cache here; or pass the path "
        "of a local diffusers folder (saved with save_pretrained) instead of the id"
    )
