"""Shared pytest setup for unit tests.

The repo's module_utils/ are imported by modules as ``ansible.module_utils.<name>``;
extending that package's search path lets unit tests import them the same way,
with no copy and no mock.
"""
import os
import sys

import ansible.module_utils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("library", "filter_plugins", "callback_plugins"):
    path = os.path.join(REPO, sub)
    if path not in sys.path:
        sys.path.insert(0, path)
_mu = os.path.join(REPO, "module_utils")
if _mu not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_mu)


# ------------------------------------------------------------------ time per layer
# tests/budget.yml gives each layer of the suite a time budget. The hooks below add up
# each layer's wall time (from its first test's setup to its last test's teardown, so
# session fixtures count where they run) and print it against the budget at the end.
import time  # noqa: E402


def _load_budget_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "suite_budget", os.path.join(REPO, "tests", "suite_budget.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BUDGET = _load_budget_module().Budget.load(os.path.join(REPO, "tests", "budget.yml"), REPO)


def pytest_runtest_logstart(nodeid, location):
    _BUDGET.start(nodeid, time.monotonic())


def pytest_runtest_logfinish(nodeid, location):
    _BUDGET.finish(nodeid, time.monotonic())


def pytest_runtest_logreport(report):
    _BUDGET.outcome(report.nodeid, report.when, report.outcome)


def pytest_terminal_summary(terminalreporter):
    lines = _BUDGET.report()
    if lines:
        terminalreporter.section("time per layer (budget: tests/budget.yml)")
        for line in lines:
            terminalreporter.write_line(line)
