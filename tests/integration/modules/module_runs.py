"""Module tasks for the module tests, with fewer ansible-playbook starts.

Starting ansible-playbook is most of what a module test costs: a few seconds of CPU each (far more on a
loaded machine), while the module itself mostly runs in well under a second. ``ModuleTask``
(tests/integration/ansible_runner.py) starts one per module run; ``OneRunModuleTask`` keeps its ``apply``
and ``fails`` and runs sequences of module runs in one ansible-playbook start:

- ``converge``: check -> real -> check through playbooks/converge.yml, which imports the module's task file
  (playbooks/tasks/<module>.yml) three times with check_mode true / false / true. The module still runs three
  times, for real, in check mode, for real and in check mode again, and each result is asserted as before
  (changed / changed / unchanged);
- ``fail_each``: independent cases that must each fail, through playbooks/cases.yml (one included task per
  case, ignore_errors so a failure does not stop the others); each case's result is asserted to be a failure.
"""
import os

from ansible_runner import ModuleTask, run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = os.path.join(HERE, "inventory.ini")
PLAYBOOKS = os.path.join(HERE, "playbooks")


class OneRunModuleTask(ModuleTask):
    """The task of playbooks/tasks/<module>.yml, run once (``apply``, ``fails``) or several times in one
    ansible-playbook run (``converge``, ``fail_each``)."""

    def __init__(self, module, playbook, args_var, task=None, inventory=INVENTORY):
        super().__init__(playbook, task or "Apply %s" % module, args_var, inventory)
        self.module = module

    def _results(self, run):
        assert run.data is not None, run
        return [res for host, name, res in run.tasks() if name == self.task and host == self.host]

    def converge(self, args, extra=None):
        """check -> real -> check in one run; assert changed / changed / unchanged; return the three results."""
        extra_vars = {self.args_var: args, "module_under_test": self.module}
        extra_vars.update(extra or {})
        run = run_playbook(os.path.join(PLAYBOOKS, "converge.yml"), inventory=self.inventory, diff=True,
                           extra_vars=extra_vars)
        results = self._results(run)
        for step, res, changed in zip(("check", "real", "check again"), results, (True, True, False)):
            assert not res.get("failed") and res["changed"] is changed, (step, res, run)
        assert run.rc == 0 and len(results) == 3, run
        return tuple(results)

    def fail_each(self, cases, check_cases=(), extra=None):
        """Run every item of ``check_cases`` in check mode, then every item of ``cases`` for real, all in one
        ansible-playbook run; assert that each failed; return (check-mode results, real results)."""
        extra_vars = {"module_under_test": self.module, "module_args_var": self.args_var,
                      "check_cases": list(check_cases), "cases": list(cases)}
        extra_vars.update(extra or {})
        run = run_playbook(os.path.join(PLAYBOOKS, "cases.yml"), inventory=self.inventory, diff=True,
                           extra_vars=extra_vars)
        results = self._results(run)
        assert run.rc == 0 and len(results) == len(check_cases) + len(cases), run
        for args, res in zip(list(check_cases) + list(cases), results):
            assert res.get("failed") is True, (args, res)
        return results[:len(check_cases)], results[len(check_cases):]
