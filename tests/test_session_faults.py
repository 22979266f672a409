"""Faults during a session, as users and hostile environments cause them: crashed workers, a killed
controller, a store that cannot be written, a report that cannot be written, bad baselines and
bad input. Each ends in one clear message and an exit code that agrees with the run's status in
the store, and every row recorded before (in this run and the earlier one) is still there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from harness.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider"]

# strength 0.6 of the smoke preset: cases before it are recorded, cases after it are not yet run
KILL_AT = "coffee-s0.60-r0.80-seed0"


def _store(project: pytest.Pytester) -> Store:
    return Store(project.path / "reports" / "leakage.sqlite")


@pytest.fixture
def earlier(leak_project):
    """A finished run recorded before the faulty one; its rows must survive whatever follows."""
    leak_project.runpytest("benchmarks", "-k", "floor", *FAST, "--leak-no-report").assert_outcomes(passed=1)
    store = _store(leak_project)
    run_id = store.latest_run_id()
    return run_id, store.frame(run_id)


def _assert_kept(project: pytest.Pytester, earlier) -> None:
    run_id, rows = earlier
    store = _store(project)
    assert store.run(run_id)["status"] == "passed"
    assert store.frame(run_id).drop(columns="recorded").equals(rows.drop(columns="recorded"))


def _this_run(project: pytest.Pytester, earlier) -> dict:
    runs = _store(project).runs()
    later = runs[runs.run_id != earlier[0]]
    assert len(later) == 1
    return _store(project).run(later.run_id.iloc[0])


def _write_module(project: pytest.Pytester, name: str, body: str) -> None:
    (project.path / "benchmarks" / f"{name}.py").write_text(body)


# -- 1. a worker that dies mid-case ---------------------------------------------------------------

_KILL_IN_CALL = f"""
import os, signal
import pytest
pytestmark = pytest.mark.leakage("strength")

def test_strength(leak_case, leak_measure):
    if leak_case.case_id == "{KILL_AT}":
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies as under the OOM killer
    leak_measure(leak_case)
"""

# dies in setup, before its setup report: the controller only has the node id to go on, and
# this case id is in the strength sweep too
_KILL_IN_SETUP = """
import os, signal
import pytest
pytestmark = pytest.mark.leakage("radius")

@pytest.fixture
def fragile(leak_case):
    if leak_case.case_id == "coffee-s0.50-r0.80-seed0":
        os.kill(os.getpid(), signal.SIGKILL)

def test_radius(leak_case, fragile, leak_measure):
    leak_measure(leak_case)
"""


def test_a_case_whose_worker_is_killed_keeps_an_error_row(leak_project, earlier):
    _write_module(leak_project, "test_strength", _KILL_IN_CALL)
    _write_module(leak_project, "test_radius", _KILL_IN_SETUP)
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "(strength or radius) and (s0.50 or s0.60)", "-n", "2",
                                               *FAST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=5, failed=2)
    result.stdout.fnmatch_lines(["radius*5 cases (1 error, 4 passed)*", "strength*2 cases (1 error, 1 passed)*"])
    run = _this_run(leak_project, earlier)
    assert run["status"] == "failed"
    frame = _store(leak_project).frame(run["run_id"]).set_index(["experiment", "case_id"])
    assert len(frame) == 7  # every case has its row, the crashed ones too
    for key in (("strength", KILL_AT), ("radius", "coffee-s0.50-r0.80-seed0")):
        row = frame.loc[key]
        assert row.status == "error" and np.isnan(row.mse_outside)
        assert row.message.startswith("worker 'gw") and f"crashed while running '{row.nodeid}'" in row.message
    assert frame.loc[("strength", "coffee-s0.50-r0.80-seed0")].status == "passed"
    html = (leak_project.path / "reports" / f"leakage-{run['run_id']}.html").read_text(encoding="utf-8")
    assert f"crashed while running &#39;{frame.loc[('strength', KILL_AT)].nodeid}&#39;" in html
    _assert_kept(leak_project, earlier)


# -- 2. a controller that is killed ----------------------------------------------------------------


def test_a_killed_controller_leaves_a_died_run_with_its_rows(leak_project, earlier):
    _write_module(leak_project, "test_strength", _KILL_IN_CALL)  # without xdist the controller runs it
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "strength", *FAST)
    assert result.ret == -9
    store = _store(leak_project)
    run = _this_run(leak_project, earlier)
    assert run["status"] == "died" and run["finished"] is None
    assert set(store.frame(run["run_id"]).case_id) == {
        f"coffee-s{s:.2f}-r0.80-seed0" for s in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)}
    listed = subprocess.run([sys.executable, "-m", "harness", "--store", str(store.path), "runs"],
                            capture_output=True, text=True, check=True)
    assert [ln.split()[0] for ln in listed.stdout.splitlines() if " died " in f" {ln} "] == [run["run_id"]]
    # the .sqlite file alone (copied without its -wal) is a store that holds the run
    copy = leak_project.path / "copy" / "leakage.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(store.path, copy)
    assert Store(copy).run(run["run_id"])["status"] == "died"
    _assert_kept(leak_project, earlier)


# -- 4. the store cannot be written mid-session ----------------------------------------------------

# the fault is injected at the store's one write call: the 4th result row finds the disk full
_DISK_FULL = """
import sqlite3
from harness.store import Store

