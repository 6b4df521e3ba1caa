"""Integration tests of the linux_bridge module: real ansible-playbook runs against real bridges.

Every bridge lives in a network namespace made by the ``netns`` fixture (conftest.py) and dies
with it; the module reaches it through its ``netns`` option (``ip -n NS ...``). Each state change
runs check -> real -> check (changed / changed / unchanged), and the kernel state is then read
back here with ``ip -n NS -j ...``, independently of the module's own parsing. The three runs are
one ansible-playbook run (playbooks/linux_bridge_converge.yml, which also reads the kernel state
right after the check run): starting ansible-playbook is most of what a run costs.
"""
import json
import os
import subprocess

import pytest

from ansible_runner import run_playbook

PLAYBOOKS = "tests/integration/modules/playbooks"
APPLY = f"{PLAYBOOKS}/linux_bridge_apply.yml"
CONVERGE = f"{PLAYBOOKS}/linux_bridge_converge.yml"
LAB = f"{PLAYBOOKS}/linux_bridge_lab.yml"
INVENTORY = "tests/integration/modules/inventory.ini"
TASK = "Manage the bridge"
HEADER = "# Managed by Ansible (linux_bridge module); local changes will be overwritten.\n"


def play(playbook, **kwargs):
    return run_playbook(playbook, inventory=INVENTORY, **kwargs)


# --------------------------------------------------------------------------- kernel side

def ip(ns, *args):
    subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True)


