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


# ------------------------------------------------------------------ time per layer, lanes
# tests/budget.yml gives each layer of the suite a time budget and a lane. The hooks below add
# up each layer's wall time (from its first test's setup to its last test's teardown, so
# session fixtures count where they run) and print it against the budget at the end.
# `make test` runs the lanes side by side (pytest-xdist, -n 2: the scheduler below gives each
# worker one lane), and a layer marked `alone` waits, before its first test sets anything up,
# until no other lane's layer runs (suite_budget.LaneLock).
import time  # noqa: E402

import pytest  # noqa: E402


def _load_budget_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "suite_budget", os.path.join(REPO, "tests", "suite_budget.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SUITE = _load_budget_module()
_BUDGET = _SUITE.Budget.load(os.path.join(REPO, "tests", "budget.yml"), REPO)
_LANES = []     # this process's LaneLock, once it runs a test under pytest-xdist


def _lane_lock():
    """The lock of this run's lanes: one file per xdist run (the workers share its uid); none
    without xdist, where the layers run one after another anyway."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run and not _LANES:
        import tempfile
        _LANES.append(_SUITE.LaneLock(os.path.join(tempfile.gettempdir(), "ostack-test-lanes-%s.lock" % run)))
    return _LANES[0] if _LANES else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (-n 2): one work unit per lane, so each lane's tests run on one worker,
    in collection order. (xdist's own loadgroup cannot be used: with pytest 9.2 its group
    suffix never reaches the test ids, and every test became a unit of its own.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return "lane " + _BUDGET.lane_of(nodeid)

    return LaneScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    lock = _lane_lock()
    waited = lock.enter(_BUDGET.alone(item.nodeid)) if lock else 0.0
    if waited >= 1:
        item.user_properties.append(("lane_wait_seconds", waited))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    yield
    if nextitem is None and _LANES:     # this process's last test: let the other lanes' `alone` layers go
        _LANES[0].release()


def pytest_runtest_logstart(nodeid, location):
    _BUDGET.start(nodeid, time.monotonic())


def pytest_runtest_logfinish(nodeid, location):
    _BUDGET.finish(nodeid, time.monotonic())


def pytest_runtest_logreport(report):
    _BUDGET.outcome(report.nodeid, report.when, report.outcome)
    if report.when == "setup":
        for key, value in getattr(report, "user_properties", ()):
            if key == "lane_wait_seconds":
                _BUDGET.waited(report.nodeid, value)


def pytest_terminal_summary(terminalreporter):
    lines = _BUDGET.report()
    if lines:
        terminalreporter.section("time per layer (budget: tests/budget.yml)")
        for line in lines:
            terminalreporter.write_line(line)
