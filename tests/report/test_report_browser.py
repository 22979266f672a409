"""The report in a real browser: headless Chromium loads it offline, every image (SVG charts, PNG
tiles) decodes, every section is there, the table sorts when its header is clicked, the filter
filters, the CSV download holds the rows shown, a tile enlarges on click, no error is logged; a
screenshot is written to ``reports/report-screenshot.png``.

Chromium is driven without extra packages: a copy of the report gets a self-test script that
runs on load and writes its findings into the page, which ``--dump-dom`` prints. Without Chromium
the test is skipped, unless ``LEAKAGE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.report import build_report
from harness.store import Store

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "reports" / "report-screenshot.png"

# Headless, and kept off the network: no proxy or DNS answers, no background services.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
    "--disable-breakpad", "--disable-client-side-phishing-detection", "--mute-audio", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)

# Runs before the report's own script: collect uncaught errors (also failed resource loads,
# seen in the capture phase) and console.error calls.
PRE = """<script>
window.__selftest = {errors: []};
window.addEventListener("error", function (e) {
  window.__selftest.errors.push("error: " + (e.message || (e.target && (e.target.src || e.target.href) || e.type)));
}, true);
(function () { var original = console.error; console.error = function () {
  window.__selftest.errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  return original.apply(console, arguments); }; }());
