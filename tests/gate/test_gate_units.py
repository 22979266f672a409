"""Thresholds, tolerances and the baseline file format, without running a pipeline."""

from __future__ import annotations

import argparse
import json
import tomllib

import pytest

from harness.gate import (
    BaselineError,
    Threshold,
    Tolerance,
    baseline_from_store,
    baseline_path,
    check_thresholds,
    load_baseline,
    parse_limit_arg,
    parse_threshold_table,
    parse_tolerances,
    write_baseline,
)
from harness.gate.comparison import compare, fingerprint_diff
from harness.store import Store

ROW = {"experiment": "strength", "case_id": "coffee-s0.40-r0.80-seed0", "strength": 0.4, "mse_outside": 61.0}


# -- thresholds --------------------------------------------------------------------------------


def test_threshold_names_case_metric_value_and_limit():
    (limit,) = parse_threshold_table([{"experiment": "strength", "metric": "mse_outside", "max": 60,
                                       "strength": [0.0, 0.5]}])
    message = limit.fails(ROW)
    assert message == ("coffee-s0.40-r0.80-seed0: mse_outside = 61 > limit 60 "
                       "(experiment strength, strength 0..0.5, [[tool.leakage.thresholds]] #1)")


@pytest.mark.parametrize("row_change, fails", [
    ({"mse_outside": 60.0}, False),           # exactly at the limit passes
    ({"mse_outside": 60.000001}, True),
    ({"strength": 0.6}, False),               # outside the strength range: not this limit's business
    ({"experiment": "radius"}, False),
    ({"mse_outside": float("nan")}, False),   # unmeasured rows fail for their own reason
])
def test_threshold_applies_only_where_configured(row_change, fails):
    limit = Threshold("mse_outside", max=60, experiment="strength", strength=(0.0, 0.5))
    assert (limit.fails({**ROW, **row_change}) is not None) is fails


def test_min_threshold_and_check_collects_all():
    limits = [Threshold("mse_outside", max=10), Threshold("psnr_outside", min=40)]
    messages = check_thresholds(limits, {**ROW, "psnr_outside": 30.0})
    assert len(messages) == 2 and "psnr_outside = 30 < limit 40" in messages[1]


