"""Unit tests for module_utils/kvm_probe.py: the KVM probe (payload, verdict, cache), virt_type
resolution, and the kvm_probe module's run.

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

import pytest

from ansible.module_utils import kvm_probe
from ansible.module_utils.kvm_probe import (
    NO_DEV_KVM,
    PROBE_EXIT_CODE,
    KvmProbe,
    KvmProbeError,
    decide_kvm,
    kvm_device_usable,
    kvm_timeout,
    probe_command,
    probe_key,
    probe_payload,
    resolve_virt_type,
    run_module,
)

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


# --------------------------------------------------------------------------- the kvm_probe module

def test_kvm_device_usable(tmp_path):
    assert kvm_device_usable(str(tmp_path / "kvm")) is False
    (tmp_path / "kvm").write_text("")
    assert kvm_device_usable(str(tmp_path / "kvm")) is True


class ProbeModule:
    """What run_module uses of AnsibleModule: params, check_mode, get_bin_path and run_command (the
    emulator's --version, then the recorded probe runs)."""

    def __init__(self, tmp_path, emulator=None, found=True, version_rc=0, check_mode=False, runs=None):
        self.params = {"emulator": emulator, "cpu": "host", "cache": str(tmp_path / "kvm-probe.json")}
        self.check_mode = check_mode
        self.found = found
        self.version_rc = version_rc
        self.runs = runs or RecordedRuns(TCG_OK, KVM_FAST)
        self.commands = []

    def get_bin_path(self, name):
        return "/usr/bin/" + name if self.found else None

    def run_command(self, cmd):
        self.commands.append(cmd)
        if cmd[-1] == "--version":
            if self.version_rc:
                return self.version_rc, "", "qemu: cannot load libslirp\n"
            return 0, "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright\n", ""
        return self.runs(cmd)


def test_module_without_dev_kvm_answers_qemu_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(kvm_probe, "kvm_device_usable", lambda: False)
    module = ProbeModule(tmp_path)
    assert run_module(module) == {"changed": False, "virt_type": "qemu", "usable": False, "reason": NO_DEV_KVM}
    assert module.commands == []


def test_module_without_emulator_fails_except_in_check_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(kvm_probe, "kvm_device_usable", lambda: True)
    with pytest.raises(KvmProbeError, match="QEMU emulator 'qemu-system-x86_64' not found: install qemu-system-x86"):
        run_module(ProbeModule(tmp_path, found=False))
    result = run_module(ProbeModule(tmp_path, emulator=str(tmp_path / "no-qemu"), check_mode=True))
    assert result["virt_type"] == "qemu" and result["reason"].endswith("not found: install qemu-system-x86 (Debian) "
                                                                       "or set emulator to its path (check mode)")


def test_module_with_a_broken_emulator_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(kvm_probe, "kvm_device_usable", lambda: True)
    with pytest.raises(KvmProbeError, match=r"/usr/bin/qemu-system-x86_64 --version failed \(exit 1\): qemu: "
                                            r"cannot load libslirp; fix the QEMU installation"):
        run_module(ProbeModule(tmp_path, version_rc=1))


@pytest.mark.parametrize("check_mode", [False, True])
def test_module_probes_and_caches_outside_check_mode(tmp_path, monkeypatch, check_mode):
    monkeypatch.setattr(kvm_probe, "kvm_device_usable", lambda: True)
    module = ProbeModule(tmp_path, check_mode=check_mode, runs=RecordedRuns(TCG_OK, KVM_HUNG))
    result = run_module(module)
    assert result["changed"] is False and result["virt_type"] == "qemu" and result["usable"] is False
    assert result["reason"] == result["probe"]["reason"] and "did not finish" in result["reason"]
    assert result["probe"]["key"] == probe_key(os.uname().release, "QEMU emulator version 7.2.22 (Debian "
                                               "1:7.2+dfsg-7+deb12u18)", "/usr/bin/qemu-system-x86_64", "host")
    assert module.runs.calls == ["tcg", "kvm"]
    assert (tmp_path / "kvm-probe.json").exists() is not check_mode