</script>"""

# Runs after load: images, sorting by a numeric and a text column, filtering, resources fetched.
POST = """<script>
window.addEventListener("load", function () {
  var out = {};
  try {
    var images = Array.prototype.slice.call(document.images);
    out.images = images.length;
    out.broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
      .map(function (i) { return i.alt; });
    out.svgs = images.filter(function (i) { return i.src.indexOf("data:image/svg+xml") === 0; })
      .map(function (i) { return [i.naturalWidth, i.naturalHeight]; });
    out.sections = Array.prototype.map.call(document.querySelectorAll("main > section"), function (s) { return s.id; });
    out.sectionImages = {};
    out.sections.forEach(function (id) { out.sectionImages[id] = document.getElementById(id).querySelectorAll("img").length; });
    out.spikeRows = document.querySelectorAll("#strength h3 + p + div tbody tr").length;
    var tile = document.querySelector("img.zoom");
    tile.click();
    var box = document.getElementById("lightbox");
    out.zoomOpen = !box.hidden && box.querySelector("img").src === tile.src;
    box.click();
    out.zoomClosed = box.hidden;
    var table = document.getElementById("case-table");
    var column = function (header) { return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.cells[header.cellIndex].textContent.trim(); }); };
    var mse = table.querySelector('th[data-key="mse_outside"]');
    out.before = column(mse);
    mse.click(); out.ascending = column(mse); out.sortState = mse.getAttribute("aria-sort");
    mse.click(); out.descending = column(mse);
    var caseHeader = table.querySelector('th[data-key="case_id"]');
    caseHeader.click(); out.caseIds = column(caseHeader);
    var filter = document.querySelector('input.filter[data-table="case-table"]');
    filter.value = "img01"; filter.dispatchEvent(new Event("input"));
    out.visible = Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; }).length;
    out.countText = document.querySelector('[data-count-for="case-table"]').textContent;
    out.csv = window.leakageReport.tableCsv(table).trim().split("\\n");
    out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  } catch (e) { window.__selftest.errors.push("selftest: " + e); }
  out.errors = window.__selftest.errors;
  var pre = document.createElement("pre"); pre.id = "selftest"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _chromium_or_skip() -> str:
    """Chromium's path; skip without it, or fail where ``LEAKAGE_REQUIRE_BROWSER=1``."""
    path = _find_chromium()
    if path is None:
        reason = ("no Chromium found (chromium, chromium-browser or google-chrome on PATH; "
                  "Debian: apt-get install chromium)")
        if os.environ.get("LEAKAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and LEAKAGE_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium_or_skip()


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def _numbers(cells: list[str]) -> list[float]:
    return [float(c) for c in cells if c not in ("–", "")]


@pytest.fixture(scope="module")
def report(smoke_store, tmp_path_factory) -> Path:
    """The smoke store's report, with a comparison against a baseline that one case fails."""
    frame = Store(smoke_store).frame()
    cases = {f"{r.experiment}/{r.case_id}": {"image": r.image, "strength": r.strength, "radius": r.radius,
                                             "experiment": r.experiment, "metrics": {"mse_outside": r.mse_outside}}
             for r in frame.itertuples() if r.mse_outside == r.mse_outside}
    baseline = {"schema": 1, "name": "synthetic", "preset": "smoke", "options": {}, "fingerprint": {}, "cases": cases}
    key = next(iter(cases))
    failures = [{"key": key, "metric": "mse_outside", "baseline": 1.0, "current": 2.0, "change": 1.0,
                 "tolerance": "5%"}]
    return build_report(smoke_store, output=tmp_path_factory.mktemp("browser") / "leakage.html",
                        baseline=baseline, gate_failures=failures)


def test_report_in_headless_chromium(chromium, report, tmp_path):
    page = report.read_text(encoding="utf-8")
    selftest = tmp_path / "selftest.html"
    page_with_test = page.replace("<head>", "<head>" + PRE, 1).replace("</body>", POST + "</body>", 1)
    selftest.write_text(page_with_test, encoding="utf-8")
    dom = _run(chromium, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", selftest.as_uri()).stdout
    found = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert found, f"the self-test did not run; DOM tail:\n{dom[-1500:]}"
    result = json.loads(html.unescape(found.group(1)))

    assert result["errors"] == []
    assert result["resources"] == []  # nothing fetched: every image is an inline data URI
    assert result["images"] == page.count("<img ") > 20 and result["broken"] == []
    before, ascending, descending = (_numbers(result[k]) for k in ("before", "ascending", "descending"))
    assert min(before) < 100 <= max(before)  # text order would differ from numeric order here
    assert result["sortState"] == "ascending"
    assert ascending == sorted(before) and descending == sorted(before, reverse=True)
    assert result["ascending"][-1] == "–" and result["descending"][-1] == "–"  # skipped cases stay last
    assert result["caseIds"] == sorted(result["caseIds"], key=str.lower)
    assert result["visible"] == 21 and result["countText"] == f"21 of {len(result['before'])} rows"
    # the CSV holds the 21 rows shown (img01: a floor, 9 radius and 11 strength cases), under the columns' keys
    assert len(result["csv"]) == 22 and result["csv"][0].startswith("experiment,case_id,image,strength")
    assert "nan" not in ",".join(result["csv"])
    assert all(",img01" in line for line in result["csv"][1:])
    # every section, each new one with its chart; every chart an SVG that decoded to a real size
    assert result["sections"] == ["summary", "comparison", "strength", "radius", "masks", "mitigation", "defects",
                                  "sources", "heatmaps", "edge", "floor", "timing", "cases"]
    assert all(result["sectionImages"][s] == 1 for s in ("masks", "mitigation", "defects", "sources"))
    assert len(result["svgs"]) == page.count("data:image/svg+xml") >= 11
    assert all(w > 300 and h > 50 for w, h in result["svgs"])
    assert result["spikeRows"] >= 1 and "img01-s0.60-r0.80-seed0" in page  # the planted spike is listed
    assert result["zoomOpen"] and result["zoomClosed"]


def test_screenshot(chromium, report, tmp_path):
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    # tall enough to hold the new sections (masks, mitigations, what users see, where it comes from)
    _run(chromium, tmp_path / "profile", f"--screenshot={SCREENSHOT}", "--window-size=1280,7200", report.as_uri())
    assert SCREENSHOT.stat().st_size > 50_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_browser_skips_unless_required(monkeypatch):
    monkeypatch.setitem(globals(), "_find_chromium", lambda: None)
    monkeypatch.delenv("LEAKAGE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        _chromium_or_skip()
    monkeypatch.setenv("LEAKAGE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="LEAKAGE_REQUIRE_BROWSER=1 requires it"):
        _chromium_or_skip()
