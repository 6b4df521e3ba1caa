"""Unit tests for module_utils/qemu_guest.py without libvirt: the KVM probe (payload, verdict, cache),
virt_type resolution, state transitions, live-vs-config planning, host checks and capabilities.

The payload test boots the real payload under the host's QEMU with TCG (qemu-system-x86 is a host
package of this suite), so it proves the hand-assembled code does what the probe expects. The
verdict and cache tests feed recorded probe results (the numbers below were measured on a lab
machine whose nested "PVM" KVM is listed by libvirt but does not run guests in useful time).
"""
import json
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible.module_utils.qemu_guest import (
    PROBE_EXIT_CODE,
    KvmProbe,
    bridge_problem,
    canonical_machine,
    decide_kvm,
    kvm_timeout,
    live_ops,
    parse_caps,
    pending_changes,
    plan_state,
    probe_command,
    probe_key,
    probe_payload,
    resolve_virt_type,
    user_view_keys,
)
from ansible.module_utils.domain_xml import parse_domain
from ansible.module_utils.libvirt_common import host_neighbors, interface_addresses, is_local_uri

QEMU = shutil.which("qemu-system-x86_64")

# Measured on the lab machine (kernel 6.18 PVM KVM, QEMU 7.2): TCG ran the payload in 0.22 s, the KVM run
# reached long mode ("PL") and was killed by the timeout.
TCG_OK = {"ok": True, "rc": 85, "elapsed": 0.219, "output": "PLK"}
KVM_HUNG = {"ok": False, "rc": 124, "elapsed": 4.02,
            "output": "PLqemu-system-x86_64: terminating on signal 15 from pid 22291 (timeout)"}
KVM_ABORT = {"ok": False, "rc": 1, "elapsed": 0.3,
             "output": "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x2000000ff"}
KVM_FAST = {"ok": True, "rc": 85, "elapsed": 0.15, "output": "PLK"}
KVM_SLOW = {"ok": True, "rc": 85, "elapsed": 6.2, "output": "PLK"}


# --------------------------------------------------------------------------- payload

def test_payload_has_a_valid_multiboot_header():
    image = probe_payload()
    magic, flags, checksum, header_addr, load_addr, load_end, bss_end, entry = struct.unpack("<8I", image[:32])
    assert magic == 0x1BADB002 and flags == 0x00010000
    assert (magic + flags + checksum) & 0xFFFFFFFF == 0
    assert header_addr == load_addr == 0x100000 and entry == 0x100000 + 32
    assert load_end == 0 and bss_end == 0
    assert len(image) < 512, "a few instructions, not a kernel"


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")
def test_payload_runs_to_the_end_under_tcg(tmp_path):
    path = tmp_path / "probe.bin"
    path.write_bytes(probe_payload())
    cmd = probe_command(QEMU, "tcg", str(path), timeout=20)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == PROBE_EXIT_CODE, proc.stderr
    assert proc.stdout.endswith("PLK\n")


def test_probe_command_shape():
    cmd = probe_command("/usr/bin/qemu-system-x86_64", "kvm", "/tmp/p.bin", cpu="host", timeout=4)
    assert cmd[:4] == ["timeout", "-k", "2", "4"]
    assert cmd[cmd.index("-accel") + 1] == "kvm" and cmd[cmd.index("-cpu") + 1] == "host"
    assert "isa-debug-exit,iobase=0xf4,iosize=0x04" in cmd and cmd[-2:] == ["-kernel", "/tmp/p.bin"]
    assert "-cpu" not in probe_command("q", "tcg", "/p")


# --------------------------------------------------------------------------- verdict

def test_listed_but_stuck_kvm_is_not_usable():
    usable, reason = decide_kvm(KVM_HUNG, TCG_OK, timeout=4)
    assert not usable
    assert "did not finish within 4s" in reason and "TCG took 0.22s" in reason


def test_kvm_that_aborts_is_not_usable():
    usable, reason = decide_kvm(KVM_ABORT, TCG_OK)
    assert not usable and "failed to set MSR" in reason


def test_kvm_much_slower_than_tcg_is_not_usable():
    usable, reason = decide_kvm(KVM_SLOW, TCG_OK)
    assert not usable and "far slower than emulation" in reason


