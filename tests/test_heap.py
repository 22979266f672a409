"""Freezing the long-lived heap: what is frozen here is thawed here, and nothing else."""

from __future__ import annotations

import gc

import pytest

from harness import heap


@pytest.fixture(autouse=True)
def _unfrozen():
    if gc.get_freeze_count():
        pytest.skip("the heap of this process is frozen already")
    yield
    heap.thaw()
    gc.unfreeze()


def test_freeze_then_thaw():
    assert heap.freeze() is True and gc.get_freeze_count() > 0
    heap.thaw()
    assert gc.get_freeze_count() == 0
    heap.thaw()  # a second thaw is nothing
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_elsewhere_is_left_alone():
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert heap.freeze() is False
    heap.thaw()
    assert 0 < gc.get_freeze_count() <= frozen  # not thawed here: it was not frozen here (the count
    # may only shrink, as frozen objects another thread releases leave it)


def test_frozen_block_thaws_on_exit_and_on_error():
    with heap.frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), heap.frozen():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_frozen_block_inside_another_freeze_keeps_it():
    gc.freeze()
    before = gc.get_freeze_count()
    with heap.frozen():
        pass
    assert 0 < gc.get_freeze_count() <= before


def test_collector_paused_runs_the_block_without_collections_then_freezes_it():
    assert gc.isenabled()
    with heap.collector_paused():
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]
        for item in made:
            item.append(item)  # garbage cycles once dropped: frozen with the rest, not collected
        before = gc.get_stats()[2]["collections"]
        del made
    assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.get_stats()[2]["collections"] == before
    with heap.collector_paused():  # the freeze grows: it is this module's
        kept = [{"new": i} for i in range(100)]
    assert gc.get_freeze_count() > 0 and kept
    heap.thaw()
    assert gc.get_freeze_count() == 0


def test_collector_paused_on_error_and_when_the_collector_was_off():
    with pytest.raises(RuntimeError), heap.collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled() and gc.get_freeze_count() > 0
    heap.thaw()
    gc.disable()
    try:
        with heap.collector_paused():
            pass
        assert not gc.isenabled() and gc.get_freeze_count() == 0  # left as it was found
    finally:
        gc.enable()


def test_frozen_block_after_a_freeze_here_grows_it_and_keeps_it():
    heap.freeze()
    with heap.frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() > 0  # the session's freeze stands until thawed
    heap.thaw()
    assert gc.get_freeze_count() == 0


def test_a_leakage_sessions_collection_runs_with_the_collector_paused(leak_project, monkeypatch):
    # the first experiment's cases import diffusers (PipelineSpec.pipeline_type): without the
    # collector's full scans, and what they leave is frozen when collection ends
    from harness.pipelines.spec import PipelineSpec

    seen = {"collector on at import": []}
    original = PipelineSpec.pipeline_type

    def pipeline_type(self):
        seen["collector on at import"].append(gc.isenabled())
        return original(self)

    monkeypatch.setattr(PipelineSpec, "pipeline_type", pipeline_type)

    class Probe:
        @staticmethod
        def pytest_collection_finish(session):
            seen["at collection finish"] = (gc.isenabled(), gc.get_freeze_count())

    result = leak_project.runpytest("benchmarks", "--collect-only", "-q", "--leak-images", "coffee",
                                    "-p", "no:cacheprovider", plugins=[Probe()])
    assert result.ret == 0
    assert seen["collector on at import"] and not any(seen["collector on at import"])
    enabled, frozen = seen["at collection finish"]
    assert enabled and frozen > 0
    assert gc.get_freeze_count() == 0  # an inline run: thawed when it ends


def test_a_leakage_session_stays_frozen_through_pytests_exit_collections_then_thaws(leak_project):
    # pytest's unraisableexception plugin runs full collections in a cleanup it registers in
    # pytest_configure; a cleanup registered the same way must still see the heap frozen
    seen = {}

    class Probe:
        @staticmethod
        def pytest_configure(config):
            config.add_cleanup(lambda: seen.setdefault("at configure cleanups", gc.get_freeze_count()))

        @staticmethod
        def pytest_sessionfinish(session):
            seen["at session finish"] = gc.get_freeze_count()

    result = leak_project.runpytest("benchmarks", "-k", "test_floor", "--leak-images", "coffee", "--leak-max-side",
                                    "64", "-p", "no:cacheprovider", "--leak-no-report", plugins=[Probe()])
    result.assert_outcomes(passed=1)
    assert seen["at session finish"] > 0 and seen["at configure cleanups"] > 0
    assert gc.get_freeze_count() == 0


def test_a_session_without_leakage_cases_freezes_nothing(pytester):
    pytester.makepyfile("import gc\n\ndef test_one():\n    assert gc.get_freeze_count() == 0\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert gc.get_freeze_count() == 0


def test_ends_the_process_is_false_outside_pytest_main_and_in_an_inline_run(pytester):
    import threading

    outside = []
    thread = threading.Thread(target=lambda: outside.append(heap.ends_the_process()))
    thread.start()
    thread.join()
    seen = []

    class Probe:
        @staticmethod
        def pytest_configure(config):
            seen.append(heap.ends_the_process())

    pytester.makepyfile("def test_one():\n    pass\n")
    pytester.runpytest("-p", "no:cacheprovider", plugins=[Probe()]).assert_outcomes(passed=1)
    assert outside == [False] and seen == [False]


def test_a_leakage_session_of_the_pytest_command_leaves_the_heap_frozen_for_the_exit(leak_project):
    # the process ends right after: the interpreter's last collection need not walk the heap
    leak_project.makepyfile(exit_probe="""
        import atexit, gc, sys

        from harness import heap

        def pytest_configure(config):
            print(f"ends the process: {heap.ends_the_process()}")
            atexit.register(lambda: print(f"frozen at exit: {gc.get_freeze_count() > 0}", flush=True))
    """)
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "test_floor", "--leak-images", "coffee",
                                               "--leak-max-side", "64", "-p", "no:cacheprovider", "-p", "exit_probe",
                                               "--leak-no-report", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ends the process: True*", "*frozen at exit: True*"])
