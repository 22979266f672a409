"""Batching, reuse, resume and shards as users run them: pytester projects on the tiny pipeline,
with the pipeline's calls counted."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness import cli
from harness.pipelines.inpainter import Inpainter
from harness.store import Store

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider",
        "--leak-no-report"]
METRICS = ["mse_outside", "mae_outside", "max_abs_outside", "changed_frac", "mse_excess"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def counted(monkeypatch) -> dict:
    """Count the cases the pipeline is called on (batched or not) and the VAE round trips."""
    counts = {"cases": 0, "calls": 0, "roundtrips": 0}
    batch, roundtrip = Inpainter.inpaint_batch, Inpainter.vae_roundtrip

    def inpaint_batch(self, images, *args, **kwargs):
        counts["cases"] += len(images)
        counts["calls"] += 1
        return batch(self, images, *args, **kwargs)

    def vae_roundtrip(self, image):
        counts["roundtrips"] += 1
        return roundtrip(self, image)

    monkeypatch.setattr(Inpainter, "inpaint_batch", inpaint_batch)
    monkeypatch.setattr(Inpainter, "vae_roundtrip", vae_roundtrip)
    return counts


def _store(project) -> Store:
    return Store(project.path / "reports" / "leakage.sqlite")


def test_batched_rows_equal_unbatched_ones_within_the_tolerance(leak_project, counted):
    leak_project.runpytest("benchmarks", "-k", "radius", *FAST, "--leak-batch", "1").assert_outcomes(passed=10,
                                                                                                     skipped=5)
    assert counted["calls"] == 10
    leak_project.runpytest("benchmarks", "-k", "radius", *FAST, "--leak-batch", "4").assert_outcomes(passed=10,
                                                                                                     skipped=5)
    assert counted["calls"] == 10 + 4  # s0.50 and s0.90: 5 radii each, in calls of 4 and 1
    store = _store(leak_project)
    one, four = (store.frame(r).set_index("case_id") for r in store.runs().run_id)
    assert list(one.index) == list(four.index) and list(one.status) == list(four.status)
    passed = one.status == "passed"
    assert sorted(four.batch_size[passed]) == [1, 1] + [4] * 8 and set(one.batch_size[passed]) == {1}
    shares = four[passed & (four.batch_size == 4)]
    assert np.allclose(shares.seconds * 4, shares.batch_seconds)
    assert four.peak_memory_bytes.isna().all()  # the CPU has no device memory to report
    # the documented tolerance: outputs within 1 level, metrics within 1e-3 relative
    for case_id in one.index[passed]:
        a, b = (np.asarray(Image.open(store.path.parent / f.artifact[case_id]), np.int16) for f in (one, four))
        assert np.abs(a - b).max() <= 1
    for metric in METRICS[:2]:
        assert np.allclose(one[metric][passed], four[metric][passed], rtol=1e-3, atol=0)


def test_k_with_batching_computes_only_the_selected_cases(leak_project, counted):
    result = leak_project.runpytest("benchmarks", "-k", "radius and s0.50 and not r0.20", *FAST, "--leak-batch", "8")
    result.assert_outcomes(passed=4)
    assert counted == {"cases": 4, "calls": 1, "roundtrips": 1}


def test_the_duplicate_r080_cases_are_computed_once(leak_project, counted):
    result = leak_project.runpytest("benchmarks", "-k", "strength or radius", *FAST)
    result.assert_outcomes(passed=18, skipped=8)
    # 8 strength cases and 10 radius cases, of which r 0.80 at s 0.50 and s 0.90 are strength cases
    assert counted["cases"] == 16
    result.stdout.fnmatch_lines(["cases computed: 16, copied: 2 *"])
    frame = _store(leak_project).frame().set_index(["experiment", "case_id"])
    for strength in ("0.50", "0.90"):
        case = f"coffee-s{strength}-r0.80-seed0"
        assert frame.loc[("radius", case), METRICS].equals(frame.loc[("strength", case), METRICS])


def test_reuse_on_an_unchanged_setup_computes_nothing_and_a_changed_option_everything(leak_project, counted):
    leak_project.runpytest("benchmarks", "-k", "radius", *FAST).assert_outcomes(passed=10, skipped=5)
    before = dict(counted)
    leak_project.runpytest("benchmarks", "-k", "radius", *FAST, "--leak-reuse").assert_outcomes(passed=10, skipped=5)
    assert counted == before  # no pipeline call, no VAE round trip
    store = _store(leak_project)
    source, reused = (store.frame(r).set_index("case_id") for r in store.runs().run_id)
    passed = source.status == "passed"
    assert (reused.reused_from[passed] == source.run_id.iloc[0]).all()
    same = [c for c in source.columns if c not in ("run_id", "recorded", "reused_from", "nodeid")]
    assert source[same].equals(reused[same])
    leak_project.runpytest("benchmarks", "-k", "radius", *FAST, "--leak-reuse", "--leak-paste-back")
    assert counted["cases"] == before["cases"] + 10  # paste-back changes the output: nothing to copy
    assert store.frame().reused_from.isna().all()


INTERRUPT_AFTER_THIRD_CASE = """
import os, signal

