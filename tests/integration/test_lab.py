"""The embedded lab, end to end, against the real thing: bad input is refused before any
change; the lab comes up; Ansible reaches both nodes over SSH; each node reaches the apt
cache and the other node; a broken node is repaired; a re-run and a check run change
nothing; destroy leaves no node process, bridge, veth or mount behind.

The tests run in file order and share one lab (module scope)."""
import json
import os
import subprocess

import pytest

from ansible_runner import REPO, VENV_BIN, parse_json_output, run_playbook

INVENTORY = os.path.join(REPO, "inventory", "lab", "hosts.yml")
NODES = {"controller": "10.0.0.11", "compute1": "10.0.0.31"}
BRIDGES = ["ostk-mgmt", "ostk-prov"]
STATE = "/var/lib/ostack-lab"


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)


def ansible(pattern, module, args="", timeout=300):
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    cmd = [os.path.join(VENV_BIN, "ansible"), pattern, "-i", INVENTORY, "-m", module]
    if args:
        cmd += ["-a", args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    data = parse_json_output(proc.stdout)
    assert data, proc.stdout + proc.stderr
    # One ad-hoc task; the json callback lists it once for all hosts under plain Ansible,
    # and once per host under Mitogen (ansible.cfg's default strategy): take every entry.
    hosts = {}
    for task in data["plays"][0]["tasks"]:
        assert not set(hosts) & set(task["hosts"]), ("a host answered twice", task["hosts"])
        hosts.update(task["hosts"])
    return proc.returncode, hosts, data["stats"]


def link_exists(name):
    return sh(f"ip link show dev {name}").returncode == 0


def assert_node_may_use_every_cpu(name):
    # Mitogen's own CPU affinity policy (off in strategy_plugins/mitogen_linear.py) pinned what
    # lab.yml started to one CPU of two, and a node inherits its mask: the node's nspawn
    # process and its init (whose mask every process of the node inherits) may use all CPUs.
    with open("/sys/devices/system/cpu/online", encoding="utf-8") as handle:
        online = handle.read().strip()
    nspawn = sh(f"pgrep -f '^systemd-nspawn .*--machine={name} '").stdout.split()
    assert nspawn, name
    pids = nspawn + sh(f"pgrep -P {nspawn[0]}").stdout.split()
    for pid in pids:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            allowed = next(line.split()[1] for line in handle if line.startswith("Cpus_allowed_list"))
        assert allowed == online, (name, pid, allowed, online)


# --- bad input: refused before anything changes ------------------------------------------

NON_ROOT = {"ansible_become": True, "ansible_become_method": "su", "ansible_become_user": "nobody",
            "ansible_become_flags": "-s /bin/sh", "lab_mgmt_bridge": "ostk-tnr0", "lab_provider_bridge": "ostk-tnr1"}


def test_non_root_is_refused_and_nothing_changes():
    # The lab's user on the target is made unprivileged with su (as an operator's
    # non-root account would be: this machine's venv Python lives under /root, so no
    # other account can run Ansible itself); the precheck must refuse before anything
    # changes. Plain Ansible here: Mitogen's su does not honour the user (next test).
    before = sh("ip -br link").stdout
    run = run_playbook("playbooks/lab.yml", extra_vars=NON_ROOT, env={"ANSIBLE_STRATEGY": "linear"})
    assert run.rc != 0
    msg = json.dumps(run.data)
    assert "needs root" in msg and "uid 65534" in msg and "Re-run as root" in msg, msg[-3000:]
    assert not link_exists("ostk-tnr0") and sh("ip -br link").stdout == before


def test_non_root_under_mitogen_fails_before_anything_changes():
    # Under ansible.cfg's default strategy (Mitogen) a `become: su` to an unprivileged user
    # fails at the first task ("EOF on stream": Mitogen's su cannot start its Python as
    # that user here), without the precheck's message, and still before any change.
    before = sh("ip -br link").stdout
    run = run_playbook("playbooks/lab.yml", extra_vars=NON_ROOT)
    assert run.rc != 0 and run.failed_total() > 0, run
    assert run.changed_total() == 0, run
    assert not link_exists("ostk-tnr0") and sh("ip -br link").stdout == before


def test_missing_host_package_is_named(tmp_path):
    pkgs = tmp_path / "pkgs.txt"
    pkgs.write_text("iproute2\nostack-test-no-such-package\n")
    run = run_playbook("playbooks/lab.yml", extra_vars={
        "lab_host_packages_file": str(pkgs), "lab_mgmt_bridge": "ostk-tpk0", "lab_provider_bridge": "ostk-tpk1"})
    assert run.rc != 0
    msg = json.dumps(run.data)
    assert "Missing host package(s): ostack-test-no-such-package" in msg
    assert "make bootstrap" in msg
    assert not link_exists("ostk-tpk0")


def test_address_clash_is_refused_before_any_bridge():
    sh("ip link del ostk-tclash")
    assert sh("ip link add ostk-tclash type bridge && ip addr add 10.99.7.1/24 dev ostk-tclash "
              "&& ip link set ostk-tclash up").returncode == 0
    try:
        run = run_playbook("playbooks/lab.yml", extra_vars={
            "lab_mgmt_cidr": "10.99.7.0/24", "lab_provider_cidr": "10.99.8.0/24", "lab_mgmt_bridge": "ostk-tcl0", "lab_provider_bridge": "ostk-tcl1"})
        assert run.rc != 0
        msg = json.dumps(run.data)
        assert "already routes 10.99.7.0/24 via ostk-tclash" in msg
        assert "No bridge was created" in msg
        assert not link_exists("ostk-tcl0") and not link_exists("ostk-tcl1")
    finally:
        sh("ip link del ostk-tclash")


# --- the lab ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab():
    run = run_playbook("playbooks/lab.yml", timeout=1800)
    assert run.rc == 0 and run.failed_total() == 0, run
    return run


def test_lab_comes_up_with_both_nodes(lab):
    for name in NODES:
        assert sh(f"pgrep -f '^systemd-nspawn .*--machine={name} '").returncode == 0
        assert_node_may_use_every_cpu(name)
    for br in BRIDGES:
        assert link_exists(br)
    assert os.path.exists(INVENTORY)


def test_ansible_gathers_facts_from_both_nodes_over_ssh(lab):
    rc, hosts, stats = ansible("all", "ansible.builtin.setup", "gather_subset=min,network")
    assert rc == 0, hosts
    assert set(hosts) == set(NODES)
    for name, addr in NODES.items():
        facts = hosts[name]["ansible_facts"]
        assert facts["ansible_hostname"] == name
        assert facts["ansible_distribution"] == "Debian" and facts["ansible_distribution_major_version"] == "12"
        assert addr in facts["ansible_all_ipv4_addresses"]
        assert facts["ansible_service_mgr"] == "systemd"


def test_controller_has_an_unnumbered_provider_port(lab):
    rc, hosts, _ = ansible("controller", "ansible.builtin.command", "ip -j addr show dev eth1")
    assert rc == 0
    eth1 = json.loads(hosts["controller"]["stdout"])[0]
    assert "UP" in eth1["flags"]
    assert not [a for a in eth1.get("addr_info", []) if a["family"] == "inet"]
    assert "ostk-prov" in sh("ip -j link show dev vp-controller").stdout


def test_each_node_reaches_the_apt_cache(lab):
    rc, hosts, _ = ansible("all", "ansible.builtin.command", "apt-get -q update", timeout=600)
    assert rc == 0, hosts
    for name in NODES:
        out = hosts[name]["stdout"]
        assert "bookworm" in out and ("Get:" in out or "Hit:" in out), out


def test_each_node_reaches_the_other(lab):
    for name in NODES:
        others = " ".join(a for n, a in NODES.items() if n != name)
        rc, hosts, _ = ansible(name, "ansible.builtin.shell",
                               f"for a in {others}; do ping -c1 -W2 $a || exit 1; done; getent hosts "
                               + " ".join(n for n in NODES if n != name))
        assert rc == 0, hosts
        assert "1 received" in hosts[name]["stdout"]


def test_rerun_changes_nothing(lab):
    run = run_playbook("playbooks/lab.yml")
    assert run.rc == 0 and run.changed_total() == 0, run.stats


def test_check_diff_on_a_running_lab_predicts_no_change(lab):
    run = run_playbook("playbooks/lab.yml", check=True, diff=True)
    assert run.rc == 0 and run.changed_total() == 0, run.stats


def test_a_broken_node_is_repaired(lab):
    # A node killed without warning and missing its authorized key: the next run boots it
    # again and restores the key; the other node is left running untouched.
    ctl_pid = sh("pgrep -f '^systemd-nspawn .*--machine=controller '").stdout.split()
    assert sh("pkill -KILL -f '^systemd-nspawn .*--machine=compute1 '").returncode == 0
    os.remove(f"{STATE}/nodes/compute1/root/.ssh/authorized_keys")
    run = run_playbook("playbooks/lab.yml")
    assert run.rc == 0, run
    assert run.result("lab : Boot node compute1", host="localhost")["changed"]
    assert sh("pgrep -f '^systemd-nspawn .*--machine=controller '").stdout.split() == ctl_pid
    assert_node_may_use_every_cpu("compute1")
    rc, hosts, _ = ansible("compute1", "ansible.builtin.ping")
    assert rc == 0, hosts
    again = run_playbook("playbooks/lab.yml")
    assert again.changed_total() == 0, again.stats


def test_destroy_leaves_nothing_behind(lab):
    run = run_playbook("playbooks/lab-destroy.yml", timeout=600)
    assert run.rc == 0, run
    assert sh("pgrep -f '^systemd-nspawn '").returncode == 1, "an nspawn process is left"
    # A zombie is not running: the host's PID 1 may reap a daemon's exit late (CI saw one),
    # so count the states lab-destroy counts (R, S, D, T), as its stop task does.
    assert sh("pgrep -r R,S,D,T -x apt-cacher-ng").returncode == 1, (
        "the apt cache is still running: " + sh("ps -o pid,ppid,stat,lstart,args -C apt-cacher-ng").stdout)
    links = sh("ip -br link").stdout
    for name in BRIDGES + ["vb-controller", "vb-compute1", "vp-controller"]:
        assert name not in links, links
    assert sh(f"findmnt -rn -o TARGET | grep -E '^({STATE}|/var/cache/ostack-lab)'").stdout == ""
    assert os.listdir(f"{STATE}/nodes") == []
    assert not os.path.exists(INVENTORY)
    # Caches stay.
    assert os.path.isdir("/var/cache/ostack-lab/base-current/etc")
    again = run_playbook("playbooks/lab-destroy.yml")
    assert again.rc == 0 and again.changed_total() == 0, again.stats
