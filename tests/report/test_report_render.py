"""Tests of the rendered page and the ``leakage report`` command: sections present only with their
data, hostile strings escaped, nothing fetched from the network, errors as exit code 2."""

from __future__ import annotations

import re

import pytest

from harness.cli import main
from harness.report import BaselineError, build_report
from harness.store import StoreError

ALL_SECTIONS = ("summary", "strength", "radius", "masks", "mitigation", "defects", "sources", "heatmaps", "edge", "floor",
                "timing", "cases")


def _sections(html: str) -> set[str]:
    return set(re.findall(r'<section id="([\w-]+)"', html))


def _assert_offline(html: str) -> None:
    """No attribute or CSS that would load anything: only inline data URIs and in-page anchors."""
    for url in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert url.startswith(("data:image/", "#")), url
    assert not re.search(r"url\(|@import|https?://", html)


def test_full_report_has_every_section_and_is_self_contained(smoke_store, tmp_path):
    out = build_report(smoke_store, output=tmp_path / "deep" / "report.html")
    html = out.read_text(encoding="utf-8")
    assert _sections(html) == set(ALL_SECTIONS)
    _assert_offline(html)
    # 10 charts + colour bar; per image original + 3 x (output, map)
    assert html.count("<img ") == 11 + 3 * 7
    assert html.count('src="data:image/svg+xml;base64,') == 11 and "image/jpeg" not in html
    assert "R² = " in html
    # the study's fit is named only to say why it is not comparable
    assert "9.694x² − 4.105x + 40, on Stable Diffusion 1.5) is not on this scale" in html
    assert "The original study found" not in html
    assert out.stat().st_size < 2_000_000