passed = []

def pytest_runtest_logreport(report):
    if os.environ.get("LEAK_TEST_INTERRUPT") and report.when == "call" and report.passed:
        passed.append(report.nodeid)
        if len(passed) == 3:
            os.kill(os.getpid(), signal.SIGINT)
"""


def test_a_run_interrupted_by_sigint_resumes_computing_only_what_it_lacks(leak_project, counted, monkeypatch):
    leak_project.makeconftest(INTERRUPT_AFTER_THIRD_CASE)
    monkeypatch.setenv("LEAK_TEST_INTERRUPT", "1")
    leak_project.runpytest_subprocess("benchmarks", "-k", "strength", *FAST)
    store = _store(leak_project)
    interrupted = store.run()
    assert interrupted["status"] == "interrupted"
    finished = set(store.frame().query("status == 'passed'").case_id)
    assert len(finished) == 3
    monkeypatch.delenv("LEAK_TEST_INTERRUPT")
    result = leak_project.runpytest("benchmarks", "-k", "strength", *FAST, "--leak-resume")
    result.assert_outcomes(passed=8, skipped=3)
    assert counted["cases"] == 8 - 3  # none of the finished cases again
    assert len(store.runs()) == 1
    run, frame = store.run(), store.frame()
    assert run["run_id"] == interrupted["run_id"] and run["status"] == "passed"
    assert len(frame) == 11 and frame.case_id.is_unique and frame.reused_from.isna().all()


def test_resume_refuses_other_options_with_the_difference(leak_project):
    leak_project.runpytest("benchmarks", "-k", "radius and s0.50", *FAST, "--leak-resume").stderr.fnmatch_lines(
        ["*--leak-resume: no interrupted or died run in * to resume*"])
    leak_project.runpytest_subprocess("benchmarks", "-k", "radius and s0.50", *FAST, "-x",
                                      "--leak-max", "mse_outside=0", "--leak-artifacts", "none")
    store = _store(leak_project)
    with store._writer() as conn:  # as a run that died leaves it
        conn.execute("UPDATE runs SET status = 'interrupted'")
    result = leak_project.runpytest("benchmarks", "-k", "radius and s0.50", *FAST, "--leak-resume",
                                    "--leak-max-side", "32")
    result.stderr.fnmatch_lines(["*--leak-resume: run * was recorded under other settings*max_side: 64 recorded, "
                                 "32 now*"])
    assert store.run()["status"] == "interrupted"


def test_merged_shards_equal_the_single_run_and_other_pipelines_are_refused(leak_project, capsys):
    args = ("benchmarks", "-k", "strength or radius", *FAST, "--leak-batch", "4")
    leak_project.runpytest(*args, "--leak-store", "reports/single.sqlite")
    for k in (1, 2):
        leak_project.runpytest(*args, "--leak-shard", f"{k}/2", "--leak-store", f"shard{k}/leakage.sqlite")
    root = leak_project.path
    shards = [str(root / f"shard{k}" / "leakage.sqlite") for k in (1, 2)]
    assert all(len(Store(s).frame()) < 26 for s in shards)
    assert cli.main(["merge", str(root / "merged.sqlite"), *shards]) == 0
    merged, single = Store(root / "merged.sqlite"), Store(root / "reports" / "single.sqlite")
    columns = ["experiment", "case_id", "status", *METRICS, "batch_size"]
    assert merged.frame()[columns].equals(single.frame()[columns])
    assert merged.run()["status"] == "passed" and merged.run()["options"]["shard"] is None
    assert [s["shard"] for s in merged.run()["machine"]["shards"]] == ["1/2", "2/2"]
    assert cli.main(["--store", str(root / "merged.sqlite"), "report", "-o", str(root / "merged.html")]) == 0
    leak_project.runpytest(*args, "--leak-shard", "2/2", "--leak-store", "other/leakage.sqlite",
                           "--leak-pipeline", "tiny-9ch")
    capsys.readouterr()
    assert cli.main(["merge", str(root / "refused.sqlite"), shards[0], str(root / "other" / "leakage.sqlite")]) == 2
    error = capsys.readouterr().err
    assert "did not measure what" in error and "fingerprint weights_sha256" in error
    assert not (root / "refused.sqlite").exists()
