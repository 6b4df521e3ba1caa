"""roles/openstack_common/templates/policy-rc.d.j2, rendered and run by /bin/sh as dpkg's helpers call it:
deb-systemd-invoke as `policy-rc.d <unit>.service <action>`, invoke-rc.d as `policy-rc.d --quiet <name> <action>`
(or "(<action>)" when it may fall back). Only starting a listed unit is forbidden (exit 101)."""
import os
import subprocess

import jinja2
import pytest

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "openstack_common", "templates",
                        "policy-rc.d.j2")


@pytest.fixture
def policy(tmp_path):
    lists = tmp_path / "no-start"
    lists.mkdir()
    (lists / "keystone").write_text("keystone\n")
    (lists / "nova").write_text("nova-api\nnova-conductor\nnova-novncproxy\n")
    (lists / "ceph").write_text("ceph-mon@controller\n")
    with open(TEMPLATE) as f:
        script = jinja2.Template(f.read()).render(ansible_managed="Ansible managed",
                                                  openstack_common_no_start_dir=str(lists))
    path = tmp_path / "policy-rc.d"
    path.write_text(script)
    path.chmod(0o755)

    def ask(*args):
        return subprocess.run(["/bin/sh", str(path), *args], capture_output=True, text=True, timeout=10).returncode

    ask.lists = lists
    return ask


@pytest.mark.parametrize("args", [
    ("keystone.service", "start"),
    ("nova-conductor.service", "start"),
    ("ceph-mon@controller.service", "start"),
    ("--quiet", "nova-api", "start"),
    ("--quiet", "nova-api", "(start)"),
    ("--quiet", "nova-api", "start", "2"),
])
def test_starting_a_listed_unit_is_forbidden(policy, args):
    assert policy(*args) == 101


@pytest.mark.parametrize("args", [
    ("keystone.service", "restart"),
    ("keystone.service", "stop"),
    ("--quiet", "nova-api", "(restart)"),
    ("--quiet", "nova-api", "reload"),
    ("apache2.service", "start"),
    ("nova.service", "start"),
    ("nova-api-metadata.service", "start"),
    ("ceph-mon@compute1.service", "start"),
    ("--list", "keystone"),
    (),
])
def test_everything_else_is_allowed(policy, args):
    assert policy(*args) == 0


def test_without_lists_every_start_is_allowed(policy):
    for child in policy.lists.iterdir():
        child.unlink()
    policy.lists.rmdir()
    assert policy("keystone.service", "start") == 0
