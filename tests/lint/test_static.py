"""Static checks as tests: yamllint, ansible-lint (production profile), syntax of every
playbook, and ansible-doc of every custom module."""
import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
           ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))


def run(*cmd):
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=900)


def test_yamllint_clean():
    proc = run(os.path.join(BIN, "yamllint"), "--strict", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile_clean():
    proc = run(os.path.join(BIN, "ansible-lint"), "--profile", "production", "--offline", "-q")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]


PLAYBOOKS = sorted(glob.glob(os.path.join(REPO, "playbooks", "*.yml"))
                   + glob.glob(os.path.join(REPO, "playbooks", "examples", "*.yml")))


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: os.path.relpath(p, REPO))
def test_playbook_syntax(playbook):
    proc = run(os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MODULES = sorted(os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(REPO, "library", "*.py")))


@pytest.mark.parametrize("module", MODULES)
def test_module_documentation_renders(module):
    proc = run(os.path.join(BIN, "ansible-doc"), "-M", "library", module)
    assert proc.returncode == 0, proc.stderr
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in proc.stdout, f"{module}: ansible-doc shows no {section}"
