"""pytest plugin: the ``--leak-*`` options, the ``inpainter`` fixture, and the hooks that record rows.

Registered through the ``pytest11`` entry point, so every pytest run in the environment imports
this module, leakage or not: it imports nothing heavy (no numpy, pandas, torch, the gate, the
store or the report). The state lives in one :class:`~harness.session.LeakageSession` in
``config.stash``, built only when the session turns out to be a leakage session
(:mod:`harness.activation`); an unrelated session never builds it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from harness import heap
from harness.activation import SESSION_KEY, leakage_intended, pending_error, read_options
from harness.activation import built as _built
from harness.activation import session as _session
from harness.options import OPTIONS
from harness.transport import (CASE_KEY, FINGERPRINT_KEY, LOAD_ERROR_KEY, MACHINE_KEY, NOTE_KEY, ORIGIN_KEY,
                               REFUSED_KEY, ROW_KEY)

if TYPE_CHECKING:
    from harness.session import LeakageSession

__all__ = ["SESSION_KEY", "MARKER"]

MARKER = "leakage"


def _limit(kind: str):
    """The ``--leak-max``/``--leak-min`` parser, imported when such an option is given."""
    def parse(value: str):
        from harness.gate.thresholds import parse_limit_arg

        return parse_limit_arg(kind)(value)

    parse.__name__ = f"leak_{kind}"  # argparse names the type in its messages
    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakage", "inpainting leakage (inpaint-leakage)")
    for opt in OPTIONS:
        if opt.flag:
            group.addoption(opt.cli, action="store_true", default=None, dest=f"leak_{opt.name}", help=opt.help)
        elif opt.name == "images":
            group.addoption(opt.cli, action="append", type=opt.parse, default=None, dest="leak_images",
                            metavar=opt.metavar, help=opt.help + " (repeatable)")
        else:
            group.addoption(opt.cli, type=opt.parse, default=None, dest=f"leak_{opt.name}",
                            metavar=opt.metavar, help=f"{opt.help} [default: {opt.default}]")
        parser.addini(f"leak_{opt.name}", f"default for {opt.cli}", default=None)
    group.addoption("--leak-max", action="append", type=_limit("max"), default=[], dest="leak_max",
                    metavar="METRIC=VALUE", help="fail a case whose METRIC is above VALUE (repeatable)")
    group.addoption("--leak-min", action="append", type=_limit("min"), default=[], dest="leak_min",
                    metavar="METRIC=VALUE", help="fail a case whose METRIC is below VALUE (repeatable)")
    group.addoption("--leak-save-baseline", dest="leak_save_baseline", metavar="NAME", default=None,
                    help="save this run as baselines/NAME.json")
    group.addoption("--leak-compare", dest="leak_compare", metavar="NAME", default=None,
                    help="compare every case with baselines/NAME.json; fail the session on a regression")
    group.addoption("--leak-update-baseline", dest="leak_update_baseline", action="store_true", default=False,
                    help="with --leak-compare: rewrite the baseline from this run instead of comparing")
    group.addoption("--leak-report", dest="leak_report", metavar="PATH", default=None,
                    help="where the HTML report is written [default: next to the store, leakage.html]")
    group.addoption("--leak-resume", dest="leak_resume", nargs="?", const="latest", default=None, metavar="RUN_ID",
                    help="continue an interrupted or died run (default: the latest), computing only the cases it lacks")
    group.addoption("--leak-no-report", dest="leak_no_report", action="store_true", default=False,
                    help="do not write the HTML report")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Registered before any pytest_configure, so it runs after the cleanups plugins add there (the
    # cleanup stack is last in, first out), pytest's own full collections at exit among them: the
    # heap frozen once the pipeline loaded (see harness.heap) stays out of them until the very end,
    # and past it when the process exits next (the interpreter's last collection is spared too).
    if not heap.ends_the_process():
        config.add_cleanup(heap.thaw)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(experiment): a leakage experiment parametrized over its cases")
    config.pluginmanager.register(_ControllerHooks(config), "leakage-session")
    if leakage_intended(config):
        _session(config)  # now: a bad option or baseline stops pytest before anything runs
    else:
        read_options(config)  # a bad value in pyproject.toml is a usage error in any session


class _XdistHooks:
    """Hooks that exist only when pytest-xdist is installed."""

    @staticmethod
    def pytest_configure_node(node) -> None:
        leak = _session(node.config)
        # every worker records under the controller's run id (artifacts go to one folder)
        node.workerinput["leak_run_id"] = leak.run_id
        # each case's verdict needs its baseline values: the controller checked the file once and
        # hands the same values to every worker (a remote worker may not even have the file)
        node.workerinput["leak_baseline_values"] = json.dumps(leak.baseline_values)
        node.workerinput["leak_resume"] = json.dumps(leak.resume) if leak.resume else ""

    @staticmethod
    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(config: pytest.Config, log):
        # xdist's default distribution (-n without --dist): keep each batch group on one worker;
        # an explicit --dist is left as the user asked
        leak = _built(config)
        if config.getvalue("dist") != "load" or leak is None:
            return None
        from harness.execution.scheduler import GroupScheduling

        return GroupScheduling(config, log, leak=leak)

    @staticmethod
    def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
        # the controller collects nothing itself: the first worker's collection gives the total
        _start_progress(node.config, nodeids=ids)


def pytest_plugin_registered(plugin, manager) -> None:
    if getattr(plugin, "__name__", "") == "xdist.plugin" and not manager.has_plugin("leakage-xdist"):
        manager.register(_XdistHooks(), "leakage-xdist")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "leak_case" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses leak_case without @pytest.mark.{MARKER}(experiment)")
    with heap.collector_paused():  # the first experiment's cases import diffusers and torch (see harness.heap)
        try:
            leak = _session(metafunc.config)
        except pytest.UsageError:
            return  # raised once collection ends (pytest_collection_modifyitems), not as a collection error
        params = []
        for case in leak.cases(marker.args[0]):
            # the pipeline's own step rule; reported as skipped (and recorded), never silently dropped
            reason = leak.pipeline.skip_reason(case)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(case, id=case.case_id, marks=marks))
    metafunc.parametrize("leak_case", params)


def pytest_itemcollected(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "leak_case" in callspec.params:
        item.user_properties.append((CASE_KEY, json.dumps(callspec.params["leak_case"].as_dict())))


@pytest.hookimpl(trylast=True)  # after -k, -m and every other deselection: only selected cases are planned
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    error = pending_error(config)
    if error is not None:  # the leakage session met a bad option when collection began
        raise error
    leak = _built(config)
    if leak is not None and leak.pipeline.error and not leak.is_worker:
        raise pytest.UsageError(f"leakage: {leak.pipeline.error}")
    if leak is None or not any(_case_of(item) for item in items):
        return
    from harness.execution.groups import Entry

    entries = [Entry(item.nodeid, None if item.get_closest_marker("skip") else _case_of(item)) for item in items]
    kept = leak.runner.execution.select(entries)
    if kept is not None:  # --leak-shard: the other shards' items are deselected
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in kept])
        items[:] = [item for item in items if item.nodeid in kept]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # the cases that come next, for the look-ahead (harness.execution.lookahead); under xdist a
    # worker knows its next item (it keeps one back until more arrive or the run ends), no more
    if _case_of(item) is not None:
        leak = _built(item.config)
        if leak is not None:
            from harness.execution.lookahead import upcoming_cases

            leak.runner.execution.upcoming = upcoming_cases(item, nextitem, _case_of, in_order=not leak.is_worker)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # the item's look-ahead call is joined before any finalizer runs (harness.execution.lookahead)
    if _case_of(item) is not None:
        leak = _built(item.config)
        if leak is not None:
            leak.settle()


def _case_of(item: pytest.Item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("leak_case") if callspec is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    # the case whose set-up failed to load the pipeline carries the reason to the controller
    leak = _built(item.config)
    error = leak.pipeline.load_error if leak is not None else None
    if error and report.when == "setup" and report.failed:
        report.user_properties = [*report.user_properties, (LOAD_ERROR_KEY, error)]
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return  # nothing will be measured: no run to record
    cases = sum(CASE_KEY in dict(item.user_properties) for item in session.items)
    if cases:
        from harness.store import StoreError

        try:
            _session(session.config).start()
        except StoreError as exc:  # before any case runs: the store path is unusable
            raise pytest.UsageError(f"leakage: {exc}") from None
        _start_progress(session.config, total=cases)


def _start_progress(config: pytest.Config, **count) -> None:
    """Start counting cases for the progress line (see :mod:`harness.progress`), where it shows."""
    leak, reporter = _built(config), config.pluginmanager.get_plugin("terminalreporter")
    if leak is None or reporter is None:
        return
    if leak.options.progress == "auto" and config.get_verbosity() < -1:
        return  # -qq asks for next to nothing
    leak.start_progress(**count, terminal=bool(reporter.isatty))


class _ControllerHooks:
    """Hooks that need the session: registered once per config in :func:`pytest_configure`; each
    does nothing in a session that is not a leakage session."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.pytest_session: pytest.Session | None = None
        self.progress_line: str | None = None  # due after this test's reports, written when it ends

    @property
    def leak(self) -> "LeakageSession | None":
        leak = _built(self.config)
        if leak is not None and leak.pytest_session is None:
            leak.pytest_session = self.pytest_session  # a failed store write stops it through its flags
        return leak

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.pytest_session = session

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; absent under -p no:xdist
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched) -> None:
        # the worker running `crashitem` died; its report (made here, without our properties) follows
        if self.leak is not None:
            self.leak.note_crash(crashitem)

    # first: before junitxml reads the report's properties, and before the terminal shows it
    # (receive() turns a load failure repeated by another xdist worker into a skip)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        leak = self.leak
        if leak is None or leak.is_worker:  # workers' reports reach the controller, which alone writes
            return
        leak.receive(report)
        self.progress_line = leak.progress_line(report) or self.progress_line
        if report.when == "teardown":  # a case's last report: the one junitxml writes out
            from harness import junit

            junit.record_metrics(leak.config, report, leak.row_of(report))

    @pytest.hookimpl(trylast=True)  # after the terminal reporter's own progress for this test
    def pytest_runtest_logfinish(self) -> None:
        leak = self.leak
        if leak is not None and leak.progress is not None and leak.progress.finished:
            return  # the last line waits for pytest's "[100%]", written once the test loop ends
        self._write_progress()

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # the outermost: resumes after the terminal's wrapper
    def pytest_runtestloop(self, session: pytest.Session):
        result = yield
        self._write_progress()
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.currentfspath = None  # no test line continues below the last progress line
        return result

    def _write_progress(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if self.progress_line and reporter is not None:
            _write_progress(reporter, self.progress_line, verbose=self.config.get_verbosity() > 0)
        self.progress_line = None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.leak is not None and not self.leak.is_worker:
            session.exitstatus = self.leak.finish(exitstatus)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # the last line of the session: where to look (after pytest's own summary line)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.leak is not None and self.leak.outputs.report_path is not None:
            reporter.write_line(f"leakage report: {self.leak.outputs.report_path}")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = self.leak.summary_lines() if self.leak is not None else []
        if lines:
            terminalreporter.write_sep("=", "inpainting leakage")
            for line in lines:
                terminalreporter.write_line(line)


def _write_progress(reporter, line: str, *, verbose: bool) -> None:
    """The progress line on a line of its own between pytest's writes (why: :mod:`harness.progress`)."""
    fspath = reporter.currentfspath
    reporter.ensure_newline()
    if reporter._tw.width_of_current_line:  # xdist's dots, which belong to no file line
        reporter._tw.line()
    if verbose:
        # pytest ends a line before it starts the next test's; -2 is what xdist sets for "a line
        # that is not a test file's", so no blank line follows
        reporter.write(line, cyan=True)
        reporter.currentfspath = -2
    else:
        # the dots go on under this line, and pytest does not repeat the file's name
        reporter.write_line(line, cyan=True)
        reporter.currentfspath = fspath


@pytest.fixture(scope="session")
def inpainter(request: pytest.FixtureRequest):
    """The pipeline under test, loaded once per process (per xdist worker).

    A pipeline that cannot be loaded fails the first case with the reason and stops the
    session, instead of failing every case with the same error.
    """
    from harness.devices import worker_device
    from harness.pipelines import PipelineLoadError, load_inpainter

    leak = _session(request.config)
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    try:
        if leak.pipeline.error:
            raise PipelineLoadError(leak.pipeline.error)
        device = worker_device(leak.options.device, worker)
        import torch

        # the same count in every process: CPU results follow it, and N workers x all cores
        # oversubscribe the CPU (seen: 275 s instead of 12 s for the smoke sweep with -n 2)
        torch.set_num_threads(leak.options.threads)
        with heap.collector_paused():  # the pipeline lives until the session ends: frozen with the libraries
            return load_inpainter(leak.options.pipeline, device=device, dtype=leak.options.dtype,
                                  pipeline_class=leak.options.pipeline_class, scheduler=leak.pipeline.scheduler)
    except (PipelineLoadError, ValueError) as exc:
        message = f"cannot load pipeline {leak.options.pipeline!r}: {exc}"
    leak.pipeline.load_error = message
    request.session.shouldfail = f"leakage: {message}"
    pytest.fail(message, pytrace=False)  # outside the except: the message alone, no exception chain


@pytest.fixture
def leak_measure(request: pytest.FixtureRequest, inpainter):
    """Measure one case: record its row (always), then skip or fail the test if it must."""
    from harness.gate import check_thresholds

    leak = _session(request.config)
    # straight onto the item, not through record_property, which warns under JUnit's xunit2
    # family: these are transport, replaced by one property per metric (harness.junit)
    record = request.node.user_properties.append

    def measure(case) -> None:
        if not leak.fingerprint_sent:
            from harness.machine import device_info

            record((FINGERPRINT_KEY, json.dumps(inpainter.fingerprint(), default=str)))
            record((MACHINE_KEY, json.dumps(device_info(inpainter.device))))
            leak.fingerprint_sent = True
        refusal = leak.runner.resume_refusal(inpainter)
        if refusal:  # another pipeline than the resumed run's: stop before computing anything
            record((REFUSED_KEY, refusal))
            request.session.shouldfail = f"leakage: {refusal}"
            pytest.fail(refusal, pytrace=False)
        computed = leak.runner.execution.computed
        result = leak.runner.measure(inpainter, case)
        record((ORIGIN_KEY, "computed" if leak.runner.execution.computed > computed else "copied"))
        for note in leak.runner.execution.notes:
            record((NOTE_KEY, note))
        leak.runner.execution.notes.clear()
        if result.skip:  # recorded as skipped, with the reason
            record((ROW_KEY, json.dumps(result.row, default=str)))
            pytest.skip(result.skip)
        if result.output is not None and leak.artifacts_dir is not None:
            result.row["artifact"] = leak.save_artifacts(case, result.original, result.output)
        elif result.original is None and leak.artifacts_dir is not None:  # copied: the report needs its original
            leak.save_original(case, inpainter.size_multiple)
        if not result.problems:  # measured: judge it by the thresholds and the baseline
            over = check_thresholds(leak.gates.thresholds, result.row)
            if over:
                result.row["flags"].append("threshold")
                result.problems.extend(over)
            worse = leak.baseline_verdict(result.row)
            if worse:
                result.row["flags"].append("regression")
                result.problems.append(worse)
        record((ROW_KEY, json.dumps(result.row, default=str)))
        if result.problems:
            pytest.fail("; ".join(p if p.startswith(case.case_id) else f"{case.case_id}: {p}"
                                  for p in result.problems), pytrace=False)

    return measure
