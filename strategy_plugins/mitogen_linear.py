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
"""
import os

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

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """Linear task order; Mitogen connections."""
