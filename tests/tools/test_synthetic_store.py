"""tools/synthetic_store.py: the study size is the 2023 study's 5020 cases, the paper size adds the
masks and mitigation experiments, and a written store holds every row as one finished run."""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import sys
from pathlib import Path

from harness.store import Store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "synthetic_store.py"


def _tool():
    spec = importlib.util.spec_from_file_location("synthetic_store_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_study_size_is_the_studys_5020_cases():
    tool = _tool()
    rows = tool.synthetic_rows("study")
    assert collections.Counter(row["experiment"] for row in rows) == {"strength": 2000, "radius": 3000, "floor": 20}
    assert len({(row["experiment"], row["case_id"]) for row in rows}) == 5020
    assert dataclasses.replace(tool.SIZES["study"], mask_images=20) == tool.SIZES["paper"]


def test_main_writes_the_rows_as_one_finished_run(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / "smoke.sqlite"
    assert tool.main(["--size", "smoke", "--out", str(out), "--no-artifacts"]) == 0
    assert f"wrote {len(tool.synthetic_rows('smoke'))} rows" in capsys.readouterr().out
    with Store(out) as store:
        record = store.run(None)
        assert record["status"] == "passed" and len(store.frame(record["run_id"])) == 94
