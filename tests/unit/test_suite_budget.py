"""The suite's time bookkeeping (tests/suite_budget.py) and its data (tests/budget.yml)."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("suite_budget", os.path.join(REPO, "tests", "suite_budget.py"))
suite_budget = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite_budget)

LAYERS = [
    {"name": "unit", "paths": ["tests/unit"], "budget": 10},
    {"name": "e2e", "paths": ["tests/e2e/test_deploy.py"], "budget": 100},
]


def test_a_test_belongs_to_the_first_layer_whose_path_prefixes_its_file():
    b = suite_budget.Budget(200, LAYERS)
    assert b.layer_of("tests/unit/test_x.py::test_y") == "unit"
    assert b.layer_of("tests/e2e/test_deploy.py::test_z[a/b]") == "e2e"
    assert b.layer_of("tests/unitx/test_x.py::t") == "other"     # a prefix is a directory


def test_a_layer_may_take_some_cases_of_a_parametrized_test_by_their_node_id():
    b = suite_budget.Budget(200, [
        {"name": "molecule b", "paths": ["tests/m.py::test_s[rabbitmq:", "tests/m.py::test_s[chrony:default]"],
         "budget": 10, "lane": "b"},
        {"name": "molecule", "paths": ["tests/m.py"], "budget": 10}])
    assert b.layer_of("tests/m.py::test_s[rabbitmq:default]") == "molecule b"
    assert b.layer_of("tests/m.py::test_s[chrony:default]") == "molecule b"
    assert b.layer_of("tests/m.py::test_s[keystone:default]") == "molecule"
    assert b.lane_of("tests/m.py::test_s[rabbitmq:default]") == "b"
    assert b.lane_of("tests/m.py::test_s[mariadb:default]") == "a"


def test_layer_time_is_first_start_to_last_finish_and_over_budget_is_flagged():
    b = suite_budget.Budget(100, LAYERS)
    b.start("tests/unit/a.py::t1", 0.0)
    b.finish("tests/unit/a.py::t1", 4.0)
    b.start("tests/unit/a.py::t2", 4.0)
    b.finish("tests/unit/a.py::t2", 12.5)
    b.start("tests/e2e/test_deploy.py::t", 13.0)
    b.outcome("tests/e2e/test_deploy.py::t", "call", "failed")
    b.finish("tests/e2e/test_deploy.py::t", 113.0)
    lines = b.report()
    unit = next(line for line in lines if line.startswith("unit"))
    e2e = next(line for line in lines if line.startswith("e2e"))
    total = lines[-1]
    assert unit.split()[1:4] == ["2", "12", "10"] and "OVER by 2 s" in unit
    assert e2e.split()[1:4] == ["1", "100", "100"] and "OVER" not in e2e and "(1 failed)" in e2e
    # One after another: the suite's time is its wall time, 0 to 113 s (the layers' sum is 112.5).
    assert total.startswith("all layers") and "OVER by 13 s" in total and "sum" not in total


def test_no_test_run_prints_nothing():
    assert suite_budget.Budget(1, LAYERS).report() == []


def test_the_budget_covers_every_entry_of_the_suite_order(tmp_path):
    budget = suite_budget.Budget.load(os.path.join(REPO, "tests", "budget.yml"), REPO)
    with open(os.path.join(REPO, "tests", "test_order.txt"), encoding="utf-8") as handle:
        entries = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert [e for e in entries if budget.layer_of(e + "::t") == "other"] == []
    assert all(seconds <= budget.total for seconds in budget.lane_budgets().values()), budget.lane_budgets()


def test_a_layer_without_a_budget_is_refused(tmp_path):
    path = tmp_path / "budget.yml"
    path.write_text("total: 10\nlayers:\n  - {name: unit, paths: [tests/unit]}\n")
    with pytest.raises(ValueError, match="layer 'unit' needs"):
        suite_budget.Budget.load(str(path))


LANES = [
    {"name": "unit", "paths": ["tests/unit"], "budget": 10, "lane": "a"},
    {"name": "modules", "paths": ["tests/integration/modules"], "budget": 50, "lane": "b"},
    {"name": "e2e", "paths": ["tests/e2e"], "budget": 100, "lane": "a", "alone": True},
]


def test_lanes_side_by_side_count_once_in_the_suite_time_and_a_wait_is_shown():
    b = suite_budget.Budget(120, LANES)
    assert [b.lane_of("tests/unit/a.py::t"), b.lane_of("tests/integration/modules/m.py::t"),
            b.lane_of("tests/other.py::t")] == ["a", "b", "a"]
    assert not b.alone("tests/unit/a.py::t") and b.alone("tests/e2e/t.py::t")
    assert b.lane_budgets() == {"a": 110, "b": 50}
    b.start("tests/unit/a.py::t", 0.0)
    b.finish("tests/unit/a.py::t", 10.0)
    b.start("tests/integration/modules/m.py::t", 0.0)
    b.finish("tests/integration/modules/m.py::t", 40.0)
    b.start("tests/e2e/t.py::t", 10.0)          # waited for lane b from 10 to 40
    b.waited("tests/e2e/t.py::t", 30.0)
    b.finish("tests/e2e/t.py::t", 130.0)
    lines = b.report()
    e2e = next(line for line in lines if line.startswith("e2e"))
    assert e2e.split()[1:5] == ["1", "120", "100", "a"] and "waited 30 s for another lane" in e2e
    total = lines[-1]
    assert total.split()[3:5] == ["130", "120"] and "OVER by 10 s" in total and "sum 170 s" in total


def test_lane_and_alone_are_checked_when_the_budget_is_read(tmp_path):
    path = tmp_path / "budget.yml"
    path.write_text("total: 10\nlayers:\n  - {name: unit, paths: [tests/unit], budget: 5, alone: yes please}\n")
    with pytest.raises(ValueError, match="`alone` true or false"):
        suite_budget.Budget.load(str(path))


def test_an_alone_layer_waits_until_the_other_lanes_let_go(tmp_path):
    # Real flocks in two processes: a child holds the lock shared, as lane b's worker does
    # while its layers run; this process's alone layer gets it only once the child let go.
    import subprocess
    import sys
    import time
    path = str(tmp_path / "lanes.lock")
    child = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_SH)\n"
        "print('held', flush=True)\n"
        "time.sleep(1.5)\n"), path], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        lock = suite_budget.LaneLock(path, poll=0.05)
        assert lock.enter(alone=False) < 0.5            # shared beside the child's shared lock
        start = time.monotonic()
        waited = lock.enter(alone=True)
        assert waited >= 0.5 and time.monotonic() - start >= 0.5 and child.poll() is not None
        assert lock.enter(alone=False) == 0.0            # once exclusive, it stays so
    finally:
        child.kill()
        child.wait()
    lock.release()
    short = suite_budget.LaneLock(path, deadline=0.2, poll=0.05)
    holder = suite_budget.LaneLock(path)
    holder.enter(alone=True)
    try:
        with pytest.raises(TimeoutError, match="fuser -v"):
            short.enter(alone=False)
    finally:
        holder.release()
