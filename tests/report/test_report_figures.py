"""Tests of the figures and heatmaps: every chart is a well-formed SVG, every tile a lossless PNG,
the heatmaps share one colour scale, unusable artifacts are reported instead of raising."""

from __future__ import annotations

import base64
import io
import os
import shutil
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from PIL import Image

from matplotlib import colormaps

from harness.masks import disc_mask
from harness.metrics import error_map
from harness.report import data, figures, heatmaps
from harness.store import Store


def _decode(uri: str) -> Image.Image:
    header, _, payload = uri.partition(",")
    assert header == "data:image/png;base64"  # lossless: no JPEG in a study of pixel changes
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image


def _svg_width(uri: str) -> float:
    """The width in points of an SVG data URI, after checking that it parses as SVG."""
    header, _, payload = uri.partition(",")
    assert header == "data:image/svg+xml;base64"
    root = ElementTree.fromstring(base64.b64decode(payload))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return float(root.get("width").removesuffix("pt"))


def test_every_figure_is_an_svg(smoke_store):
    frame = Store(smoke_store).frame()
    curves = data.strength_curves(frame)
    floor, low, high = data.floor_rows(frame)
    uris = [figures.strength_panels(curves), figures.strength_mean(curves),
            figures.radius_panels(data.radius_curves(frame)),
            figures.edge_figure(data.edge_profiles_by_strength(frame)),
            figures.floor_figure(floor, low, high), figures.timing_figure(data.timing_rows(frame)),
            figures.comparison_figure(curves, curves, "same"), figures.colorbar_figure(123.0, heatmaps.CMAP)]
    for uri in uris:
        assert _svg_width(uri) > 100
    assert figures.svg_uri is not None and uris[0] == figures.strength_panels(curves)  # the same bytes each time


def test_labels_with_dollars_and_emoji_draw(make_row, store_of):
    """``$`` would start matplotlib's mathtext (and fail on odd input); emoji lack a glyph."""
    names = ["$x^$ broken $", "café-🌄", "<script>alert(1)</script>"]
    rows = [make_row(n, s, mse=10.0 + s) for n in names for s in (0.2, 0.5, 0.9)]
    curves = data.strength_curves(Store(store_of(rows)).frame())
    assert _svg_width(figures.strength_panels(curves)) > 100
    assert figures.label("a$b") == r"a\$b"
    assert len(figures.label("x" * 100)) == 28


def test_heatmaps_share_one_scale(smoke_store):
    frame = Store(smoke_store).frame()
    section = heatmaps.build_heatmaps(frame, smoke_store.parent, "synthetic-run")
    assert section.missing == []
    assert sorted(section.groups) == ["img00", "img01", "img02"]
    maps = [m for group in section.groups.values() for m in group.maps]
    assert len(maps) == 9
    assert {id(m.vmax) for m in maps} == {id(section.vmax)}  # the very same number, not just equal ones
    # the scale is the 99th percentile of the outside values of the maps shown (here at full size:
    # the smoke images are narrower than the display width, so nothing is shrunk)
    originals = smoke_store.parent / "artifacts" / "synthetic-run" / "originals"
    values = []
    for cases in data.top_cases(frame).values():
        for case in cases:
            original = np.asarray(Image.open(originals / f"{case['image']}.png"))
            output = np.asarray(Image.open(smoke_store.parent / case["artifact"]))
            assert original.shape[1] <= heatmaps.DISPLAY_WIDTH
            values.append(error_map(original, output)[~disc_mask(*original.shape[:2], case["radius"])])
    assert section.vmax == pytest.approx(np.percentile(np.concatenate(values), heatmaps.PERCENTILE))
    for m in maps:
        assert _decode(m.error).size == _decode(m.output).size


def test_colourise_uses_the_given_scale():
    errors = np.array([[0.0, 50.0, 100.0, 400.0]] * 3)
    mask = np.zeros((3, 4), bool)
    image = heatmaps.colourise(errors, mask, vmax=100.0)
    assert np.asarray(image)[1].tolist() == [0, 127, 254, 254]  # 400 is clipped to the top
    rgb = np.asarray(image.convert("RGB"))
    top = colormaps[heatmaps.CMAP](1.0, bytes=True)[:3]
    assert tuple(rgb[1, 2]) == tuple(top)
    mask[:, 1:3] = True
    assert tuple(np.asarray(heatmaps.colourise(errors, mask, 100.0).convert("RGB"))[0, 1]) == heatmaps.OUTLINE


def test_shared_vmax_ignores_the_inside_and_is_never_zero():
    inside = np.zeros((4, 4), bool)
    inside[1:3, 1:3] = True
    errors = np.where(inside, 1e6, 1.0)
    assert heatmaps.shared_vmax([errors, 2 * errors], [inside, inside]) == pytest.approx(2.0)
    assert heatmaps.shared_vmax([np.zeros((2, 2))], [np.zeros((2, 2), bool)]) == 1.0


def test_missing_and_broken_artifacts_are_listed(smoke_store, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(smoke_store.parent, copy)
    frame = Store(copy / "leakage.sqlite").frame()
    worst = data.top_cases(frame)["img01"][0]
    os.remove(copy / worst["artifact"])
    (copy / data.top_cases(frame)["img02"][0]["artifact"]).write_bytes(b"not a png")
    section = heatmaps.build_heatmaps(frame, copy, "synthetic-run")
    assert len(section.missing) == 2 and all("cannot read" in m for m in section.missing)
    assert len(section.groups["img01"].maps) == 2
    nothing = heatmaps.build_heatmaps(frame.assign(artifact=None), copy, "synthetic-run")
    assert nothing.groups == {} and len(nothing.missing) == 9
    assert all("no output image" in m for m in nothing.missing)


def test_wide_maps_shrink_to_display_width_keeping_their_mean():
    rng = np.random.default_rng(1)
    errors = rng.random((300, 400)) * 100
    size = heatmaps._display_size(300, 400)
    assert size == (150, heatmaps.DISPLAY_WIDTH)
    small = heatmaps._shrink(errors, size)
    assert small.shape == size and small.mean() == pytest.approx(errors.mean(), rel=1e-5)
    mask = heatmaps._shrink(disc_mask(300, 400, 0.5), size)
    assert mask.dtype == np.bool_ and mask.mean() == pytest.approx(disc_mask(300, 400, 0.5).mean(), abs=0.01)
    assert heatmaps._shrink(np.zeros((300, 400, 3), np.uint8), size).shape == (150, 200, 3)
    assert heatmaps._display_size(96, 128) == (96, 128)  # never enlarged


def _constrained_figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3), layout="constrained")
    ax = figure.subplots()
    ax.plot([0, 1, 2], [3, 1, 2], label="a long legend entry that the layout must make room for")
    ax.set_xlabel("strength")
    ax.set_ylabel(figures.MSE_LABEL)
    figure.colorbar(figures.ScalarMappable(cmap="viridis"), ax=ax, label="strength")
    figure.legend(loc="outside upper center")
    return figure


def test_svg_uri_lays_out_like_savefig():
    """svg_uri runs the layout itself (saving matplotlib's dry-run draw): the bytes are those of a
    plain savefig with the same settings."""
    import matplotlib

    uri = figures.svg_uri(_constrained_figure())
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "inpaint-leakage", "svg.fonttype": "none"}):
        _constrained_figure().savefig(buffer, format="svg", dpi=figures.DPI, metadata={"Date": None})
    assert base64.b64decode(uri.partition(",")[2]) == buffer.getvalue()
