"""The roles' argument specs, for the type check of playbooks/prechecks.yml.

``role_argument_specs(roles_dir)`` lists ``<roles_dir>/<role>/meta/argument_specs.yml`` of
every role that has one, sorted. It runs where Ansible runs, while the task's loop is
templated: a ``find`` module call for the same list took about a second of every run. An
empty list is an error, not a pass: a check that finds no spec would check nothing.
"""
import glob
import os

from ansible.errors import AnsibleFilterError


def role_argument_specs(roles_dir):
    specs = sorted(glob.glob(os.path.join(glob.escape(str(roles_dir)), "*", "meta", "argument_specs.yml")))
    if not specs:
        raise AnsibleFilterError("no role under %s has meta/argument_specs.yml: is this the suite's roles "
                                 "directory?" % roles_dir)
    return specs


class FilterModule:
    def filters(self):
        return {"role_argument_specs": role_argument_specs}
