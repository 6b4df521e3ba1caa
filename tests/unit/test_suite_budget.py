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
    assert total.startswith("all layers") and "OVER by 12 s" in total


def test_no_test_run_prints_nothing():
    assert suite_budget.Budget(1, LAYERS).report() == []


def test_the_budget_covers_every_entry_of_the_suite_order(tmp_path):
    budget = suite_budget.Budget.load(os.path.join(REPO, "tests", "budget.yml"), REPO)
    with open(os.path.join(REPO, "tests", "test_order.txt"), encoding="utf-8") as handle:
        entries = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert [e for e in entries if budget.layer_of(e + "::t") == "other"] == []
    assert sum(layer["budget"] for layer in budget.layers) <= budget.total


def test_a_layer_without_a_budget_is_refused(tmp_path):
    path = tmp_path / "budget.yml"
    path.write_text("total: 10\nlayers:\n  - {name: unit, paths: [tests/unit]}\n")
    with pytest.raises(ValueError, match="layer 'unit' needs"):
        suite_budget.Budget.load(str(path))
