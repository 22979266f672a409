"""The noise-aware aggregate and the comparison around it, on hand-made baseline documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gate import Tolerance, parse_tolerances
from harness.gate.aggregate import aggregate, condition_of
from harness.gate.comparison import compare, machine_diff
from harness.gate.describe import comparison_lines, comparison_markdown
from harness.gate.stats import bootstrap_mean

MSE = {"mse_outside": Tolerance(rel=0.10, abs=1.0)}


def case(image: str, seed: int | None, mse: float, *, strength: float | None = 0.5, experiment="strength",
         **metrics) -> tuple[str, dict]:
    case_id = f"{image}-r0.80" if strength is None else f"{image}-s{strength:.2f}-r0.80-seed{seed}"
    return f"{experiment}/{case_id}", {"experiment": experiment, "case_id": case_id, "image": image,
                                       "strength": strength, "radius": 0.8, "seed": seed,
                                       "metrics": {"mse_outside": mse, **metrics}}


def doc(*cases, **fields) -> dict:
    return {"schema": 2, "name": "b", "preset": "smoke", "options": {}, "cases": dict(cases), **fields}


def test_condition_drops_only_the_seed():
    _, strength = case("coffee", 3, 1.0)
    _, floor = case("coffee", None, 1.0, strength=None, experiment="floor")
    assert condition_of(strength) == ("strength", "coffee-s0.50-r0.80")
    assert condition_of(floor) == ("floor", "coffee-r0.80")


def test_same_seeds_are_paired_and_a_group_fails_only_beyond_the_limit():
    base = doc(case("a", 0, 100.0), case("b", 0, 200.0))
    worse = doc(case("a", 0, 120.0), case("b", 0, 260.0))  # +20 % and +30 %: the whole interval is beyond 10 %
    (verdict,) = aggregate(base["cases"], worse["cases"], MSE)
    assert verdict.paired == 2 and verdict.n == 2 and verdict.verdict == "worse"
    assert verdict.interval == bootstrap_mean([0.2, 0.3])
    mixed = doc(case("a", 0, 105.0), case("b", 0, 240.0))  # +5 % and +20 %: the interval reaches below 10 %
    assert aggregate(base["cases"], mixed["cases"], MSE)[0].verdict == "within"
    better = doc(case("a", 0, 80.0), case("b", 0, 150.0))
    assert aggregate(base["cases"], better["cases"], MSE)[0].verdict == "better"


def test_other_seeds_are_compared_with_the_baselines_mean_over_seeds():
    base = doc(case("a", 0, 100.0), case("a", 1, 300.0))  # mean 200
    now = doc(case("a", 7, 220.0), case("a", 8, 180.0))
    (verdict,) = aggregate(base["cases"], now["cases"], MSE)
    assert verdict.paired == 0
    assert verdict.interval == bootstrap_mean([0.1, -0.1])
    assert verdict.verdict == "within"


def test_groups_are_per_experiment_and_strength_and_skip_unusable_values():
    base = doc(case("a", 0, 100.0, strength=0.5), case("a", 0, 100.0, strength=1.0),
               case("a", None, 50.0, strength=None, experiment="floor"), case("gone", 0, 1.0))
    now = doc(case("a", 0, 100.0, strength=0.5), case("a", 0, float("nan"), strength=1.0),
              case("a", None, 50.0, strength=None, experiment="floor"), case("new", 0, 1.0))
    verdicts = aggregate(base["cases"], now["cases"], MSE)
    assert [(v.experiment, v.strength, v.n) for v in verdicts] == [("floor", None, 1), ("strength", 0.5, 1)]


def test_an_absolute_floor_keeps_zero_leakage_comparable():
    # the paste-back control: 0 before; 0.5 after is within the absolute 1.0, 3.0 is not
    base = doc(case("a", 0, 0.0), case("b", 0, 0.0))
    assert aggregate(base["cases"], doc(case("a", 0, 0.5), case("b", 0, 0.0))["cases"], MSE)[0].verdict == "within"
    assert aggregate(base["cases"], doc(case("a", 0, 3.0), case("b", 0, 3.0))["cases"], MSE)[0].verdict == "worse"


def test_higher_is_better_and_absolute_tolerances():
    psnr = {"psnr_outside": Tolerance(abs=0.5, direction="higher")}
    base = doc(case("a", 0, 1.0, psnr_outside=30.0), case("b", 0, 1.0, psnr_outside=20.0))
    lower = doc(case("a", 0, 1.0, psnr_outside=29.0), case("b", 0, 1.0, psnr_outside=19.2))
    (verdict,) = aggregate(base["cases"], lower["cases"], psnr)
    assert verdict.interval.estimate == pytest.approx(-0.9) and verdict.verdict == "worse"
    assert verdict.describe_limit() == "-0.5" and verdict.describe_change(-0.9) == "-0.9"
    inf = doc(case("a", 0, 1.0, psnr_outside="inf"), case("b", 0, 1.0, psnr_outside=19.8))
    (kept,) = aggregate(base["cases"], inf["cases"], psnr)  # an infinite PSNR has no change to average
    assert kept.n == 1 and kept.verdict == "within"


def test_compare_sorts_cases_into_judged_aggregate_only_new_and_gone(tmp_path):
    base = doc(case("a", 0, 100.0), case("a", 1, 100.0), case("b", 0, 100.0), case("gone", 0, 5.0))
    now = doc(case("a", 0, 150.0), case("a", 5, 100.0), case("b", 0, 100.0), case("new", 0, 5.0))
    result = compare(base, now, MSE, path=tmp_path / "b.json")
    assert result.compared == 2 and [d.key for d in result.regressions] == ["strength/a-s0.50-r0.80-seed0"]
    assert result.unmatched == ["strength/a-s0.50-r0.80-seed5"]
    assert result.new == ["strength/new-s0.50-r0.80-seed0"] and result.gone == ["strength/gone-s0.50-r0.80-seed0"]
    assert result.unused == ["strength/a-s0.50-r0.80-seed1"]
    assert result.seeds == ([0, 1], [0, 5])
    assert result.failed  # the per-case regression fails it even though the aggregate does not
    lines = comparison_lines(result)
    assert any(line.startswith("per-case verdicts are impossible for 1 cases: the baseline holds seeds 0, 1, "
                               "this run measured 0, 5") for line in lines)
    assert "not measured in this run: the baseline's seeds 1 of the cases measured now (1 cases)" in lines
    markdown = comparison_markdown(result)
    assert "| `strength/a-s0.50-r0.80-seed0` | mse_outside | 100 | 150 | +50.0% | +10% or +1 |" in markdown


def test_only_the_aggregate_can_fail_a_comparison_of_other_seeds(tmp_path):
    base = doc(case("a", 0, 100.0), case("b", 0, 100.0))
    now = doc(case("a", 9, 150.0), case("b", 9, 160.0))
    result = compare(base, now, MSE, path=tmp_path / "b.json")
    assert result.compared == 0 and not result.regressions and not result.problems
    assert [v.verdict for v in result.aggregate_failures] == ["worse"] and result.failed
    assert "aggregate: 1 of 1 groups worse" in comparison_lines(result)[0]


def test_a_comparison_that_compares_no_value_fails(tmp_path):
    result = compare(doc(case("a", 0, 1.0)), doc(case("z", 0, 1.0)), MSE, path=tmp_path / "b.json")
    assert result.failed and "nothing was compared" in result.problems[0]


def test_default_tolerances_give_one_row_per_group_and_metric(tmp_path):
    metrics = {"mae_outside": 5.0, "max_abs_outside": 40.0, "changed_frac": 0.9, "psnr_outside": 30.0}
    base = doc(case("a", 0, 100.0, **metrics))
    result = compare(base, base, parse_tolerances(None), path=Path("b.json"))
    assert sorted(v.metric for v in result.aggregate) == sorted(parse_tolerances(None))
    assert not result.failed and {v.verdict for v in result.aggregate} == {"within"}
    table = [line for line in comparison_lines(result) if "mse_outside" in line]
    assert table == ["  strength s=0.5  mse_outside        1    +0.0%  [+0.0%, +0.0%]         +10%  within"]


def test_machine_changes_leave_the_fingerprints_versions_to_the_fingerprint():
    before = {"fingerprint": {"torch": "2.1"}, "machine": {"torch": "2.1", "numpy": "1.26", "git_commit": "a" * 40}}
    after = {"fingerprint": {"torch": "2.2"}, "machine": {"torch": "2.2", "numpy": "2.0", "git_commit": "b" * 40}}
    assert machine_diff(before, after) == ["git_commit aaaaaaaaaaaa…aaaaaa -> bbbbbbbbbbbb…bbbbbb", "numpy 1.26 -> 2.0"]