def test_working_kvm_is_usable():
    usable, reason = decide_kvm(KVM_FAST, TCG_OK)
    assert usable and "ran in 0.15s" in reason


def test_without_a_tcg_reference_only_a_fast_kvm_counts():
    broken_tcg = {"ok": False, "rc": 1, "elapsed": 0.1, "output": "no"}
    assert decide_kvm(KVM_FAST, broken_tcg)[0]
    assert not decide_kvm(KVM_SLOW, broken_tcg)[0]


def test_kvm_timeout_follows_tcg():
    assert kvm_timeout(TCG_OK) == 4                  # ceil(0.22 + 2 + 1)
    assert kvm_timeout(dict(TCG_OK, elapsed=0.01)) == 4
    assert kvm_timeout(dict(TCG_OK, elapsed=30)) == 10
    assert kvm_timeout({"ok": False, "elapsed": 1}) == 10


def test_probe_key_names_what_invalidates_it():
    key = probe_key("6.18.44-fc-v657", 7002022, "/usr/bin/qemu-system-x86_64", "host")
    assert key == "kernel=6.18.44-fc-v657 qemu=7002022 emulator=/usr/bin/qemu-system-x86_64 cpu=host"
    assert probe_key("6.1.0-26-amd64", 7002022, "/usr/bin/qemu-system-x86_64", "host") != key


# --------------------------------------------------------------------------- cache

class RecordedRuns:
    """run_command for KvmProbe that answers with recorded results and counts the runs."""

    def __init__(self, tcg, kvm):
        self.results = {"tcg": tcg, "kvm": kvm}
        self.calls = []

    def __call__(self, cmd):
        accel = cmd[cmd.index("-accel") + 1]
        self.calls.append(accel)
        result = self.results[accel]
        return result["rc"], result["output"] if result["ok"] else "PL", ""


def test_probe_runs_once_then_comes_from_the_cache(tmp_path):
    cache = tmp_path / "sub" / "kvm-probe.json"
    runs = RecordedRuns(TCG_OK, KVM_HUNG)
    probe = KvmProbe(runs, str(cache), now=lambda: "2026-01-01T00:00:00+00:00")
    first = probe.check("key-a", "/usr/bin/qemu-system-x86_64", "host")
    assert first["usable"] is False and first["cached"] is False
    assert runs.calls == ["tcg", "kvm"]
    stored = json.loads(cache.read_text())
    assert stored["version"] == 1 and stored["entries"]["key-a"]["usable"] is False
    assert oct(os.stat(cache).st_mode & 0o777) == "0o644"
    second = probe.check("key-a", "/usr/bin/qemu-system-x86_64", "host")
    assert second["cached"] is True and second["usable"] is False and second["reason"] == first["reason"]
    assert runs.calls == ["tcg", "kvm"], "no second probe for the same key"
    probe.check("key-b", "/usr/bin/qemu-system-x86_64", "host")
    assert runs.calls == ["tcg", "kvm", "tcg", "kvm"], "another kernel/QEMU is probed again"
    assert set(json.loads(cache.read_text())["entries"]) == {"key-a", "key-b"}


def test_probe_in_check_mode_writes_no_cache(tmp_path):
    cache = tmp_path / "kvm-probe.json"
    result = KvmProbe(RecordedRuns(TCG_OK, KVM_FAST), str(cache), write_cache=False).check("k", "q", None)
    assert result["usable"] is True
    assert not cache.exists()


def test_corrupt_cache_is_ignored(tmp_path):
    cache = tmp_path / "kvm-probe.json"
    cache.write_text("{not json")
    runs = RecordedRuns(TCG_OK, KVM_FAST)
    assert KvmProbe(runs, str(cache)).check("k", "q", None)["usable"] is True
    assert runs.calls == ["tcg", "kvm"]


# --------------------------------------------------------------------------- virt_type

def never():
    raise AssertionError("the probe must not run")


def test_explicit_virt_type_is_taken_without_probe():
    assert resolve_virt_type("kvm", False, False, never)[0] == "kvm"
    assert resolve_virt_type("qemu", True, True, never)[0] == "qemu"