_commit, _rows = Store._commit, []

def _full_after_three_rows(self, statements, **kwargs):
    if statements[0][0].startswith("INSERT OR REPLACE INTO results"):
        _rows.append(1)
        if len(_rows) > 3:
            raise sqlite3.OperationalError("database or disk is full")
    return _commit(self, statements, **kwargs)

Store._commit = _full_after_three_rows
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_store_write_error_ends_the_session_cleanly(leak_project, earlier, workers):
    leak_project.makeconftest(_DISK_FULL)
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "strength", "-n", workers, *FAST)
    store = _store(leak_project)
    message = f"leakage: cannot write the results store {store.path}: database or disk is full"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output
    result.stdout.fnmatch_lines([f"*{message}*"])
    result.stdout.fnmatch_lines(["*inpainting leakage*", "strength*3 cases*",
                                 f"results store write FAILED, the session was stopped: {message[9:]}",
                                 "3 rows were recorded before it and are kept: *"])
    run = _this_run(leak_project, earlier)
    assert run["status"] == "failed" and run["message"] == message[9:]
    assert len(store.frame(run["run_id"])) == 3
    # the remaining cases were not run: the session stopped instead of measuring for nothing
    assert result.parseoutcomes().get("passed", 0) + result.parseoutcomes().get("skipped", 0) < 11
    _assert_kept(leak_project, earlier)


def test_an_unusable_store_path_is_refused_before_any_case_runs(leak_project, earlier):
    (leak_project.path / "afile").write_text("x")
    foreign = leak_project.path / "foreign.sqlite"
    with_table = __import__("sqlite3").connect(foreign)
    with_table.execute("CREATE TABLE t (x)")
    with_table.commit()
    with_table.close()
    before = foreign.read_bytes()
    for store, expected in ((leak_project.path / "afile" / "s.sqlite",
                             f"cannot create the results store {leak_project.path}/afile/s.sqlite: Not a directory"),
                            (foreign, f"{foreign} is not a leakage results store (no meta table)")):
        result = leak_project.runpytest("benchmarks", "-k", "floor", *FAST, "--leak-store", str(store))
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: leakage: {expected}"])
        result.assert_outcomes()
    assert foreign.read_bytes() == before
    _assert_kept(leak_project, earlier)