@pytest.mark.parametrize("entries, message", [
    ({"metric": "mse_outside"}, "array of tables"),
    (["x"], "#1 must be a table"),
    ([{"metric": "mse", "max": 1}], "unknown metric 'mse'"),
    ([{"metric": "mse_outside"}], "give max and/or min"),
    ([{"metric": "mse_outside", "max": "60"}], "max must be a number"),
    ([{"metric": "mse_outside", "max": 1, "min": 2}], "min 2 is above max 1"),
    ([{"metric": "mse_outside", "max": 1, "experiment": "width"}], "unknown experiment 'width'"),
    ([{"metric": "mse_outside", "max": 1, "strength": [0.5]}], "strength must be a range"),
    ([{"metric": "mse_outside", "max": 1, "strength": [0.6, 0.2]}], "must lie within"),
    ([{"metric": "mse_outside", "max": 1, "colour": "red"}], "unknown keys colour"),
])
def test_threshold_config_errors_name_the_entry(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_threshold_table(entries)


def test_limit_argument_parser():
    limit = parse_limit_arg("max")("mse_outside=60")
    assert limit == Threshold("mse_outside", max=60.0, source="--leak-max")
    for bad, message in (("mse_outside", "not METRIC=VALUE"), ("foo=1", "unknown metric 'foo'"),
                         ("mse_outside=lots", "'lots' in 'mse_outside=lots' is not a number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse_limit_arg("max")(bad)


# -- tolerances -------------------------------------------------------------------------------


def test_tolerance_edge_exactly_at_the_limit_passes_just_over_fails():
    tol = Tolerance(rel=0.10, abs=1.0)  # baseline 40: allowed change max(1, 4) = 4
    assert tol.judge(40.0, 44.0) == "same"
    assert tol.judge(40.0, 44.0 + 1e-9) == "worse"
    assert tol.judge(40.0, 36.0) == "same"
    assert tol.judge(40.0, 35.9) == "better"
    assert Tolerance(rel=0.10, abs=1.0).judge(2.0, 3.0) == "same"  # abs floor wins for small values
    assert Tolerance(rel=0.10, abs=1.0).judge(2.0, 3.01) == "worse"


def test_higher_is_better_direction_and_infinities():
    psnr = Tolerance(abs=0.5, direction="higher")
    assert psnr.judge(30.0, 29.4) == "worse" and psnr.judge(30.0, 31.0) == "better"
    assert psnr.judge(float("inf"), 60.0) == "worse"
    assert psnr.judge(float("inf"), float("inf")) == "same"


def test_tolerance_config_overrides_and_errors():
    tols = parse_tolerances({"mse_outside": {"rel": 0.05}, "changed_frac": False, "psnr_outside": {"abs": 0.5}})
    assert tols["mse_outside"] == Tolerance(rel=0.05, abs=0.0)
    assert "changed_frac" not in tols
    assert tols["psnr_outside"].direction == "higher"
    for table, message in (({"mse": {}}, "unknown metric"), ({"mse_outside": {"rel": -1}}, "rel must be"),
                           ({"mse_outside": {"direction": "up"}}, "direction must be"),
                           ({"mse_outside": 3}, "must be")):
        with pytest.raises(ValueError, match=message):
            parse_tolerances(table)


@pytest.mark.parametrize("value", ["nan", "inf", "+inf", "-nan"])
def test_tolerances_that_are_not_finite_are_refused(value):
    # TOML has nan and inf literals; a nan limit would make every comparison pass
    table = tomllib.loads(f"mse_outside = {{ rel = {value} }}")
    with pytest.raises(ValueError, match=r"^\[tool.leakage.tolerances\] mse_outside: rel must be a finite number >= 0, got"):
        parse_tolerances(table)


# -- baseline files ---------------------------------------------------------------------------


def _store_with_run(tmp_path, values, *, preset="smoke", fingerprint=None):
    store = Store(tmp_path / "s.sqlite")
    run_id = f"run-{len(store.runs()) if store.path.exists() else 0}"
    store.start_run(run_id, name=None, preset=preset, options={"steps": 10, "max_side": 128})
    store.set_fingerprint(run_id, fingerprint or {"diffusers": "0.41.0", "model": "tiny"})
    for case_id, mse in values.items():
        store.add_result(run_id, {"experiment": "strength", "case_id": case_id, "image": "coffee", "strength": 0.5,
                                  "radius": 0.8, "seed": 0, "status": "passed" if mse is not None else "skipped",
                                  "mse_outside": mse, "psnr_outside": float("inf") if mse == 0 else 30.0,
                                  "seconds": 0.1})
    store.finish_run(run_id, "passed")
    return store, run_id


def test_baseline_from_store_keeps_measured_rows_and_round_trips(tmp_path):
    store, run_id = _store_with_run(tmp_path, {"a": 40.0, "b": 0.0, "c": None})
    doc = baseline_from_store(store, run_id, name="x")
    assert sorted(doc["cases"]) == ["strength/a", "strength/b"]  # the skipped case has nothing to keep
    assert doc["cases"]["strength/a"]["metrics"]["mse_outside"] == 40.0
    assert doc["cases"]["strength/b"]["metrics"]["psnr_outside"] == "inf"
    path = write_baseline(doc, tmp_path / "baselines" / "x.json")
    assert load_baseline(path) == json.loads(path.read_text())


def test_compare_finds_regressions_new_gone_and_fingerprint_changes(tmp_path):
    store, first = _store_with_run(tmp_path, {"a": 40.0, "b": 40.0, "gone": 1.0})
    before = baseline_from_store(store, first, name="x")
    store, second = _store_with_run(tmp_path, {"a": 44.0, "b": 44.5, "new": 1.0},
                                    fingerprint={"diffusers": "0.42.1", "model": "tiny"})
    now = baseline_from_store(store, second, name="x")
    result = compare(before, now, parse_tolerances(None), path=tmp_path / "x.json")
    assert [(d.key, d.metric) for d in result.regressions] == [("strength/b", "mse_outside")]
    assert result.compared == 2 and result.new == ["strength/new"] and result.gone == ["strength/gone"]
    assert result.fingerprint_changes == ["diffusers 0.41.0 -> 0.42.1"]
    assert result.failed


def test_compare_refuses_another_preset_or_settings(tmp_path):
    store, run_id = _store_with_run(tmp_path, {"a": 40.0})
    doc = baseline_from_store(store, run_id, name="x")
    with pytest.raises(BaselineError, match="preset 'paper', this run uses 'smoke'"):
        compare({**doc, "preset": "paper"}, doc, {}, path=tmp_path / "x.json")
    with pytest.raises(BaselineError, match="steps 50 -> 10"):
        compare({**doc, "options": {**doc["options"], "steps": 50}}, doc, {}, path=tmp_path / "x.json")


def test_a_baseline_from_before_resize_existed_was_cropped(tmp_path):
    store, run_id = _store_with_run(tmp_path, {"a": 40.0})
    old = baseline_from_store(store, run_id, name="x")
    assert "resize" not in old["options"]
    cropped = {**old, "options": {**old["options"], "resize": "crop"}}
    assert compare(old, cropped, {}, path=tmp_path / "x.json").compared == 1
    with pytest.raises(BaselineError, match="resize 'crop' -> 'study'"):
        compare(old, {**old, "options": {**old["options"], "resize": "study"}}, {}, path=tmp_path / "x.json")


def test_the_new_metrics_are_gateable():
    tols = parse_tolerances({"ssim_outside": {"abs": 0.01}, "seam": {"rel": 0.1}, "mse_excess": {"abs": 2}})
    assert tols["ssim_outside"].direction == "higher" and tols["seam"].direction == "lower"
    assert tols["ssim_outside"].judge(0.9, 0.88) == "worse" and tols["seam"].judge(1.0, 1.2) == "worse"
    assert parse_threshold_table([{"metric": "color_shift_outside", "max": 3}])[0].fails(
        {"case_id": "c", "color_shift_outside": 5.0}) == "c: color_shift_outside = 5 > limit 3 ([[tool.leakage.thresholds]] #1)"


def test_nothing_compared_is_a_failure_not_a_pass(tmp_path):
    store, run_id = _store_with_run(tmp_path, {"a": 40.0})
    doc = baseline_from_store(store, run_id, name="x")
    result = compare({**doc, "cases": {}}, doc, parse_tolerances(None), path=tmp_path / "x.json")
    assert result.failed and "nothing was compared" in result.problems[0]


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"hello": 1}', "is not a leakage baseline"),
    ('{"schema": 99, "cases": {}}', "has schema 99; this harness reads schema 1 or 2"),
    ('{"schema": 1, "name": "b", "options": {}, "cases": {"a": 3}}', "case 'a' has no metrics table"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mse_outside": NaN}}}}', "case 's/a' metric mse_outside is NaN"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mae_outside": null}}}}', "case 's/a' metric mae_outside is null"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mse_outside": "1"}}}}', "mse_outside is '1', not a number"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mse_outside": true}}}}', "mse_outside is True, not a number"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mse_outside": Infinity}}}}', "mse_outside is inf"),
    ('{"schema": 2, "name": "b", "options": {}, "cases": {"s/a": {"metrics": {"mse_outside": "inf"}}}}', "mse_outside is 'inf', not a number"),
])
def test_corrupt_or_foreign_baselines_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=message):
        load_baseline(path)