def test_auto_without_kvm_in_caps_or_dev_kvm_is_qemu_without_probe():
    virt, reason, probe = resolve_virt_type("auto", False, True, never)
    assert virt == "qemu" and "no kvm domain type" in reason and probe is None
    virt, reason, _ = resolve_virt_type("auto", True, False, never)
    assert virt == "qemu" and "/dev/kvm" in reason


def test_auto_never_trusts_capabilities_alone():
    """libvirt lists kvm and /dev/kvm is there (as on the lab machines): the probe decides."""
    stuck = {"usable": False, "reason": "a KVM probe guest did not finish within 4s"}
    virt, reason, probe = resolve_virt_type("auto", True, True, lambda: stuck)
    assert virt == "qemu" and probe is stuck and reason == stuck["reason"]
    assert resolve_virt_type("auto", True, True, lambda: {"usable": True, "reason": "ok"})[0] == "kvm"


# --------------------------------------------------------------------------- states

@pytest.mark.parametrize("current,requested,actions", [
    ("shutoff", "running", ["start"]),
    ("paused", "running", ["resume"]),
    ("running", "running", []),
    ("crashed", "running", ["destroy", "start"]),
    ("pmsuspended", "running", ["wakeup"]),
    ("running", "paused", ["suspend"]),
    ("shutoff", "paused", ["start_paused"]),
    ("running", "shutdown", ["shutdown"]),
    ("paused", "shutdown", ["resume", "shutdown"]),
    ("shutoff", "shutdown", []),
    ("running", "destroyed", ["destroy"]),
    ("paused", "destroyed", ["destroy"]),
    ("shutoff", "destroyed", []),
    ("running", "present", []),
    ("shutoff", "present", []),
])
def test_plan_state(current, requested, actions):
    assert plan_state(current, requested) == actions


# --------------------------------------------------------------------------- running guest vs config

CFG = """<domain type='qemu'><name>g</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><cpu mode='maximum'/>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/srv/a.qcow2'/>
<target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/seed-new.iso'/>
<target dev='hda' bus='ide'/><readonly/></disk>
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br-new'/><model type='virtio'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/><model type='virtio'/></interface>
<serial type='pty'/></devices></domain>"""
LIVE = """<domain type='qemu' id='3'><name>g</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><cpu mode='maximum'/>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/srv/old.raw' index='2'/>
<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/seed-old.iso' index='1'/>
<target dev='hda' bus='ide'/><readonly/><alias name='ide0-0-0'/></disk>
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br-old'/><target dev='vnet0'/>
<model type='virtio'/><alias name='net0'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><target dev='vnet1'/>
<model type='virtio'/><alias name='net1'/></interface>
<serial type='pty'><source path='/dev/pts/3'/></serial></devices></domain>"""


def test_live_ops_attach_detach_update():
    ops = live_ops(ET.fromstring(CFG), ET.fromstring(LIVE))
    summary = [(op, what) for op, what, _ in ops]
    assert summary == [
        ("update", "cdrom hda media"),
        ("detach", "disk /srv/old.raw"),
        ("attach", "disk /srv/a.qcow2"),
        ("update", "interface 52:54:00:00:00:01 source"),
        ("attach", "interface 52:54:00:00:00:03"),
        ("detach", "interface 52:54:00:00:00:02"),
    ]
    by_what = {what: el for _, what, el in ops}
    attach = by_what["disk /srv/a.qcow2"]
    assert attach.find("address") is None, "the live guest may use that slot: libvirt picks one"
    media = by_what["cdrom hda media"]
    assert media.find("source").get("file") == "/srv/seed-new.iso" and media.find("alias") is not None
    nic = by_what["interface 52:54:00:00:00:01 source"]
    assert nic.find("source").get("bridge") == "br-new" and nic.find("target").get("dev") == "vnet0"


def test_no_live_ops_when_in_line():
    assert live_ops(ET.fromstring(CFG), ET.fromstring(CFG)) == []


