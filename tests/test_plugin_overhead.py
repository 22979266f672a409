"""What the plugin costs a pytest session that has nothing to do with leakage.

Every pytest run in the environment imports ``harness.plugin`` (the ``pytest11`` entry point), so
the check runs a whole unrelated session in a fresh interpreter and asserts which modules it
imported; a timing would measure the machine's load, not the plugin.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: What an unrelated session must not import: the heavy libraries and the parts of the harness
#: that are only needed once leakage cases are collected.
HEAVY = ("numpy", "pandas", "scipy", "torch", "diffusers", "transformers", "matplotlib", "skimage", "PIL", "jinja2",
         "harness.gate", "harness.store", "harness.report", "harness.session", "harness.cases",
         "harness.pipelines", "harness.measure")

_RUN_AND_LIST = """
import json, sys, pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]])
print("MODULES=" + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


def _session_modules(project, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    run = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, *args], cwd=project, capture_output=True, text=True)
    line = next(line for line in run.stdout.splitlines() if line.startswith("MODULES="))
    return run, set(json.loads(line.removeprefix("MODULES=")))


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


@pytest.fixture
def unrelated_project(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def test_an_unrelated_session_imports_nothing_heavy(unrelated_project):
    run, modules = _session_modules(unrelated_project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "harness.plugin" in modules  # the plugin was active
    assert [name for name in HEAVY if _loaded(modules, name)] == []


def test_an_unrelated_session_with_junit_and_verbose_imports_nothing_heavy(unrelated_project):
    run, modules = _session_modules(unrelated_project, "-v", "--junitxml", "out.xml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert [name for name in HEAVY if _loaded(modules, name)] == []


def test_a_leak_option_makes_it_a_leakage_session_at_once(unrelated_project):
    # an explicit --leak-* option is checked when pytest starts, even before anything is collected
    run, _ = _session_modules(unrelated_project, "--leak-images", "no-such-image")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "no-such-image" in run.stderr


def test_a_bad_pyproject_pipeline_found_at_collection_is_a_usage_error(leak_project):
    # no --leak-* option: the session becomes a leakage session when its first case is collected,
    # and the problem is still one usage error, not a collection error per module
    leak_project.makefile(".toml", pyproject='[tool.leakage]\npipeline = "/no/such/folder"\n')
    result = leak_project.runpytest("benchmarks", "-k", "strength")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: leakage: pipeline folder '/no/such/folder' does not exist*"])
    assert "during collection" not in result.stdout.str()
