"""Ansible's linear strategy over Mitogen's connection layer (mitogen on PyPI, pinned in
requirements.txt): one persistent Python interpreter per host instead of one per task.

ansible.cfg's default strategy (plain Ansible: `ANSIBLE_STRATEGY=linear`, or
`make ... MITOGEN=0`); ansible.cfg points strategy_plugins here. Mitogen ships the same
plugin in its own package directory; this file only makes it reachable through the repo's
strategy_plugins path, whatever the virtualenv's Python version.
"""
from ansible.errors import AnsibleError

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as err:  # pragma: no cover - depends on the venv
    raise AnsibleError("strategy mitogen_linear needs the mitogen package (%s): run `make bootstrap`, "
                       "or set ANSIBLE_STRATEGY=linear to run without it" % err)

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """Linear task order; Mitogen connections."""