def test_pending_changes_name_what_needs_a_restart():
    pending = pending_changes(parse_domain(CFG), parse_domain(LIVE))
    assert pending == ["memory_kib"]
    same = pending_changes(parse_domain(CFG), parse_domain(CFG))
    assert same == []
    cfg = parse_domain(CFG.replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>").replace("type='qcow2'", "type='raw'"))
    live = parse_domain(CFG)
    assert pending_changes(cfg, live) == ["vcpus", "disk /srv/a.qcow2 format"]


# --------------------------------------------------------------------------- host checks

def test_bridge_problem(tmp_path):
    (tmp_path / "br0" / "bridge").mkdir(parents=True)
    (tmp_path / "eth0").mkdir()
    assert bridge_problem("br0", str(tmp_path)) is None
    assert "is not a Linux bridge" in bridge_problem("eth0", str(tmp_path))
    assert "does not exist" in bridge_problem("nope", str(tmp_path))


def test_bridge_problem_on_the_real_host():
    assert "is not a Linux bridge" in bridge_problem("lo")
    assert "does not exist" in bridge_problem("ostk-no-such-br")


CAPS = """<capabilities><host><uuid>x</uuid></host>
<guest><os_type>hvm</os_type><arch name='i686'><emulator>/usr/bin/qemu-system-i386</emulator>
<machine>pc-i440fx-7.2</machine><domain type='qemu'/></arch></guest>
<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<machine maxCpus='255'>pc-i440fx-7.2</machine><machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
<machine maxCpus='288'>pc-q35-7.2</machine><machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
<domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"""


def test_parse_caps_and_machine_aliases():
    caps = parse_caps(CAPS)
    assert caps["emulator"] == "/usr/bin/qemu-system-x86_64"
    assert caps["kvm_listed"] is True
    assert canonical_machine(caps, "q35") == "pc-q35-7.2"
    assert canonical_machine(caps, "pc") == "pc-i440fx-7.2"
    assert canonical_machine(caps, "pc-q35-7.2") == "pc-q35-7.2"
    assert parse_caps(CAPS.replace("<domain type='kvm'/>", ""))["kvm_listed"] is False


# --------------------------------------------------------------------------- addresses

ARP = """IP address       HW type     Flags       HW address            Mask     Device
192.168.250.10   0x1         0x2         52:54:00:9f:55:ea     *        ostk-ex0
192.168.250.11   0x1         0x0         52:54:00:00:00:02     *        ostk-ex0
192.0.2.1        0x1         0x2         02:FC:00:00:00:05     *        eth0
"""


def test_host_neighbors_reads_complete_arp_entries(tmp_path):
    path = tmp_path / "arp"
    path.write_text(ARP)
    assert host_neighbors(str(path)) == {"52:54:00:9f:55:ea": ["192.168.250.10"], "02:fc:00:00:00:05": ["192.0.2.1"]}
    assert host_neighbors(str(tmp_path / "missing")) == {}


class NoLibvirtAddresses:
    """A domain whose libvirt address sources all fail, as libvirt 9.0's ARP source does on kernel 6.18
    ("internal error: wrong nlmsg len") and the lease/agent sources do for a guest on a plain bridge."""

    def interfaceAddresses(self, source, flags):
        raise RuntimeError("wrong nlmsg len")


def test_interface_addresses_fall_back_to_the_hosts_arp_table_for_local_guests(tmp_path):
    path = tmp_path / "arp"
    path.write_text(ARP)
    macs = ["52:54:00:9F:55:EA", "52:54:00:00:00:02"]
    local = interface_addresses(NoLibvirtAddresses(), macs, local=True, arp_path=str(path))
    assert local == {"52:54:00:9f:55:ea": [{"addr": "192.168.250.10", "prefix": None, "type": "ipv4",
                                            "source": "host-arp"}],
                     "52:54:00:00:00:02": []}
    remote = interface_addresses(NoLibvirtAddresses(), macs, local=False, arp_path=str(path))
    assert remote == {"52:54:00:9f:55:ea": [], "52:54:00:00:00:02": []}


@pytest.mark.parametrize("uri,local", [
    ("qemu:///system", True), ("qemu:///session", True), ("qemu:///system?socket=/x", True),
    ("qemu+ssh://root@host2/system", False), ("qemu+tcp://10.0.0.31/system", False),
])
def test_is_local_uri(uri, local):
    assert is_local_uri(uri) is local


def test_diff_keys_are_the_users():
    spec = {"name": "g", "memory_kib": 1, "disks": [], "cloud_init": {}, "autostart": True, "virt_type": "auto"}
    assert user_view_keys(spec) == {"memory", "disks", "cloud_init_seed", "autostart", "virt_type"}
