"""Tests of the report's newer sections on hand-made rows: masks by family, mitigations, what users
see, where leakage comes from, spikes and seed spread; every number recomputed here."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from harness.masks import disc_mask, disc_mask_px
from harness.report import data, heatmaps, summary
from harness.report.defects import defects_section
from harness.report.excess import sources_section, texture_bins
from harness.report.mask_families import masks_section
from harness.report.mitigation import mitigation_section
from harness.report.spikes import MIN_STRENGTHS, find_spikes
from harness.store import Store


def _frame(store_of, rows) -> pd.DataFrame:
    return Store(store_of(rows)).frame()


def _mask_row(make_row, image, family, area, strength, seed, mse, **fields):
    row = make_row(image, strength, experiment="masks", seed=seed, mse=mse, mask=family, area=area,
                   mask_area=area + 0.001, seam=1.0, ssim_outside=0.5, mse_excess=mse - 10, **fields)
    row.update(radius=None, case_id=f"{image}-{family}-a{area:.2f}-s{strength:.2f}-seed{seed}")
    return row


def test_masks_section_averages_seeds_then_images(store_of, make_row):
    rows = [_mask_row(make_row, "a", "disc", 0.2, 0.5, 0, 10.0), _mask_row(make_row, "a", "disc", 0.2, 0.5, 1, 30.0),
            _mask_row(make_row, "b", "disc", 0.2, 0.5, 0, 50.0), _mask_row(make_row, "a", "box", 0.2, 0.5, 0, 7.0),
            _mask_row(make_row, "a", "strokes-thin", 0.4, 0.5, 0, 99.0)]
    section = masks_section(_frame(store_of, rows))
    assert section["families"] == ["disc", "box", "strokes-thin"]
    # disc at 0.2: image a's seeds average to 20, then (20 + 50) / 2 over images
    assert section["side_by_side"][0] == {"strength": 0.5, "area": 0.2, "values": [35.0, 7.0, None]}
    assert section["side_by_side"][1]["values"] == [None, None, 99.0]
    disc = next(r for r in section["rows"] if r["mask"] == "disc")
    assert disc["images"] == 2 and disc["mask_area"] == pytest.approx(0.201)
    assert section["figure"].startswith("data:image/svg+xml;base64,")


def test_mitigation_section_table_and_skips(store_of, make_row):
    rows = []
    for image, base in (("a", 100.0), ("b", 300.0)):
        for name, factor, seam in (("none", 1.0, 2.0), ("paste", 0.0, 4.0), ("blend", 0.1, 3.0)):
            row = make_row(image, 0.5, experiment="mitigation", mse=base * factor, radius=0.5, mitigation=name,
                           mitigation_px=4 if name == "blend" else None, seam=seam, ssim_outside=0.9, mse_excess=0.0)
            row["case_id"] = f"{image}-{name}-s0.50-r0.50-seed0"
            rows.append(row)
    skipped = make_row("a", 0.5, experiment="mitigation", mse=None, status="skipped", mitigation="crop",
                       message="StableDiffusionXInpaintPipeline.__call__ takes no padding_mask_crop")
    skipped["case_id"] = "a-crop-s0.50-r0.50-seed0"
    section = mitigation_section(_frame(store_of, rows + [skipped]))
    table = {r["mitigation"]: r for r in section["rows"]}
    assert list(table) == ["none", "paste", "blend"]  # in the experiment's order
    assert table["none"]["mse_outside"] == 200.0 and table["paste"]["mse_outside"] == 0.0
    assert table["blend"]["mse_outside"] == pytest.approx(20.0) and table["blend"]["mitigation_px"] == 4
    assert table["paste"]["seam"] == 4.0 and table["none"]["images"] == 2
    assert section["skipped"] == [("crop", "StableDiffusionXInpaintPipeline.__call__ takes no padding_mask_crop")]


def _strength_rows(make_row, image, values, **fields):
    return [make_row(image, s, mse=v, **{k: (f(s) if callable(f) else f) for k, f in fields.items()})
            for s, v in values.items()]


def test_defects_and_sources_sections(store_of, make_row):
    strengths = {0.2: 100.0, 0.6: 140.0, 1.0: 200.0}
    texture = {"low": [0.0, 5.0], "high": [5.0, 40.0], "floor": [10.0, 30.0], "excess": [1.0, 2.0], "count": [10, 30]}
    common = dict(color_shift_r=lambda s: s, color_shift_g=0.0, color_shift_b=lambda s: -s, ssim_outside=lambda s: 1 - s,
                  detail_loss_outside=0.3, seam=lambda s: 2 * s, mse_floor=80.0, mse_excess=lambda s: strengths[s] - 80,
                  texture_rho_floor=0.6, texture_rho_excess=lambda s: s / 10, texture_profile=texture,
                  excess_profile={"start": [1.0], "stop": [None], "mse": [5.0], "count": [3]})
    rows = _strength_rows(make_row, "a", strengths, **common) + _strength_rows(make_row, "b", strengths, **common)
    frame = _frame(store_of, rows)
    defects = defects_section(frame)
    first = defects["rows"][0]
    assert first["strength"] == 0.2 and first["color_shift_b"] == pytest.approx(-0.2) and first["seam"] == 0.4
    sources = sources_section(frame)
    assert [r["mse_excess"] for r in sources["totals"]] == [20.0, 60.0, 120.0]
    texture_a = sources["texture"][0]
    assert texture_a == {"image": "a", "cases": 3, "rho_floor": 0.6, "rho_excess": pytest.approx(0.06),
                         "rho_excess_top": 0.1, "top_strength": 1.0}
    bins = texture_bins(frame)
    np.testing.assert_allclose(bins["floor"], [10.0, 30.0])
    assert sources["figure"].startswith("data:image/svg+xml;base64,")


def test_sections_need_their_columns(store_of, make_row):
    frame = _frame(store_of, [make_row("a", s, mse=10 + s) for s in (0.2, 0.5, 0.8)])
    assert defects_section(frame) is None and sources_section(frame) is None
    assert masks_section(frame) is None and mitigation_section(frame) is None


def test_a_planted_spike_is_found_and_quiet_curves_have_none(store_of, make_row):
    rng = np.random.default_rng(0)
    strengths = np.round(np.linspace(0.1, 1.0, 10), 1)
    quiet = {s: 50 + 20 * s**2 + rng.normal(0, 0.5) for s in strengths}
    spiky = dict(quiet)
    spiky[0.5] += 30
    frame = _frame(store_of, _strength_rows(make_row, "quiet", quiet) + _strength_rows(make_row, "spiky", spiky))
    spikes = find_spikes(frame)
    assert [s["case_id"] for s in spikes] == ["spiky-s0.50-r0.80-seed0"]
    # independently: residuals of numpy's quadratic, scaled MAD
    x, y = np.array(list(spiky)), np.array(list(spiky.values()))
    residual = y - np.polyval(np.polyfit(x, y, 2), x)
    mad = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    assert spikes[0]["mads"] == pytest.approx(residual[4] / mad)
    few = {s: v for s, v in list(spiky.items())[: MIN_STRENGTHS - 1]}
    assert find_spikes(_frame(store_of, _strength_rows(make_row, "few", few))) == []
    exact = {s: 10 + s for s in strengths}  # residuals all 0: a MAD of 0 scales nothing
    assert find_spikes(_frame(store_of, _strength_rows(make_row, "exact", exact))) == []


def test_seed_spread(store_of, make_row):
    rows = [make_row("a", s, seed=seed, mse=10 * s + seed) for s in (0.2, 0.4) for seed in (0, 1, 2)]
    bands, table = data.seed_spread(_frame(store_of, rows))
    np.testing.assert_allclose(bands["a"].y, [[2, 4], [4, 6]])
    assert table.seeds.tolist() == [3, 3] and table["std"].tolist() == pytest.approx([1.0, 1.0])
    assert data.seed_spread(_frame(store_of, [make_row("a", 0.2, mse=1.0)])) is None


def test_long_values_are_pretty_and_text_columns_show_nothing_for_missing(store_of, make_row):
    assert summary.pretty_json('{"b": 1, "a": [1, 2]}') == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}'
    assert summary.pretty_json("plain words") == "plain words"
    assert summary.collapsed_label('{"a": 1, "b": 2}') == "2 keys" and summary.collapsed_label("[1, 2, 3]") == "3 items"
    assert summary.collapsed_label("a long sentence " * 8) == "a long sentence a long sentence a long …"
    frame = _frame(store_of, [make_row("a", 0.5, mse=3.0)])
    cells = dict(zip([c.key for c in summary.CASE_COLUMNS], summary.case_rows(frame)[0]))
    assert cells["mitigation"] is None and cells["mask"] is None and cells["mse_outside"] == 3.0




def test_case_table_rows_are_escaped_and_formatted(store_of, make_row):
    rows = [make_row("<b>a&b</b>", 0.5, mse=1234.56789, status="failed", flags=["non_finite", "wrong_shape"]),
            make_row("plain", 0.25, mse=None)]
    html = summary.case_rows_html(_frame(store_of, rows))
    lines = html.splitlines()
    assert len(lines) == 2 and all(line.startswith("<tr><td>strength</td>") and line.endswith("</tr>") for line in lines)
    first = lines[0]
    assert "<td>&lt;b&gt;a&amp;b&lt;/b&gt;</td>" in first and "<b>" not in first
    assert '<td class="st-failed">failed</td>' in first
    assert "<td>1235</td>" in first and "<td>0.5</td>" in first  # 4 significant digits; a whole number as such
    assert "<td>non_finite, wrong_shape</td>" in first
    cells = re.findall(r"<td[^>]*>(.*?)</td>", lines[1])
    by_key = dict(zip([c.key for c in summary.CASE_COLUMNS], cells))
    assert by_key["mse_outside"] == "–" and by_key["mitigation"] == "" and by_key["flags"] == ""
    assert len(cells) == len(summary.CASE_COLUMNS)
def test_heatmap_outline_uses_the_recorded_radius():
    # a floored radius (the study's preparation) draws a smaller disc than the fraction gives
    case = {"radius": 0.37, "radius_px": 11.0}
    np.testing.assert_array_equal(heatmaps._disc(case, 64, 128), disc_mask_px(64, 128, 11.0))
    assert heatmaps._disc(case, 64, 128).sum() < disc_mask(64, 128, 0.37).sum()
    assert (heatmaps._disc({"radius": 0.37, "radius_px": math.nan}, 64, 128) == disc_mask(64, 128, 0.37)).all()
