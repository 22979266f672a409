"""pytest plugin: the ``--leak-*`` options, the ``inpainter`` fixture, and the hooks that record rows.

Registered through the ``pytest11`` entry point. The state lives in one
:class:`~harness.session.LeakageSession` in ``config.stash``; this module only wires it up.
"""

from __future__ import annotations

import argparse
import json

import pytest

from harness import junit
from harness.gate import BaselineError, check_thresholds, parse_limit_arg
from harness.options import OPTIONS, read_tool_config, resolve_options
from harness.gate.configure import build_gates
from harness.session import (CASE_KEY, FINGERPRINT_KEY, LOAD_ERROR_KEY, MACHINE_KEY, NOTE_KEY, ORIGIN_KEY, REFUSED_KEY,
                             ROW_KEY, LeakageSession)
from harness.store import StoreError

SESSION_KEY = pytest.StashKey[LeakageSession]()
MARKER = "leakage"


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
    group.addoption("--leak-max", action="append", type=parse_limit_arg("max"), default=[], dest="leak_max",
                    metavar="METRIC=VALUE", help="fail a case whose METRIC is above VALUE (repeatable)")
    group.addoption("--leak-min", action="append", type=parse_limit_arg("min"), default=[], dest="leak_min",
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


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(experiment): a leakage experiment parametrized over its cases")
    cli = {o.name: config.getoption(f"leak_{o.name}") for o in OPTIONS}
    if cli["images"]:
        cli["images"] = [name for group in cli["images"] for name in group]
    ini = {f"leak_{o.name}": config.getini(f"leak_{o.name}") for o in OPTIONS}
    worker = getattr(config, "workerinput", None)
    try:
        tool = read_tool_config(config.rootpath)
        options = resolve_options(cli, ini, tool)
        run_id = worker.get("leak_run_id") if worker else None
        values = json.loads(worker.get("leak_baseline_values", "{}")) if worker else None
        leak = LeakageSession(config, options, run_id=run_id, gates=build_gates(config, tool), baseline_values=values)
        # the pipeline resolved without weights, before xdist starts workers and before the baseline
        # check (which compares the scheduler that will run): on the controller a problem stops here
        leak.check_pipeline()
        if worker is None:
            leak.prepare_resume(config.getoption("leak_resume"))
            leak.prepare_baseline()  # a bad baseline stops pytest here, before any case runs
        elif worker.get("leak_resume"):
            leak.resume = json.loads(worker["leak_resume"])
    except (ValueError, argparse.ArgumentTypeError, BaselineError, StoreError) as exc:
        raise pytest.UsageError(f"leakage: {exc}") from None
    config.stash[SESSION_KEY] = leak
    config.pluginmanager.register(_ControllerHooks(leak), "leakage-session")


def _session(config: pytest.Config) -> LeakageSession:
    return config.stash[SESSION_KEY]


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
        if config.getvalue("dist") != "load" or SESSION_KEY not in config.stash:
            return None
        from harness.execution.scheduler import GroupScheduling

        return GroupScheduling(config, log, leak=_session(config))


def pytest_plugin_registered(plugin, manager) -> None:
    if getattr(plugin, "__name__", "") == "xdist.plugin" and not manager.has_plugin("leakage-xdist"):
        manager.register(_XdistHooks(), "leakage-xdist")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "leak_case" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses leak_case without @pytest.mark.{MARKER}(experiment)")
    leak = _session(metafunc.config)
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
    leak = _session(config)
    if leak.pipeline.error and not leak.is_worker:
        raise pytest.UsageError(f"leakage: {leak.pipeline.error}")
    if not any(_case_of(item) for item in items):
        return
    from harness.execution.groups import Entry

    entries = [Entry(item.nodeid, None if item.get_closest_marker("skip") else _case_of(item)) for item in items]
    kept = leak.runner.execution.select(entries)
    if kept is not None:  # --leak-shard: the other shards' items are deselected
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in kept])
        items[:] = [item for item in items if item.nodeid in kept]


def _case_of(item: pytest.Item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("leak_case") if callspec is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    # the case whose set-up failed to load the pipeline carries the reason to the controller
    error = _session(item.config).pipeline.load_error
    if error and report.when == "setup" and report.failed:
        report.user_properties = [*report.user_properties, (LOAD_ERROR_KEY, error)]
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return  # nothing will be measured: no run to record
    if any(CASE_KEY in dict(item.user_properties) for item in session.items):
        try:
            _session(session.config).start()
        except StoreError as exc:  # before any case runs: the store path is unusable
            raise pytest.UsageError(f"leakage: {exc}") from None


class _ControllerHooks:
    """Hooks that need the session: registered once per config in :func:`pytest_configure`."""

    def __init__(self, leak: LeakageSession):
        self.leak = leak

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.leak.pytest_session = session  # a failed store write stops it through its flags

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; absent under -p no:xdist
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched) -> None:
        # the worker running `crashitem` died; its report (made here, without our properties) follows
        self.leak.note_crash(crashitem)

    # first: before junitxml reads the report's properties, and before the terminal shows it
    # (receive() turns a load failure repeated by another xdist worker into a skip)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.leak.is_worker:  # workers' reports reach the controller, which alone writes
            return
        self.leak.receive(report)
        if report.when == "teardown":  # a case's last report: the one junitxml writes out
            junit.record_metrics(self.leak.config, report, self.leak.row_of(report))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.leak.is_worker:
            session.exitstatus = self.leak.finish(exitstatus)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # the last line of the session: where to look (after pytest's own summary line)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.leak.report_path is not None:
            reporter.write_line(f"leakage report: {self.leak.report_path}")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = self.leak.summary_lines()
        if lines:
            terminalreporter.write_sep("=", "inpainting leakage")
            for line in lines:
                terminalreporter.write_line(line)


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
        refusal = leak.runner.resume_refusal(inpainter.fingerprint())
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
