"""Deploy the cloud into the lab with playbooks/site.yml and check it for real: a second
run and a --check --diff run change nothing, and testinfra inspects both nodes
(packages, services, listening sockets, config values, working identity service)."""
import json
import os

import pytest
import testinfra
import yaml

from ansible_runner import REPO, run_playbook

INVENTORY = os.path.join(REPO, "inventory", "lab", "hosts.yml")
SECRETS = os.path.expanduser("~/.config/ostack/secrets.yml")
CTL, CMP = "10.0.0.11", "10.0.0.31"


@pytest.fixture(scope="module")
def cloud():
    lab = run_playbook("playbooks/lab.yml", timeout=1800)
    assert lab.rc == 0, lab
    site = run_playbook("playbooks/site.yml", timeout=3600)
    assert site.rc == 0 and site.failed_total() == 0, site
    return site


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def test_second_run_changes_nothing(cloud):
    again = run_playbook("playbooks/site.yml", timeout=1800)
    assert again.rc == 0 and again.changed_total() == 0, (
        again.stats, [(h, n) for h, n, r in again.tasks() if r.get("changed")])


def test_check_diff_predicts_no_change(cloud):
    check = run_playbook("playbooks/site.yml", check=True, diff=True, timeout=1800)
    assert check.rc == 0 and check.changed_total() == 0 and check.failed_total() == 0, check.stats


def test_secrets_file_is_private_and_strong(cloud):
    assert oct(os.stat(SECRETS).st_mode & 0o777) == "0o600"
    with open(SECRETS) as f:
        data = yaml.safe_load(f)
    assert len(data) >= 20 and all(len(v) >= 32 for v in data.values())
    assert not os.path.abspath(SECRETS).startswith(REPO)


def test_name_resolution_on_every_node(cloud):
    for name in ("controller", "compute1"):
        host = node(name)
        assert host.check_output("getent hosts controller").split()[0] == CTL
        assert host.check_output("getent hosts compute1").split()[0] == CMP


def test_time_sync_compute_follows_controller(cloud):
    ctl, cmp_ = node("controller"), node("compute1")
    assert ctl.service("chrony").is_running and cmp_.service("chrony").is_running
    assert ctl.socket(f"udp://{CTL}:123").is_listening
    assert f"server {CTL} iburst" in cmp_.file("/etc/chrony/chrony.conf").content_string


def test_controller_services_listen_on_the_mgmt_address_only(cloud):
    ctl = node("controller")
    for svc in ("mariadb", "rabbitmq-server", "memcached", "keystone"):
        assert ctl.service(svc).is_running, svc
        assert ctl.service(svc).is_enabled, svc
    for port in (3306, 5672, 11211, 5000):
        assert ctl.socket(f"tcp://{CTL}:{port}").is_listening, port
        assert not ctl.socket(f"tcp://0.0.0.0:{port}").is_listening, port


def test_compute_runs_no_controller_service(cloud):
    cmp_ = node("compute1")
    for pkg in ("mariadb-server", "rabbitmq-server", "keystone"):
        assert not cmp_.package(pkg).is_installed, pkg


def test_identity_service_works_for_admin_and_demo(cloud):
    ctl = node("controller")
    creds = os.path.expanduser("~/.config/ostack")
    for rc, project in (("admin-openrc", "admin"), ("demo-openrc", "demo")):
        path = os.path.join(creds, rc)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        env = {}
        with open(path) as f:
            for line in f:
                if line.startswith("export "):
                    key, _, value = line[7:].strip().partition("=")
                    env[key] = value.strip("'")
        exports = " ".join(f"{k}='{v}'" for k, v in env.items())
        out = json.loads(ctl.check_output(f"env {exports} openstack token issue -f json"))
        assert out["project_id"], project
