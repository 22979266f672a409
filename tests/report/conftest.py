"""Fixtures of the report tests: hand-made rows in a temporary store, and the synthetic store of
``tools/synthetic_store.py`` (smoke-sized, with artifacts) shared by the whole session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from harness.store import Store

REPO = Path(__file__).resolve().parents[2]


def _load_synthetic():
    spec = importlib.util.spec_from_file_location("synthetic_store", REPO / "tools" / "synthetic_store.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


synthetic_store = _load_synthetic()


def make_row(image: str = "coffee", strength: float | None = 0.5, radius: float = 0.8, *,
             experiment: str = "strength", mse: float | None = 50.0, seed: int | None = 0, **fields) -> dict:
    """A plausible result row; ``mse=None`` leaves the metrics empty (a skipped/errored case)."""
    if experiment == "floor":
        case_id, strength, seed = f"{image}-r{radius:.2f}", None, None
    else:
        case_id = f"{image}-s{strength:.2f}-r{radius:.2f}-seed{seed}"
    row = dict(experiment=experiment, case_id=case_id, image=image, strength=strength, radius=radius, seed=seed,
               steps=10, steps_run=0 if strength is None else int(10 * strength), height=64, width=96,
               status="passed", flags=[], seconds=0.1 + (strength or 0))
    if mse is not None:
        row.update(mse_outside=mse, psnr_outside=30.0, mae_outside=5.0, max_abs_outside=20.0, changed_frac=0.5,
                   mse_inside=900.0, n_outside=4000)
    row.update(fields)
    return row


def write_rows(path: Path, rows: list[dict], *, run_id: str = "run-1", fingerprint: dict | None = None) -> Path:
    """A store at ``path`` holding one finished run of ``rows``."""
    store = Store(path)
    store.start_run(run_id, name="test run", preset="smoke", options={"preset": "smoke"})
    store.set_fingerprint(run_id, fingerprint or {"model": "tiny", "torch": "2.x"})
    for row in rows:
        store.add_result(run_id, row)
    store.finish_run(run_id, "passed")
    return path


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory) -> Path:
    """A smoke-sized synthetic store with artifacts (74 rows: 4 skipped, all experiments)."""
    path = tmp_path_factory.mktemp("smoke") / "leakage.sqlite"
    synthetic_store.write_store(path, synthetic_store.synthetic_rows("smoke"), artifacts=True)
    return path


@pytest.fixture(name="make_row")
def make_row_fixture():
    """:func:`make_row`, for tests (conftest modules are not imported by name)."""
    return make_row


@pytest.fixture
def store_of(tmp_path):
    """A factory: ``store_of(rows, **kw)`` writes one run of ``rows`` into a new store, returns its path."""
    counter = iter(range(1000))

    def factory(rows: list[dict], **kwargs) -> Path:
        return write_rows(tmp_path / f"store{next(counter)}" / "leakage.sqlite", rows, **kwargs)

    return factory
