"""What identifies a loaded pipeline: versions, weights hash, scheduler and numeric settings.

Two runs whose fingerprints are equal computed with the same code, weights and settings, so
their results (and cached outputs) are comparable.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["HASHED_SUFFIXES", "UNHASHED_NAMES", "hash_files", "pipeline_fingerprint"]

#: Files that decide what a loaded pipeline computes: weights, configs, tokenizer files.
HASHED_SUFFIXES = (".safetensors", ".json", ".txt")
#: Metadata that does not change the computation (the embedded pipelines' training records hold
#: wall-clock seconds, so a bit-identical rebuild would otherwise hash differently).
UNHASHED_NAMES = ("training.json",)
_CHUNK = 1 << 20


def hash_files(folder: Path) -> str:
    """sha256 over the sorted relative paths and bytes of the :data:`HASHED_SUFFIXES` files
    (less :data:`UNHASHED_NAMES`).

    Configs are included on purpose: e.g. the VAE's ``scaling_factor`` lives in ``config.json``
    and changes every output. Symlinks (hub cache snapshots) are followed.
    """
    digest = hashlib.sha256()
    files = sorted(
        path for path in Path(folder).rglob("*")
        if path.suffix in HASHED_SUFFIXES and path.name not in UNHASHED_NAMES
        and path.is_file() and ".cache" not in path.parts
    )
    for path in files:
        relative = path.relative_to(folder).as_posix().encode("utf-8")
        digest.update(len(relative).to_bytes(8, "little") + relative)
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _jsonable(config: Any) -> dict:
    """A scheduler config (a FrozenDict that may hold numpy values) as plain JSON types."""
    return json.loads(json.dumps(dict(config), default=_to_builtin, sort_keys=True))


def _to_builtin(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def pipeline_fingerprint(pipe: Any, family: Any, *, ref: str, source_kind: str, weights_sha256: str,
                         device: str, dtype: str) -> dict:
    """The fingerprint dict of a loaded pipeline (JSON-serialisable); ``family`` is its adapter,
    which adds the family, denoiser, text encoders and VAE factors."""
    import diffusers
    import torch
    import transformers

    return {
        "ref": ref,
        "source": source_kind,
        "weights_sha256": weights_sha256,
        "pipeline_class": type(pipe).__name__,
        **family.describe(),
        "scheduler_class": type(pipe.scheduler).__name__,
        "scheduler_config": _jsonable(pipe.scheduler.config),
        "dtype": dtype,
        "device": device,
        # CPU kernels reduce in a thread-count-dependent order: the last bits follow it
        "torch_threads": int(torch.get_num_threads()) if device == "cpu" else None,
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
