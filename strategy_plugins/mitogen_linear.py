"""Ansible's linear strategy over Mitogen's connection layer (mitogen on PyPI, pinned in
requirements.txt): one persistent Python interpreter per host instead of one per task.

ansible.cfg's default strategy (plain Ansible: `ANSIBLE_STRATEGY=linear`, or
`make ... MITOGEN=0`); ansible.cfg points strategy_plugins here. Mitogen ships the same
plugin in its own package directory; this file only makes it reachable through the repo's
strategy_plugins path, whatever the virtualenv's Python version.

CPU affinity: Mitogen's policy (ansible_mitogen/affinity.py) pins its processes to CPUs.
With fewer than 4 CPUs it puts the connection multiplexer on CPU 0 and the top-level
process, every worker and every child they start (ssh, a local command, a lab node booted
by lab.yml, and everything that node runs) on CPU 1. On the 2-core lab host that ran the
whole lab cloud on one CPU (bench/results/deploy.txt, section J). This plugin swaps in
Mitogen's no-op policy, so the kernel's scheduler places every process;
OSTACK_MITOGEN_AFFINITY=1 keeps Mitogen's pinning.

Frozen heap: Ansible forks a worker per task and host from its main process, whose heap
holds the inventory, the facts and every result kept so far. When Python's cyclic garbage
collector runs in such a worker, it walks every object the worker inherited, and each page
it touches is copied from the parent. Each worker first moves what it inherited out of the
collector's reach (gc.freeze(); what the worker creates is collected as usual, and the
worker exits when its task is done). On an idle site.yml run in the lab this took about
4-7 s of about 78 s of CPU and of wall off (bench/results/deploy.txt, section L).
OSTACK_GC_FREEZE=0 turns it off. (A collect and freeze in the main process at each play's
start took 4-6 s more in two pairs of runs; the first run with it beside a lint run found
the controller unreachable (Mitogen's 30 s connection timeout). Cause not proven; with the
weaker evidence, not kept.)
"""
import gc
import os

import ansible.executor.process.worker
from ansible.errors import AnsibleError

try:
    import ansible_mitogen.affinity
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as err:  # pragma: no cover - depends on the venv
    raise AnsibleError("strategy mitogen_linear needs the mitogen package (%s): run `make bootstrap`, "
                       "or set ANSIBLE_STRATEGY=linear to run without it" % err)

if os.environ.get("OSTACK_MITOGEN_AFFINITY", "0") != "1":
    # Read at call time by ansible_mitogen.process and .strategy, after this import.
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


def _frozen_heap(run):
    """WorkerProcess.run, after gc.freeze() (in the worker: run is the forked process's body)."""
    def run_on_a_frozen_heap(self):
        gc.freeze()
        return run(self)
    run_on_a_frozen_heap.ostack_frozen_heap = True
    return run_on_a_frozen_heap


_FREEZE = os.environ.get("OSTACK_GC_FREEZE", "1") == "1"
_Worker = ansible.executor.process.worker.WorkerProcess
if _FREEZE and not getattr(_Worker.run, "ostack_frozen_heap", False):
    _Worker.run = _frozen_heap(_Worker.run)

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """Linear task order; Mitogen connections."""
