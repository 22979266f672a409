"""Tests of the report's data builders (harness.report.data, .summary, .compare) on small stores
whose right answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.masks import disc_mask
from harness.report import compare, data, summary
from harness.store import Store


def _frame(store_of, rows):
    return Store(store_of(rows)).frame()


def test_strength_series_per_image_average_seeds(store_of, make_row):
    rows = [make_row(image, s, mse=base + 10 * s + seed, seed=seed)
            for image, base in (("a", 10.0), ("b", 100.0)) for s in (0.2, 0.4, 0.6) for seed in (0, 1)]
    rows.append(make_row("a", 0.0, mse=None, status="skipped"))  # no metrics: not a point
    curves = data.strength_curves(_frame(store_of, rows))
    assert list(curves.per_image) == ["a", "b"]
    np.testing.assert_allclose(curves.per_image["a"].x, [0.2, 0.4, 0.6])
    np.testing.assert_allclose(curves.per_image["a"].y, [12.5, 14.5, 16.5])  # mean of seeds 0 and 1
    np.testing.assert_allclose(curves.per_image["b"].y, [102.5, 104.5, 106.5])
    np.testing.assert_allclose(curves.mean, [57.5, 59.5, 61.5])
    np.testing.assert_allclose(curves.std, np.std([[12.5, 102.5]], ddof=1) * np.ones(3))
    assert curves.images.tolist() == [2, 2, 2]


def test_fit_equals_polyfit_of_the_means_and_r2_is_right(store_of, make_row):
    rng = np.random.default_rng(3)
    strengths = np.round(np.linspace(0.1, 1.0, 10), 2)
    rows = [make_row(image, float(s), mse=k * (9.694 * s**2 - 4.105 * s + 40) + rng.normal(0, 2))
            for image, k in (("a", 1.0), ("b", 1.5), ("c", 0.7)) for s in strengths]
    curves = data.strength_curves(_frame(store_of, rows))
    means = np.array([np.mean([r["mse_outside"] for r in rows if r["strength"] == s]) for s in strengths])
    np.testing.assert_allclose(curves.mean, means)
    np.testing.assert_allclose(curves.fit.coefficients, np.polyfit(strengths, means, 2), rtol=1e-12)
    fitted = np.polyval(np.polyfit(strengths, means, 2), strengths)
    # for a least-squares fit with an intercept, R² is the squared correlation of data and fit
    assert curves.fit.r_squared == pytest.approx(np.corrcoef(means, fitted)[0, 1] ** 2, rel=1e-9)


def test_fit_recovers_the_studys_quadratic_exactly():
    x = np.linspace(0, 1, 11)
    fit = data.fit_quadratic(x, 9.694 * x**2 - 4.105 * x + 40)
    np.testing.assert_allclose(fit.coefficients, (9.694, -4.105, 40), atol=1e-9)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.equation() == "9.694x² − 4.105x + 40.000"


def test_fit_needs_three_strengths():
    with pytest.raises(ValueError, match="at least 3 distinct"):
        data.fit_quadratic([0.1, 0.1, 0.2], [1.0, 2.0, 3.0])
    assert math.isnan(data.fit_quadratic([0, 1, 2], [5.0, 5.0, 5.0]).r_squared)


def test_radius_curves_pair_each_line_with_its_own_image(store_of, make_row):
    """Images of very different magnitude and size, rows interleaved: a mispairing would show."""
    radii = (0.2, 0.5, 0.8)
    sizes = {"dim": (64, 96), "bright": (96, 64)}
    rows = [make_row(image, s, r, experiment="radius", mse=level + s * r, height=sizes[image][0], width=sizes[image][1])
            for r in radii for s in (0.1, 0.9) for image, level in (("dim", 10.0), ("bright", 1000.0))]
    curves = data.radius_curves(_frame(store_of, rows))
    assert sorted(curves) == ["bright", "dim"]
    for image, level in (("dim", 10.0), ("bright", 1000.0)):
        assert sorted(curves[image]) == [0.1, 0.9]
        for s, series in curves[image].items():
            np.testing.assert_allclose(series.y, [level + s * r for r in radii])
            np.testing.assert_allclose(series.x, [disc_mask(*sizes[image], r).mean() for r in radii])


def test_area_fraction_counts_the_pixel_mask():
    assert data.area_fraction(64, 96, 0.5) == disc_mask(64, 96, 0.5).mean()
    assert data.area_fraction(100, 100, 1.0) == pytest.approx(math.pi / 4, rel=0.02)


def test_top_cases_per_image_with_ties_and_few_cases(store_of, make_row):
    rows = [make_row("a", s, mse=m) for s, m in ((0.1, 5.0), (0.2, 9.0), (0.3, 7.0), (0.4, 7.0), (0.5, 1.0))]
    rows += [make_row("a", 0.3, 0.5, experiment="radius", mse=7.0)]  # ties at 7.0: radius sorts first
    rows += [make_row("a", experiment="floor", mse=99.0)]  # the floor is no inpainting: never picked
    rows += [make_row("b", 0.1, mse=3.0), make_row("b", 0.2, mse=None, status="error")]
    top = data.top_cases(_frame(store_of, rows))
    assert [c["case_id"] for c in top["a"]] == ["a-s0.20-r0.80-seed0", "a-s0.30-r0.50-seed0", "a-s0.30-r0.80-seed0"]
    assert [c["mse_outside"] for c in top["a"]] == [9.0, 7.0, 7.0]
    assert [c["case_id"] for c in top["b"]] == ["b-s0.10-r0.80-seed0"]


@pytest.mark.parametrize("decoded", [True, False], ids=["decoded", "json-text"])
def test_edge_profiles_are_pooled_weighted_by_count(store_of, make_row, decoded):
    one = {"start": [1.0, 2.0, 4.0], "stop": [2.0, 4.0, None], "mse": [10.0, 6.0, 2.0], "count": [100, 50, 10]}
    two = {"start": [1.0, 4.0], "stop": [2.0, None], "mse": [30.0, 4.0], "count": [300, 30]}
    rows = [make_row("a", 0.5, edge_profile=one), make_row("b", 0.5, edge_profile=two),
            make_row("a", 0.9, edge_profile=one), make_row("c", 0.9, edge_profile={"count": []}), make_row("d", 0.9)]
    # a frame read with Store.frame(profiles=False), as the report reads it, holds the profiles as text
    profiles = data.edge_profiles_by_strength(Store(store_of(rows)).frame(profiles=decoded))
    pooled = profiles[0.5]
    np.testing.assert_allclose(pooled.start, [1, 2, 4])
    np.testing.assert_allclose(pooled.mse, [(10 * 100 + 30 * 300) / 400, 6.0, (2 * 10 + 4 * 30) / 40])
    assert pooled.count.tolist() == [400, 50, 40]
    assert math.isnan(pooled.stop[-1]) and pooled.stop[0] == 2.0
    np.testing.assert_allclose(profiles[0.9].mse, one["mse"])


def test_floor_rows_beside_lowest_and_highest_strength(store_of, make_row):
    rows = [make_row(i, experiment="floor", mse=f) for i, f in (("a", 40.0), ("b", 80.0))]
    rows += [make_row(i, s, mse=m) for i, s, m in (("a", 0.2, 41.0), ("a", 1.0, 50.0), ("b", 0.2, 81.0))]
    table, low, high = data.floor_rows(_frame(store_of, rows))
    assert (low, high) == (0.2, 1.0)
    assert [(r.image, r.floor, r.low) for r in table] == [("a", 40.0, 41.0), ("b", 80.0, 81.0)]
    assert table[0].high == 50.0 and math.isnan(table[1].high)


def test_summary_tables(store_of, make_row):
    rows = [make_row("a", s / 10, mse=float(s)) for s in range(1, 10)]
    rows += [make_row("a", 0.0, mse=None, status="skipped", message="no steps"),
             make_row("b", 0.5, mse=3.0, status="failed", flags=["constant_output"], message="blank")]
    frame = _frame(store_of, rows)
    statuses, counts = summary.status_counts(frame)
    assert statuses == ["passed", "failed", "skipped"]
    assert counts[-1] == {"experiment": "all", "counts": [9, 1, 1], "total": 11, "mean": 4.8, "max": 9.0}
    assert [r["mse_outside"] for r in summary.worst_cases(frame, 3)] == [9.0, 8.0, 7.0]
    assert [r["status"] for r in summary.flagged_cases(frame)] == ["failed", "skipped"]
    assert summary.time_summary(frame)["cases"] == 11


def test_floor_psnr_per_image_and_median(store_of, make_row):
    rows = [make_row(i, experiment="floor", mse=m, psnr_outside=p, height=96, width=128)
            for i, m, p in (("c", 300.0, 23.4), ("a", 200.0, 25.1), ("b", 500.0, 21.2))]
    rows += [make_row("a", 0.5, mse=9.0, psnr_outside=99.0, height=256, width=256)]  # not a floor row
    rows += [make_row("d", experiment="floor", mse=None, status="error")]  # nothing measured
    floor = summary.floor_psnr(_frame(store_of, rows))
    assert [(r["image"], r["psnr"], r["max_side"]) for r in floor["images"]] == [
        ("a", 25.1, 128), ("b", 21.2, 128), ("c", 23.4, 128)]
    assert floor["median"] == 23.4 and floor["max_side"] == 128


def test_floor_psnr_is_none_without_floor_cases(store_of, make_row):
    assert summary.floor_psnr(_frame(store_of, [make_row("a", 0.5)])) is None


@pytest.mark.parametrize(("value", "text"), [(None, "–"), (math.nan, "–"), (math.inf, "inf"), (40.0, "40"),
                                             (9.6941234, "9.694"), (0.012345, "0.01235")])
def test_format_number(value, text):
    assert summary.format_number(value) == text


def test_split_fingerprint_puts_versions_in_the_environment():
    pipeline, environment = summary.split_fingerprint(
        {"torch_version": "2.1", "model": "x", "device": "cpu", "scheduler": {"name": "PNDM"}})
    assert [k for k, _ in pipeline] == ["model", "scheduler"]
    assert [k for k, _ in environment] == ["device", "torch_version"]
    assert dict(pipeline)["scheduler"] == '{"name": "PNDM"}'


def _baseline(cases: dict) -> dict:
    return {"schema": 1, "name": "old", "preset": "smoke", "options": {}, "fingerprint": {"torch": "1.0"},
            "cases": cases}


def test_delta_rows_and_baseline_curve(store_of, make_row):
    frame = _frame(store_of, [make_row("a", 0.2, mse=44.0), make_row("a", 0.4, mse=50.0)])
    baseline = _baseline({
        "strength/a-s0.20-r0.80-seed0": {"experiment": "strength", "case_id": "a-s0.20-r0.80-seed0", "image": "a",
                                         "strength": 0.2, "radius": 0.8, "metrics": {"mse_outside": 40.0}},
        "strength/gone": {"image": "a", "strength": 0.6, "metrics": {"mse_outside": 1.0}},
    })
    failures = [{"key": "strength/a-s0.20-r0.80-seed0", "metric": "mse_outside", "tolerance": "5%"},
                {"key": "strength/a-s0.20-r0.80-seed0", "metric": "max_abs_outside", "baseline": 10, "current": 20}]
    rows = compare.delta_rows(frame, baseline, failures)
    assert [(r["key"], r["metric"], r["failing"]) for r in rows[:2]] == [
        ("strength/a-s0.20-r0.80-seed0", "mse_outside", True),
        ("strength/a-s0.20-r0.80-seed0", "max_abs_outside", True)]
    first = rows[0]
    assert (first["baseline"], first["current"], first["change"]) == (40.0, 44.0, 4.0)
    assert first["relative"] == pytest.approx(0.1) and first["tolerance"] == "5%"
    by_key = {r["key"]: r for r in rows[2:]}
    assert math.isnan(by_key["strength/gone"]["current"])
    assert math.isnan(by_key["strength/a-s0.40-r0.80-seed0"]["baseline"])
    curves = compare.baseline_curves(baseline)
    np.testing.assert_allclose(curves.strengths, [0.2, 0.6])
    assert compare.fingerprint_changes(baseline, {"torch": "2.0"}) == [("torch", "1.0", "2.0")]


@pytest.mark.parametrize(("baseline", "match"), [([], "is not a leakage baseline"),
                                                 ({"schema": 3, "cases": {}}, "has schema 3"),
                                                 ({"schema": 1}, "is not a leakage baseline")])
def test_check_baseline_rejects_other_formats(baseline, match):
    with pytest.raises(compare.BaselineError, match=match):
        compare.check_baseline(baseline)
