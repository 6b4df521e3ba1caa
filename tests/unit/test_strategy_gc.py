"""strategy_plugins/mitogen_linear.py: each of Ansible's workers freezes the heap it inherited
(gc.freeze) before its task, so its collections do not walk, and copy, the main process's heap."""
import gc
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    spec = importlib.util.spec_from_file_location(
        "ostack_mitogen_linear", os.path.join(REPO, "strategy_plugins", "mitogen_linear.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_worker_freezes_what_it_inherited_before_its_task_and_returns_its_result():
    plugin = _load()
    seen = []

    def run(worker):
        seen.append((worker, gc.get_freeze_count()))
        return "result"

    gc.unfreeze()
    try:
        assert plugin._frozen_heap(run)("worker") == "result"
        assert seen and seen[0][0] == "worker" and seen[0][1] > 0
    finally:
        gc.unfreeze()


def test_the_workers_run_is_wrapped_once_however_often_the_plugin_loads():
    from ansible.executor.process.worker import WorkerProcess
    _load()
    first = WorkerProcess.run
    _load()
    assert getattr(WorkerProcess.run, "ostack_frozen_heap", False) and WorkerProcess.run is first