def test_an_unreadable_baseline_is_refused_clearly(tmp_path):
    (tmp_path / "b.json").mkdir()
    with pytest.raises(BaselineError, match=r"baseline .*b.json cannot be read: Is a directory"):
        load_baseline(tmp_path / "b.json")


def test_an_unchanged_psnr_may_be_infinite_and_schema_1_is_still_read(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"schema": 1, "name": "b", "options": {}, "cases": {"s/a": {"seed": 0.0, "metrics": {"psnr_outside": "inf", "mse_outside": 0}}}}')
    assert load_baseline(path)["cases"]["s/a"]["metrics"]["psnr_outside"] == "inf"


def test_a_baseline_leaves_unmeasured_metrics_out_and_keeps_integer_seeds(tmp_path):
    store, run_id = _store_with_run(tmp_path, {"a": 40.0})
    store.add_result(run_id, {"experiment": "floor", "case_id": "coffee-r0.80", "status": "passed",
                              "mse_outside": 5.0, "mse_inside": float("nan")})
    doc = baseline_from_store(store, run_id, name="x")
    assert doc["schema"] == 2 and doc["seeds"] == [0]
    assert doc["cases"]["strength/a"]["seed"] == 0 and isinstance(doc["cases"]["strength/a"]["seed"], int)
    assert doc["cases"]["floor/coffee-r0.80"]["seed"] is None
    assert "mse_inside" not in doc["cases"]["floor/coffee-r0.80"]["metrics"]
    load_baseline(write_baseline(doc, tmp_path / "x.json"))  # what the harness writes, it reads