def ip_json(ns, *args):
    out = subprocess.run(["ip", "-n", ns, "-j", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def veth(ns, name, up=False):
    """A veth pair NAME / NAMEp in the namespace; the peer is up, NAME is up only if asked."""
    ip(ns, "link", "add", name, "type", "veth", "peer", "name", name + "p")
    ip(ns, "link", "set", "dev", name + "p", "up")
    if up:
        ip(ns, "link", "set", "dev", name, "up")


def kernel(ns):
    """{ifname: facts} of the namespace, reduced to what the module manages (no timers, no link-local)."""
    return kernel_state(ip_json(ns, "-d", "link", "show"), ip_json(ns, "addr", "show"))


def kernel_state(links, addr_entries):
    """kernel() from the output of ``ip -j -d link show`` and ``ip -j addr show``."""
    addrs = {e["ifname"]: e.get("addr_info", []) for e in addr_entries}
    state = {}
    for link in links:
        info = link.get("linkinfo", {})
        data = info.get("info_data", {})
        state[link["ifname"]] = {
            "ifindex": link["ifindex"],
            "kind": info.get("info_kind"),
            "master": link.get("master"),
            "up": "UP" in link["flags"],
            "mtu": link["mtu"],
            "stp_state": data.get("stp_state"),
            "vlan_filtering": data.get("vlan_filtering"),
            "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for a in addrs.get(link["ifname"], [])
                                if not a["local"].startswith("fe80:")),
        }
    return state


def ports_of(ns, bridge):
    return sorted(name for name, facts in kernel(ns).items() if facts["master"] == bridge)


# --------------------------------------------------------------------------- module side

def apply(ns, check=False, diff=True, playbook=APPLY, **params):
    """Run the apply playbook once with lb_<param> extra vars; netns defaults to the test namespace."""
    extra = {f"lb_{key}": value for key, value in params.items()}
    extra.setdefault("lb_netns", ns)
    return play(playbook, check=check, diff=diff, extra_vars=extra)


def task_result(run):
    assert run.data is not None, run
    return run.result(TASK)


def converge(ns, **params):
    """check -> real -> check: changed / changed / unchanged, check mode truthful and harmless.
    One ansible-playbook run (CONVERGE), which reads the kernel state right after the check run."""
    before = kernel(ns)
    run = apply(ns, playbook=CONVERGE, **params)
    assert run.data is not None, run
    steps = [res for _, name, res in run.tasks() if name == TASK]
    assert run.rc == 0 and len(steps) == 3, (run, steps)
    predicted, real, again = steps
    assert predicted["changed"] is True, predicted
    after_check = kernel_state(*(json.loads(run.result(name)["stdout"] or "[]") for name in
                                 ("Read the links after the check run", "Read the addresses after the check run")))
    assert after_check == before, "check mode changed the kernel state"

    assert real["changed"] is True, real
    assert real["commands"] == predicted["commands"]
    assert real["diff"] == predicted["diff"]
    # operstate is the one thing check mode cannot know (carrier, STP timers).
    assert _without_operstate(real["bridge"]) == _without_operstate(predicted["bridge"])

    assert again["changed"] is False and again["commands"] == [], again
    return predicted, real


def _without_operstate(bridge):
    return {key: value for key, value in bridge.items() if key != "operstate"}


def refused(ns, fragment, **params):
    """The task fails in check mode and for real, the message has ``fragment``, nothing changed."""
    before = kernel(ns)
    for check in (True, False):
        run = apply(ns, check=check, **params)
        res = task_result(run)
        assert run.rc != 0 and res.get("failed") is True, (run, res)
        assert fragment in res["msg"], res["msg"]
        assert res.get("changed", False) is False
        assert kernel(ns) == before, f"a refused task (check={check}) changed the kernel state"
    return res


# --------------------------------------------------------------------------- tests

def test_create_with_addresses_mtu_and_stp(netns):
    predicted, real = converge(netns, name="br-t", addresses=["10.71.0.1/24", "fd00:71::1/64"], mtu=1400, stp=True)
    assert real["commands"] == [
        f"ip -n {netns} link add name br-t type bridge stp_state 1",
        f"ip -n {netns} link set dev br-t mtu 1400",
        f"ip -n {netns} addr add 10.71.0.1/24 dev br-t",
        f"ip -n {netns} addr add fd00:71::1/64 dev br-t",
        f"ip -n {netns} link set dev br-t up",
    ]
    facts = kernel(netns)["br-t"]
    assert (facts["kind"], facts["mtu"], facts["stp_state"], facts["up"]) == ("bridge", 1400, 1, True)
    assert facts["addresses"] == ["10.71.0.1/24", "fd00:71::1/64"]
    bridge = dict(real["bridge"])
    assert bridge.pop("operstate") in ("UP", "DOWN", "UNKNOWN")
    assert bridge == {"name": "br-t", "exists": True, "mtu": 1400, "addresses": ["10.71.0.1/24", "fd00:71::1/64"],
                      "ports": [], "stp": True, "vlan_filtering": False, "link_state": "up"}
    # The diff shows only what the task set.
    [runtime] = real["diff"]
    assert runtime["before"] == {"state": "absent"}
    assert runtime["after"] == {"state": "present", "addresses": ["10.71.0.1/24", "fd00:71::1/64"], "mtu": 1400,
                                "stp": True, "link_state": "up"}
    assert real["persist"] == "none" and real["persist_files"] == []


def test_ports_and_in_place_changes(netns):
    for name in ("v1", "v2", "v3"):
        veth(netns, name)
    converge(netns, name="br-t", addresses=["10.72.0.1/24", "10.72.0.2/24"], mtu=1500, ports=["v1", "v2"])
    facts = kernel(netns)
    ifindex = facts["br-t"]["ifindex"]
    assert ports_of(netns, "br-t") == ["v1", "v2"]
    assert facts["v1"]["up"] and facts["v2"]["up"]
    assert facts["br-t"]["addresses"] == ["10.72.0.1/24", "10.72.0.2/24"]

    # MTU and addresses change in place; the primary goes and its secondary must survive.
    _, real = converge(netns, name="br-t", addresses=["10.72.0.2/24", "10.72.1.1/24"], mtu=1300, ports=["v1", "v2"])
    assert real["commands"] == [
        f"ip -n {netns} link set dev br-t mtu 1300",
        f"ip -n {netns} addr del 10.72.0.2/24 dev br-t",
        f"ip -n {netns} addr del 10.72.0.1/24 dev br-t",
        f"ip -n {netns} addr add 10.72.0.2/24 dev br-t",
        f"ip -n {netns} addr add 10.72.1.1/24 dev br-t",
    ]
    facts = kernel(netns)["br-t"]
    assert facts["ifindex"] == ifindex, "the bridge was recreated instead of changed in place"
    assert (facts["mtu"], facts["addresses"]) == (1300, ["10.72.0.2/24", "10.72.1.1/24"])
    assert [d["after"] for d in real["diff"]] == [{"state": "present", "ports": ["v1", "v2"],
                                                   "addresses": ["10.72.0.2/24", "10.72.1.1/24"], "mtu": 1300,
                                                   "link_state": "up"}]

    # Detach v2 (exact set); the MTU is set again so the kernel does not re-derive it from the ports.
    _, real = converge(netns, name="br-t", ports=["v1"], mtu=1300)
    assert real["commands"] == [f"ip -n {netns} link set dev v2 nomaster", f"ip -n {netns} link set dev br-t mtu 1300"]
    assert ports_of(netns, "br-t") == ["v1"]
    assert kernel(netns)["v2"]["master"] is None and kernel(netns)["br-t"]["mtu"] == 1300

    # Add v3 and leave v1 alone.
    _, real = converge(netns, name="br-t", ports=["v3"], ports_mode="add")
    assert real["commands"] == [f"ip -n {netns} link set dev v3 master br-t", f"ip -n {netns} link set dev v3 up"]
    assert ports_of(netns, "br-t") == ["v1", "v3"] and real["bridge"]["ports"] == ["v1", "v3"]

    # Link down and up again.
    converge(netns, name="br-t", link_state="down")
    assert kernel(netns)["br-t"]["up"] is False
    converge(netns, name="br-t", link_state="up")
    assert kernel(netns)["br-t"]["up"] is True and kernel(netns)["br-t"]["ifindex"] == ifindex


def test_missing_port_is_named_and_nothing_changes(netns):
    veth(netns, "v1")
    converge(netns, name="br-t")
    res = refused(netns, "port interface(s) nope0 do not exist in network namespace",
                  name="br-t", ports=["v1", "nope0"])
    assert res["missing"] == ["nope0"]
    assert "Nothing was changed" in res["msg"]
    assert kernel(netns)["v1"]["master"] is None
    # The same for a bridge that does not exist yet: it is not created.
    refused(netns, "nope1", name="br-new", ports=["nope1"], addresses=["10.73.0.1/24"])
    assert "br-new" not in kernel(netns)


def _kernel_has_vlan_filtering(ns):
    made = subprocess.run(["ip", "-n", ns, "link", "add", "name", "vfprobe", "type", "bridge", "vlan_filtering", "1"],
                          capture_output=True, text=True)
    if made.returncode == 0:
        ip(ns, "link", "del", "dev", "vfprobe")
        return True
    assert "Operation not supported" in made.stderr, made.stderr
    return False


def test_vlan_filtering_toggle(netns):
    converge(netns, name="br-t", addresses=["10.74.0.1/24"])
    # vlan_filtering false on a bridge that does not filter: nothing to do, on any kernel.
    res = task_result(apply(netns, name="br-t", vlan_filtering=False))
    assert res["changed"] is False and res["commands"] == [] and res["bridge"]["vlan_filtering"] is False
    if _kernel_has_vlan_filtering(netns):
        _, real = converge(netns, name="br-t", vlan_filtering=True)
        assert real["commands"] == [f"ip -n {netns} link set dev br-t type bridge vlan_filtering 1"]
        assert kernel(netns)["br-t"]["vlan_filtering"] == 1
        _, real = converge(netns, name="br-t", vlan_filtering=False)
        assert real["commands"] == [f"ip -n {netns} link set dev br-t type bridge vlan_filtering 0"]
        assert kernel(netns)["br-t"]["vlan_filtering"] == 0
    else:
        # This kernel cannot filter VLANs on bridges (no CONFIG_BRIDGE_VLAN_FILTERING): the module says so
        # before touching anything, for an existing bridge and for a new one.
        refused(netns, "needs a kernel built with CONFIG_BRIDGE_VLAN_FILTERING=y", name="br-t", vlan_filtering=True)
        refused(netns, "set vlan_filtering: false or leave it out", name="br-new", vlan_filtering=True)
        assert "br-new" not in kernel(netns)


def test_persist_networkd(netns, tmp_path):
    veth(netns, "v1")
    root = str(tmp_path)
    netdir = tmp_path / "etc/systemd/network"
    # A bridge made without persistence, then persisted: only the files change.
    converge(netns, name="br-t", addresses=["10.75.0.1/24"], ports=["v1"], stp=False)
    predicted, real = converge(netns, name="br-t", addresses=["10.75.0.1/24"], ports=["v1"], stp=False,
                               persist="networkd", persist_root=root)
    assert predicted["commands"] == [] and real["commands"] == []
    assert real["persist"] == "networkd"
    assert real["persist_files"] == [str(netdir / n) for n in ("25-br-t.netdev", "25-br-t.network",
                                                                "25-br-t-ports.network")]
    assert (netdir / "25-br-t.netdev").read_text() == HEADER + "[NetDev]\nName=br-t\nKind=bridge\n\n[Bridge]\nSTP=no\n"
    assert (netdir / "25-br-t.network").read_text() == HEADER + (
        "[Match]\nName=br-t\n\n[Network]\nConfigureWithoutCarrier=yes\nAddress=10.75.0.1/24\n")
    assert (netdir / "25-br-t-ports.network").read_text() == HEADER + "[Match]\nName=v1\n\n[Network]\nBridge=br-t\n"
    assert oct((netdir / "25-br-t.netdev").stat().st_mode & 0o777) == "0o644"
    file_diffs = real["diff"][1:]
    assert [d["before_header"] for d in file_diffs] == [f"{p} (absent)" for p in real["persist_files"]]
    assert [d["before"] for d in file_diffs] == ["", "", ""]
    assert file_diffs[0]["after"] == (netdir / "25-br-t.netdev").read_text()

    # An in-place change reaches the kernel and the one file that records it.
    stamp = (netdir / "25-br-t.netdev").stat().st_mtime_ns
    _, real = converge(netns, name="br-t", addresses=["10.75.0.1/24"], ports=["v1"], stp=False, mtu=1450,
                       persist="networkd", persist_root=root)
    assert real["commands"] == [f"ip -n {netns} link set dev br-t mtu 1450"]
    assert kernel(netns)["br-t"]["mtu"] == 1450
    assert [d["before_header"] for d in real["diff"][1:]] == [str(netdir / "25-br-t.network")]
    assert "MTUBytes=1450" in (netdir / "25-br-t.network").read_text()
    assert (netdir / "25-br-t.netdev").stat().st_mtime_ns == stamp, "an unchanged file was rewritten"

    # absent removes the bridge and its files.
    _, real = converge(netns, name="br-t", state="absent", persist="networkd", persist_root=root)
    assert "br-t" not in kernel(netns) and sorted(os.listdir(netdir)) == []
    assert real["persist_files"] == []
    assert [d["after_header"] for d in real["diff"][1:]] == [f"{netdir}/{n} (removed)" for n in (
        "25-br-t.netdev", "25-br-t.network", "25-br-t-ports.network")]


def test_persist_auto_picks_ifupdown_when_installed(netns, tmp_path):
    veth(netns, "v1")
    root = str(tmp_path)
    # Nothing installed under the root: auto means none.
    res = task_result(apply(netns, check=True, name="br-t", persist="auto", persist_root=root))
    assert res["persist"] == "none" and res["persist_files"] == []
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/ifup").write_text("")
    path = tmp_path / "etc/network/interfaces.d/br-t"

    _, real = converge(netns, name="br-t", addresses=["10.76.0.1/24", "fd00:76::1/64"], ports=["v1"], mtu=1400,
                       stp=True, persist="auto", persist_root=root)
    assert real["persist"] == "ifupdown" and real["persist_files"] == [str(path)]
    assert path.read_text() == HEADER + (
        "auto br-t\n"
        "iface br-t inet static\n"
        "    address 10.76.0.1/24\n"
        "    bridge_ports v1\n"
        "    bridge_stp on\n"
        "    mtu 1400\n"
        "\n"
        "iface br-t inet6 static\n"
        "    address fd00:76::1/64\n"
        "    bridge_ports v1\n")
    facts = kernel(netns)
    assert facts["br-t"]["addresses"] == ["10.76.0.1/24", "fd00:76::1/64"] and facts["v1"]["master"] == "br-t"

    _, real = converge(netns, name="br-t", addresses=["10.76.0.1/24"], ports=["v1"], mtu=1400, stp=True,
                       persist="ifupdown", persist_root=root)
    assert real["commands"] == [f"ip -n {netns} addr del fd00:76::1/64 dev br-t"]
    assert "inet6" not in path.read_text()
    assert "-    address fd00:76::1/64" not in real["diff"][1]["after"]
    assert real["diff"][1]["before"].endswith("    address fd00:76::1/64\n    bridge_ports v1\n")


def test_refuses_to_touch_the_ssh_interface(netns):
    # s1 plays the host's uplink: the SSH server address sits on it.
    veth(netns, "s1", up=True)
    ip(netns, "addr", "add", "10.99.0.1/24", "dev", "s1")
    ssh = "10.99.0.2 40000 10.99.0.1 22"
    converge(netns, name="br-t", ssh_connection=ssh)          # a new, unrelated bridge is fine
    res = refused(netns, "refusing to change the interface that carries the current SSH connection",
                  name="br-t", ports=["s1"], ssh_connection=ssh)
    assert "enslave s1 to bridge br-t" in res["msg"] and "force: true" in res["msg"]
    assert "s1" in res["ssh_interfaces"]
    assert kernel(netns)["s1"]["master"] is None

    _, real = converge(netns, name="br-t", ports=["s1"], ssh_connection=ssh, force=True)
    assert any("force: true" in w for w in real.get("warnings", []))
    assert kernel(netns)["s1"]["master"] == "br-t"

    # Now the bridge itself carries the connection: readdressing and deleting it are refused.
    converge(netns, name="br-t", addresses=["10.98.0.1/24"])
    ssh = "10.98.0.9 40000 10.98.0.1 22"
    res = refused(netns, "remove address 10.98.0.1/24 from br-t", name="br-t", addresses=["10.98.0.2/24"],
                  ssh_connection=ssh)
    assert res["ssh_interfaces"]["br-t"].startswith("it holds the SSH server address 10.98.0.1")
    assert "s1" in res["ssh_interfaces"]      # its port carries it too
    refused(netns, "delete bridge br-t", name="br-t", state="absent", ssh_connection=ssh)
    # Adding an address is harmless and allowed.
    converge(netns, name="br-t", addresses=["10.98.0.1/24", "10.98.0.2/24"], ssh_connection=ssh)
    converge(netns, name="br-t", state="absent", ssh_connection=ssh, force=True)
    assert "br-t" not in kernel(netns)


@pytest.mark.parametrize("params, fragment", [
    ({"name": "br-name-too-long"}, "'br-name-too-long' is 16 characters long; Linux interface names have at most 15"),
    ({"name": "br t"}, "name 'br t' contains ' '"),
    ({"name": "br-t", "addresses": ["10.77.0.1"]}, "has no prefix length; write it in CIDR form, e.g. 10.77.0.1/24"),
    ({"name": "br-t", "addresses": ["10.77.0.300/24"]}, "'10.77.0.300/24' is not a valid IPv4 or IPv6 CIDR"),
    ({"name": "br-t", "mtu": 70000}, "mtu 70000 is out of range; a bridge MTU must be between 68 and 65535"),
    ({"name": "br-t", "ports_mode": "add"}, "ports_mode is add but all of the following are missing: ports"),
    ({"name": "br-t", "netns": "ostk-no-such-ns"}, "network namespace 'ostk-no-such-ns' does not exist"),
    ({"name": "v1"}, "interface v1 exists and is a veth"),
])
def test_bad_input_fails_and_changes_nothing(netns, params, fragment):
    veth(netns, "v1")
    # A bridge made by hand, as another tool would leave it.
    ip(netns, "link", "add", "name", "br-t", "type", "bridge")
    ip(netns, "addr", "add", "10.77.0.1/24", "dev", "br-t")
    ip(netns, "link", "set", "dev", "br-t", "up")
    refused(netns, fragment, **params)
    assert kernel(netns)["br-t"]["addresses"] == ["10.77.0.1/24"]


def test_absent_and_absent_again(netns):
    veth(netns, "v1")
    converge(netns, name="br-t", ports=["v1"], addresses=["10.78.0.1/24"])
    _, real = converge(netns, name="br-t", state="absent")
    assert real["commands"] == [f"ip -n {netns} link del dev br-t"]
    assert real["bridge"] == {"name": "br-t", "exists": False}
    facts = kernel(netns)
    assert "br-t" not in facts and facts["v1"]["master"] is None
    res = task_result(apply(netns, name="br-t", state="absent"))
    assert res["changed"] is False and res["commands"] == []


def test_lab_playbook_usage(netns):
    """The lab's two host bridges, as the lab playbook creates them (here inside the namespace)."""
    extra = {"lb_netns": netns}
    runs = [play(LAB, check=check, diff=True, extra_vars=extra)
            for check in (True, False, True)]
    for run, changed in zip(runs, (True, True, False)):
        assert run.rc == 0, run
        results = run.result("Create the lab bridges")["results"]
        assert [r["changed"] for r in results] == [changed, changed]
    facts = kernel(netns)
    assert facts["ostk-mgmt"]["addresses"] == ["10.0.0.1/24"] and facts["ostk-mgmt"]["up"]
    assert facts["ostk-prov"]["addresses"] == ["172.24.4.1/24"] and facts["ostk-prov"]["up"]
    assert facts["ostk-mgmt"]["stp_state"] == 0 and facts["ostk-prov"]["mtu"] == 1500
    # A port attached by someone else (systemd-nspawn does this) is left alone on re-runs.
    veth(netns, "vb-node", up=True)
    ip(netns, "link", "set", "dev", "vb-node", "master", "ostk-mgmt")
    run = play(LAB, extra_vars=extra)
    assert run.rc == 0 and run.changed_total() == 0, run
    assert ports_of(netns, "ostk-mgmt") == ["vb-node"]


def test_diff_is_rendered_by_the_default_callback(netns, tmp_path):
    converge(netns, name="br-t", mtu=1500, persist="networkd", persist_root=str(tmp_path))
    run = play(APPLY, check=True, diff=True,
               extra_vars={"lb_netns": netns, "lb_name": "br-t", "lb_mtu": 1300, "lb_persist": "networkd",
                           "lb_persist_root": str(tmp_path)},
               env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default", "ANSIBLE_NOCOLOR": "1"})
    assert run.rc == 0, run
    network = tmp_path / "etc/systemd/network/25-br-t.network"
    assert f"--- before: bridge br-t (netns {netns})" in run.stdout
    assert f"--- before: {network}" in run.stdout
    assert "-MTUBytes=1500" in run.stdout and "+MTUBytes=1300" in run.stdout
    assert kernel(netns)["br-t"]["mtu"] == 1500 and "MTUBytes=1500" in network.read_text()
