"""``leakage export``: JSON records and CSV, the JSON columns as JSON in both."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from harness.cli import main
from harness.store import Store

PROFILE = {"start": [0.0, 2.0], "stop": [2.0, None], "mse": [12.5, 3.0], "count": [40, 7]}


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "leakage.sqlite")
    store.start_run("r1", name=None, preset="smoke", options={})
    store.add_result("r1", {"experiment": "strength", "case_id": "coffee-s0.50-r0.80-seed0", "status": "passed",
                            "seed": 0, "mse_outside": 0.0, "psnr_outside": math.inf, "flags": ["threshold"],
                            "edge_profile": PROFILE})
    store.add_result("r1", {"experiment": "floor", "case_id": "coffee-r0.80", "status": "skipped",
                            "message": 'a "quoted", message'})
    store.finish_run("r1", "passed")
    return store


def test_json_export_round_trips_through_a_strict_parser(store, tmp_path, capsys):
    target = tmp_path / "rows.json"
    assert main(["--store", str(store.path), "export", "--json", str(target)]) == 0
    assert "wrote 2 rows of run r1" in capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    rows = {r["case_id"]: r for r in json.loads(target.read_text(), parse_constant=refuse)}
    measured = rows["coffee-s0.50-r0.80-seed0"]
    assert measured["flags"] == ["threshold"] and measured["edge_profile"] == PROFILE
    assert measured["psnr_outside"] == "inf" and measured["mse_outside"] == 0.0 and measured["seed"] == 0
    skipped = rows["coffee-r0.80"]
    assert skipped["mse_outside"] is None and skipped["flags"] is None and skipped["message"] == 'a "quoted", message'


def test_json_export_to_standard_output(store, capsys):
    assert main(["--store", str(store.path), "export", "r1", "--json", "-"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_csv_export_writes_json_columns_as_json(store, tmp_path):
    target = tmp_path / "rows.csv"
    assert main(["--store", str(store.path), "export", "--csv", str(target)]) == 0
    frame = pd.read_csv(target).set_index("case_id")
    assert json.loads(frame.loc["coffee-s0.50-r0.80-seed0", "flags"]) == ["threshold"]
    assert json.loads(frame.loc["coffee-s0.50-r0.80-seed0", "edge_profile"]) == PROFILE
    assert pd.isna(frame.loc["coffee-r0.80", "edge_profile"])


def test_export_needs_exactly_one_format(store, capsys):
    with pytest.raises(SystemExit):
        main(["--store", str(store.path), "export"])
    with pytest.raises(SystemExit):
        main(["--store", str(store.path), "export", "--csv", "a.csv", "--json", "b.json"])
    assert "not allowed with argument" in capsys.readouterr().err