# -- 5. bad baselines and paths that cannot be written ---------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"metrics": {"mse_outside": "abc"}}, "case 'floor/coffee-r0.80' metric mse_outside is 'abc', not a number"),
    ({"options": None}, "key 'options' must be a table, found None"),
    ({"fingerprint": "abc"}, "key 'fingerprint' must be a table, found 'abc'"),
    ({"name": None}, "key 'name' must be a string, found None"),
])
def test_a_baseline_with_wrong_value_types_is_refused_in_one_line_before_any_case_runs(leak_project, earlier,
                                                                                        change, message):
    leak_project.runpytest("benchmarks", "-k", "floor", *FAST, "--leak-save-baseline", "b").assert_outcomes(passed=1)
    path = leak_project.path / "baselines" / "b.json"
    document = json.loads(path.read_text())
    if "metrics" in change:
        document["cases"]["floor/coffee-r0.80"]["metrics"].update(change["metrics"])
    else:
        document.update(change)
    path.write_text(json.dumps(document))
    runs_before = _store(leak_project).runs().run_id.tolist()
    result = leak_project.runpytest("benchmarks", "-k", "floor", *FAST, "--leak-compare", "b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakage: baseline {path}: {message}*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert _store(leak_project).runs().run_id.tolist() == runs_before  # nothing ran, no run was recorded
    _assert_kept(leak_project, earlier)


@pytest.mark.parametrize("option", ["--leak-save-baseline", "--leak-report"])
def test_a_file_that_cannot_be_written_is_refused_before_any_case_runs(leak_project, earlier, option):
    (leak_project.path / "afile").write_text("x")
    target = leak_project.path / "afile" / "x.json"
    result = leak_project.runpytest("benchmarks", "-k", "floor", *FAST, option, str(target))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakage: {option}: cannot write {target}: Not a directory "
                                 f"({leak_project.path / 'afile'})"])
    assert len(_store(leak_project).runs()) == 1
    _assert_kept(leak_project, earlier)


# -- 6. a pipeline that cannot be loaded -----------------------------------------------------------


def test_a_run_whose_pipeline_failed_to_load_still_gets_its_report(leak_project, earlier, capsys):
    from harness.cli import main
    from harness.pipelines.source import embedded_folder

    # a folder that resolves (its model_index.json is fine) but whose weights do not load
    broken = leak_project.path / "broken"
    shutil.copytree(embedded_folder("tiny"), broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    result = leak_project.runpytest("benchmarks", "-k", "floor or (strength and s1.00)", *FAST, "--leak-pipeline", str(broken))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)  # the first case says why; the session stops there
    assert "report NOT written" not in result.stdout.str()
    run = _this_run(leak_project, earlier)
    assert run["status"] == "failed" and run["fingerprint"] == {}
    assert "cannot load pipeline" in run["message"]
    assert result.outlines[-1] == f"leakage report: {leak_project.path}/reports/leakage-{run['run_id']}.html"
    assert main(["--store", str(_store(leak_project).path), "report", "-o", str(leak_project.path / "r.html")]) == 0
    assert "cannot load pipeline" in (leak_project.path / "r.html").read_text(encoding="utf-8")
    _assert_kept(leak_project, earlier)


# -- 9. two sessions on one store, 10. a report that cannot be written -----------------------------


def test_every_session_prints_the_path_of_its_own_report(leak_project, earlier):
    full = leak_project.runpytest("benchmarks", "-k", "strength", *FAST)
    partial = leak_project.runpytest("benchmarks", "-k", "strength and s1.00", *FAST)
    runs = _store(leak_project).runs().run_id.tolist()[1:]
    reports = leak_project.path / "reports"
    for result, run_id in zip((full, partial), runs):
        assert result.ret == pytest.ExitCode.OK
        printed = result.outlines[-1].removeprefix("leakage report: ")
        assert printed == str(reports / f"leakage-{run_id}.html")
        html = (reports / printed).read_text(encoding="utf-8")
        assert f"run <code>{run_id}</code>" in html
    # the full run's report is still there after the partial one; leakage.html is the latest
    full_html, partial_html = ((reports / f"leakage-{r}.html").read_text(encoding="utf-8") for r in runs)
    assert KILL_AT in full_html and KILL_AT not in partial_html
    assert (reports / "leakage.html").read_text(encoding="utf-8") == partial_html
    _assert_kept(leak_project, earlier)


