"""When a pytest session becomes a leakage session, and the one :class:`~harness.session.LeakageSession`
it then gets, kept in ``config.stash``.

Every pytest run in the environment loads the plugin, so nothing heavy may happen before it is
clear that leakage cases will run: the session (and with it numpy, the store, the gate, the
cases) is built at once when a ``--leak-*`` option was given or xdist will start workers (the
controller must check the pipeline and the baseline before they start), otherwise on first use,
when the first leakage test is collected. An unrelated session only reads its options.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

import pytest

from harness.options import OPTIONS, LeakageOptions, read_tool_config, resolve_options

if TYPE_CHECKING:
    from harness.session import LeakageSession
    from harness.store import StoreError

__all__ = ["SESSION_KEY", "leakage_intended", "read_options", "session", "built", "pending_error"]

SESSION_KEY = pytest.StashKey["LeakageSession"]()
_BUILD_ERROR_KEY = pytest.StashKey[pytest.UsageError]()


def leakage_intended(config: pytest.Config) -> bool:
    """Whether this session is a leakage session before anything is collected: a ``--leak-*``
    option was given, or this is an xdist controller (it never collects, and hands workers the
    run id and the baseline's values when they start)."""
    given = any(config.getoption(f"leak_{o.name}") not in (None, False, []) for o in OPTIONS)
    given = given or any(config.getoption(name) for name in ("leak_max", "leak_min", "leak_save_baseline",
                                                              "leak_compare", "leak_update_baseline",
                                                              "leak_report", "leak_no_report", "leak_resume"))
    return given or config.getoption("dist", "no") != "no"


def read_options(config: pytest.Config) -> tuple[LeakageOptions, dict]:
    """The session's options: command line, ini, ``[tool.leakage]``, defaults (light: no session)."""
    cli = {o.name: config.getoption(f"leak_{o.name}") for o in OPTIONS}
    if cli["images"]:
        cli["images"] = [name for group in cli["images"] for name in group]
    ini = {f"leak_{o.name}": config.getini(f"leak_{o.name}") for o in OPTIONS}
    try:
        tool = read_tool_config(config.rootpath)
        return resolve_options(cli, ini, tool), tool
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise pytest.UsageError(f"leakage: {exc}") from None


def _build_session(config: pytest.Config) -> "LeakageSession":
    """The leakage session of ``config``, with its pipeline and baseline checked."""
    from harness.gate import BaselineError
    from harness.gate.configure import build_gates
    from harness.session import LeakageSession
    from harness.store import StoreError

    options, tool = read_options(config)
    worker = getattr(config, "workerinput", None)
    try:
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
    return leak


def session(config: pytest.Config) -> "LeakageSession":
    """The leakage session, built on first use (a failure is kept, and raised again on each use)."""
    if _BUILD_ERROR_KEY in config.stash:
        raise config.stash[_BUILD_ERROR_KEY]
    if SESSION_KEY not in config.stash:
        try:
            config.stash[SESSION_KEY] = _build_session(config)
        except pytest.UsageError as exc:
            config.stash[_BUILD_ERROR_KEY] = exc
            raise
    return config.stash[SESSION_KEY]


def built(config: pytest.Config) -> "LeakageSession | None":
    """The leakage session if this is one (``None`` in an unrelated session)."""
    return config.stash.get(SESSION_KEY, None)


def pending_error(config: pytest.Config) -> pytest.UsageError | None:
    """The usage error met when the session was built on first use (raised again once collection ends)."""
    return config.stash.get(_BUILD_ERROR_KEY, None)