_GOOD = {"schema": 1, "name": "b", "preset": "smoke", "options": {}, "fingerprint": {},
         "cases": {"strength/x": {"metrics": {"mse_outside": 1.5, "psnr_outside": "inf"}}}}


@pytest.mark.parametrize("change, message", [
    ({"cases": {"strength/x": {"metrics": {"mse_outside": "abc"}}}},
     "case 'strength/x' metric mse_outside is 'abc', not a number; every metric value must be a finite number"),
    ({"cases": {"strength/x": {"metrics": {"changed_frac": True}}}},
     "case 'strength/x' metric changed_frac is True, not a number; every metric value must be a finite number"),
    ({"options": None}, "key 'options' must be a table, found None"),
    ({"fingerprint": "abc"}, "key 'fingerprint' must be a table, found 'abc'"),
    ({"name": None}, "key 'name' must be a string, found None"),
])
def test_baseline_values_of_the_wrong_type_are_refused_naming_file_case_and_key(tmp_path, change, message):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_GOOD))
    assert load_baseline(path) == _GOOD  # the unchanged document is accepted
    path.write_text(json.dumps({**_GOOD, **change}))
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert str(info.value) == f"baseline {path}: {message}"


def test_a_baseline_without_a_name_is_refused(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({k: v for k, v in _GOOD.items() if k != "name"}))
    with pytest.raises(BaselineError, match=r"b.json: key 'name' must be a string, it is missing$"):
        load_baseline(path)


def test_writing_a_baseline_where_no_file_can_be_is_a_baseline_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BaselineError, match=r"cannot write baseline .*file/x.json: Not a directory"):
        write_baseline(_GOOD, blocker / "x.json")
    assert blocker.read_text() == "not a folder"


def test_baseline_paths(tmp_path):
    assert baseline_path("tiny-smoke", tmp_path) == tmp_path / "baselines" / "tiny-smoke.json"
    assert baseline_path("elsewhere/b.json", tmp_path) == tmp_path / "elsewhere" / "b.json"
    with pytest.raises(BaselineError, match="plain name"):
        baseline_path("../x", tmp_path)


def test_fingerprint_diff_recurses_and_shortens():
    changes = fingerprint_diff({"scheduler": {"steps_offset": 1}, "hash": "a" * 64},
                               {"scheduler": {"steps_offset": 0}, "hash": "b" * 64})
    assert changes[0].startswith("hash aaaaaaaaaaaa…aaaaaa -> bbbbbbbbbbbb…")
    assert changes[1] == "scheduler.steps_offset 1 -> 0"