# the report's one write finds the disk full
_REPORT_DISK_FULL = """
import errno
import harness.report.render

def _no_space(target, data, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(target))

harness.report.render.write_atomic = _no_space
"""


def test_a_report_that_cannot_be_written_fails_the_run_and_the_session(leak_project, earlier):
    leak_project.makeconftest(_REPORT_DISK_FULL)
    result = leak_project.runpytest("benchmarks", "-k", "strength and s1.00", *FAST)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["report NOT written: OSError: [[]Errno 28[]] No space left on device: *.html'"])
    assert not any(line.startswith("leakage report:") for line in result.outlines)
    run = _this_run(leak_project, earlier)
    assert run["status"] == "failed" and run["message"].startswith("report not written: OSError: [Errno 28]")
    assert _store(leak_project).frame(run["run_id"]).status.tolist() == ["passed"]
    _assert_kept(leak_project, earlier)


# -- 8. input edges --------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--leak-seed", "99999999999999999999999"],
     "*--leak-seed: '99999999999999999999999' must be <= 9223372036854775807 (2**63 - 1)*"),
    (["--leak-seed", str(2**63 - 1), "--leak-seeds", "2"],
     "*leakage: --leak-seed 9223372036854775807 with --leak-seeds 2 goes past the largest seed*"),
])
def test_seeds_beyond_the_largest_are_refused_where_parsed(leak_project, earlier, args, message):
    result = leak_project.runpytest("benchmarks", "-k", "s1.00", *FAST, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    _assert_kept(leak_project, earlier)


def test_the_largest_seed_runs_and_is_stored(leak_project, earlier):
    result = leak_project.runpytest("benchmarks", "-k", "strength and s1.00", *FAST, "--leak-seed", str(2**63 - 1))
    result.assert_outcomes(passed=1)
    assert _store(leak_project).frame().seed.tolist() == [2**63 - 1]


def test_nan_tolerances_in_pyproject_are_refused_at_start(leak_project, earlier):
    leak_project.makefile(".toml", pyproject="[tool.pytest.ini_options]\n[tool.leakage.tolerances]\n"
                                             "mse_outside = { rel = nan }\n")
    result = leak_project.runpytest("benchmarks", "-k", "floor", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.leakage.tolerances[]] mse_outside: rel must be a finite number >= 0, got nan*"])
    _assert_kept(leak_project, earlier)


def test_image_folders_load_gif_and_name_what_they_ignore_and_a_truncated_png(leak_project, earlier):
    folder = leak_project.path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    # four flat colours, so the GIF's palette holds the first frame exactly
    first = np.repeat(np.repeat(rng.integers(0, 255, (2, 2, 3), dtype=np.uint8), 32, 0), 32, 1)
    frames = [Image.fromarray(first), Image.fromarray(255 - first)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(first).save(folder / "still-webp.webp", lossless=True)
    Image.fromarray(first).save(folder / "still-tif.tif")
    png = folder / "full.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(png)
    (folder / "trunc.png").write_bytes(png.read_bytes()[:1000])
    (folder / "notes.txt").write_text("not an image")
    args = [a for a in FAST if a not in ("--leak-images", "coffee")]
    result = leak_project.runpytest("benchmarks", "-k", "floor", *args, "--leak-images", str(folder))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([f"images: ignored {folder / 'notes.txt'} (not an image format this harness reads)"])
    frame = _store(leak_project).frame().set_index("case_id")
    assert sorted(frame.index) == ["anim-r0.80", "full-r0.80", "still-tif-r0.80", "still-webp-r0.80", "trunc-r0.80"]
    assert (frame.drop("trunc-r0.80").status == "passed").all()
    trunc = frame.loc["trunc-r0.80"]
    assert trunc.status == "failed"
    assert trunc.message.startswith(f"ValueError: {folder / 'trunc.png'} is not a readable image file")
    gif = np.asarray(Image.open(leak_project.path / "reports" / "artifacts" / frame.loc["anim-r0.80"].run_id
                                / "originals" / "anim.png"))
    assert np.array_equal(gif, first)  # the first frame, exactly
    _assert_kept(leak_project, earlier)
