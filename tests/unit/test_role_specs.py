"""filter_plugins/role_specs.py: the list of the roles' argument specs the prechecks check."""
import os

import pytest
from ansible.errors import AnsibleFilterError

from role_specs import role_argument_specs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_role_spec_of_the_repo_and_nothing_else_sorted():
    roles = os.path.join(REPO, "roles")
    specs = role_argument_specs(roles)
    expected = sorted(os.path.join(roles, r, "meta", "argument_specs.yml") for r in os.listdir(roles)
                      if os.path.isfile(os.path.join(roles, r, "meta", "argument_specs.yml")))
    assert specs == expected and len(specs) > 10


def test_only_meta_argument_specs_count(tmp_path):
    (tmp_path / "a" / "meta").mkdir(parents=True)
    (tmp_path / "a" / "meta" / "argument_specs.yml").write_text("argument_specs: {}\n")
    (tmp_path / "b" / "tasks").mkdir(parents=True)
    (tmp_path / "b" / "tasks" / "argument_specs.yml").write_text("")
    (tmp_path / "c[1]" / "meta").mkdir(parents=True)        # glob characters in a path are literal
    (tmp_path / "c[1]" / "meta" / "argument_specs.yml").write_text("")
    assert role_argument_specs(tmp_path) == [str(tmp_path / "a" / "meta" / "argument_specs.yml"),
                                             str(tmp_path / "c[1]" / "meta" / "argument_specs.yml")]


def test_no_spec_at_all_is_an_error_not_an_empty_check(tmp_path):
    with pytest.raises(AnsibleFilterError, match="no role under .* has meta/argument_specs.yml"):
        role_argument_specs(tmp_path)