def test_only_one_experiment_and_no_artifacts(store_of, make_row, tmp_path):
    rows = [make_row(i, s, mse=10 + s) for i in ("a", "b") for s in (0.2, 0.5, 0.8)]
    html = build_report(store_of(rows), output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert _sections(html) == {"summary", "strength", "heatmaps", "timing", "cases"}  # no edge profiles recorded
    assert "No heatmaps: the run saved no readable output images" in html
    assert 'href="#radius"' not in html and 'href="#floor"' not in html and 'href="#comparison"' not in html


def test_floor_only_run(store_of, make_row, tmp_path):
    rows = [make_row(i, experiment="floor", mse=40.0) for i in ("a", "b")]
    html = build_report(store_of(rows), output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert _sections(html) == {"summary", "floor", "cases"}
    assert "no strength sweep in this run" in html
    card = re.search(r'<div class="card" id="floor-psnr">(.*?)</div>', html, re.S).group(1)
    assert "at max side 96: median <strong>30 dB</strong> over 2 images" in card
    assert "SD 1.5 VAE (kl-f8) 23.4 ± 3.8 dB" in card and "(ft-MSE) 24.5 ± 3.7 dB" in card


def test_summary_has_no_floor_card_without_floor_cases(store_of, make_row, tmp_path):
    html = build_report(store_of([make_row("a", 0.5)]), output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="floor-psnr"' not in html


def test_empty_run_renders_a_summary(store_of, tmp_path):
    html = build_report(store_of([]), output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert _sections(html) == {"summary"}


def test_failed_and_skipped_cases_with_hostile_names_are_escaped(store_of, make_row, tmp_path):
    hostile = ["<script>alert(1)</script>", "quote\"d 'name' & co", "café-🌄", "$x^$"]
    rows = [make_row(n, s, mse=10.0 + s) for n in hostile for s in (0.2, 0.5, 0.9)]
    rows += [make_row(hostile[0], 0.0, mse=None, status="skipped", message="<b>skipped</b> 0 steps"),
             make_row(hostile[1], 0.1, mse=None, status="error", message="<img src=x onerror=alert(2)>"),
             make_row(hostile[2], 0.3, mse=5.0, status="failed", flags=["<constant_output>"], message="blank & black")]
    fingerprint = {"model": "<script>alert(3)</script>", "weights": "\"/tmp/x'y\""}
    html = build_report(store_of(rows, fingerprint=fingerprint), output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>skipped" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "quote&#34;d &#39;name&#39; &amp; co" in html
    assert "café-🌄" in html and "&lt;constant_output&gt;" in html
    assert html.count("<script>") == 1  # the report's own
    assert 'class="st-failed">failed' in html and 'class="st-skipped">skipped' in html


def test_comparison_section_highlights_failures(smoke_store, tmp_path):
    cases = {"strength/img00-s0.40-r0.80-seed0": {"experiment": "strength", "case_id": "img00-s0.40-r0.80-seed0",
                                                  "image": "img00", "strength": 0.4, "radius": 0.8,
                                                  "metrics": {"mse_outside": 20.0}, "seconds": 0.1},
             "strength/img00-s0.80-r0.80-seed0": {"experiment": "strength", "case_id": "img00-s0.80-r0.80-seed0",
                                                  "image": "img00", "strength": 0.8, "radius": 0.8,
                                                  "metrics": {"mse_outside": 21.0}, "seconds": 0.1},
             "strength/img00-s0.20-r0.80-seed0": {"image": "img00", "strength": 0.2, "metrics": {"mse_outside": 19.0}}}
    baseline = {"schema": 1, "name": "<b>v1</b>", "preset": "smoke", "options": {}, "fingerprint": {"torch": "old"},
                "cases": cases}
    failures = [{"key": "strength/img00-s0.40-r0.80-seed0", "metric": "mse_outside", "baseline": 20.0,
                 "current": 41.0, "change": 1.05, "tolerance": "+10%"}]
    html = build_report(smoke_store, output=tmp_path / "r.html", baseline=baseline,
                        gate_failures=failures).read_text(encoding="utf-8")
    assert "comparison" in _sections(html) and "&lt;b&gt;v1&lt;/b&gt;" in html
    assert html.count('<tr class="fail">') == 1
    assert "1 failing check " in html and "Fingerprint changes" in html
    no_baseline = build_report(smoke_store, output=tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "comparison" not in _sections(no_baseline)


def test_comparison_section_shows_the_aggregate_groups(smoke_store, tmp_path):
    baseline = {"schema": 2, "name": "v1", "preset": "smoke", "options": {}, "cases": {}}
    aggregate = [{"experiment": "strength", "strength": 0.5, "metric": "mse_outside", "n": 6, "paired": 0,
                  "change": 0.53, "low": 0.294, "high": 0.77, "relative": True, "limit": 0.1, "direction": "lower",
                  "verdict": "worse"},
                 {"experiment": "floor", "strength": None, "metric": "psnr_outside", "n": 3, "paired": 3,
                  "change": -0.2, "low": -0.3, "high": -0.1, "relative": False, "limit": 0.5, "direction": "higher",
                  "verdict": "within"}]
    html = build_report(smoke_store, output=tmp_path / "r.html", baseline=baseline,
                        aggregate=aggregate).read_text(encoding="utf-8")
    table = html[html.index('<table id="aggregate"'):]
    table = table[:table.index("</table>")]
    assert ('<tr class="fail"><td>strength s=0.5</td><td>mse_outside</td><td class="n">6</td><td class="n">0</td>'
            '<td class="n">+53.0%</td><td>[+29.4%, +77.0%]</td><td>+10%</td><td>worse</td></tr>') in table
    assert "<td>floor</td><td>psnr_outside</td>" in table and "<td>[-0.3, -0.1]</td><td>-0.5</td>" in table


def test_history_section_with_two_runs_of_the_same_series(store_of, make_row, tmp_path):
    from harness.store import Store

    path = store_of([make_row("a", s, mse=10.0 + s) for s in (0.2, 0.5)],
                    fingerprint={"model": "tiny", "diffusers": "0.41.1"})
    store = Store(path)
    store.start_run("run-2", name="after", preset="smoke", options={"preset": "smoke"})
    store.set_fingerprint("run-2", {"model": "tiny", "diffusers": "0.42.1"})
    for s in (0.2, 0.5):
        store.add_result("run-2", make_row("a", s, mse=20.0 + s))
    store.finish_run("run-2", "passed")
    html = build_report(path, output=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "history" in _sections(html) and 'href="#history"' in html
    section = html[html.index('<section id="history">'):html.index('<section id="cases">')]
    assert section.count("<img ") == 1
    assert "<td>diffusers 0.41.1 -&gt; 0.42.1</td>" in section and "<td>first run</td>" in section
    assert '<td class="n">20.35 [20.2, 20.5]</td>' in section
    single = build_report(path, run_id="run-1", output=tmp_path / "one.html").read_text(encoding="utf-8")
    assert "history" in _sections(single)  # the series is the same whichever of its runs is reported


def test_build_report_errors(smoke_store, tmp_path):
    with pytest.raises(StoreError, match="no results store"):
        build_report(tmp_path / "missing.sqlite", output=tmp_path / "r.html")
    with pytest.raises(StoreError, match="matches 'nope'"):
        build_report(smoke_store, run_id="nope", output=tmp_path / "r.html")
    with pytest.raises(BaselineError, match="schema"):
        build_report(smoke_store, output=tmp_path / "r.html", baseline={"cases": {}})
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("store_first", [True, False])
def test_cli_report_writes_and_prints_the_path(smoke_store, tmp_path, capsys, store_first):
    out = tmp_path / "cli.html"
    store = ["--store", str(smoke_store)]
    argv = [*store, "report", "-o", str(out)] if store_first else ["report", *store, "--run", "synth", "-o", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.stat().st_size > 0


@pytest.mark.parametrize(("extra", "message"), [(["--store", "{missing}"], "no results store"),
                                                (["--store", "{store}", "--run", "nope"], "matches 'nope'"),
                                                (["--store", "{store}", "-o", "{folder}"], "leakage: cannot write {folder}: Is a directory")])
def test_cli_report_errors_exit_2(smoke_store, tmp_path, capsys, extra, message):
    values = {"missing": tmp_path / "missing.sqlite", "store": smoke_store, "folder": tmp_path}
    assert main(["report", *(e.format(**values) for e in extra)]) == 2
    assert message.format(**values) in capsys.readouterr().err
