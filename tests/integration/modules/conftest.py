"""Fixtures for the custom modules' integration tests: real libvirtd, real qemu-img, real netns.

The machine that runs the tests has no systemd as PID 1, so libvirtd is started here as a
daemon when nothing answers on its socket. It is left running for later tests in the session.
This directory is put on sys.path for module_runs.py (the module tasks that the tests share).

/dev/kvm on these machines is 0600 root:root (no udev to make it Debian's 0660 root:kvm). libvirt's QEMU
probe (run as root) then records KVM, while its cache check finds /dev/kvm unusable for its qemu user
(libvirt-qemu), so it throws its capabilities cache away and probes both emulators again (seconds each
under TCG) on nearly every call: libvirtd's debug log says "KVM was enabled when probing
'/usr/bin/qemu-system-x86_64', but it is not available now", a getCapabilities took 8 s and a define 40 s,
and that was most of this layer's time. So libvirtd is started in a mount namespace of its own in which
/dev/kvm is the same device as Debian's 0660 root:kvm: nothing outside that namespace changes (the host's
/dev, the lab's nodes), and libvirt sees what it sees on a Debian host with udev (kvm listed, guests run as
libvirt-qemu; the tests' guests are TCG guests either way).
"""
import grp
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

LIBVIRT_SOCK = "/var/run/libvirt/libvirt-sock"
QEMU_CONF = "/etc/libvirt/qemu.conf"
# libvirtd cannot create cgroup controllers or mount namespaces on these machines
# (../shared/LAB-NOTES.md); these two settings let it start TCG guests anyway.
QEMU_CONF_LINES = ["cgroup_controllers = [ ]", "namespaces = [ ]"]


def _here(*cmd):
    """pgrep/pkill of this machine's own processes: the lab's nspawn nodes run their own libvirtd and
    virtlogd in their PID namespaces, which a plain ``pgrep -x``/``pkill -x`` would see (and kill) too."""
    return list(cmd) + ["--ns", str(os.getpid()), "--nslist", "pid"]


def _virsh_ok():
    if not shutil.which("virsh"):
        return False
    return subprocess.run(["virsh", "-c", "qemu:///system", "version"],
                          capture_output=True, timeout=30).returncode == 0


KVM = "/dev/kvm"
KVM_NODE_DIR = "/run/ostk-test-libvirtd"      # a tmpfs inside libvirtd's mount namespace holds its /dev/kvm


def _kvm_group_node_needed():
    """Whether /dev/kvm exists but is not Debian's 0660 root:kvm."""
    try:
        st = os.stat(KVM)
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except (OSError, KeyError):
        return False
    return not (st.st_gid == kvm_gid and st.st_mode & 0o060 == 0o060)


def _has_kvm_group_node(pid):
    """Whether the libvirtd ``pid`` runs in a mount namespace with its own /dev/kvm (see the docstring)."""
    try:
        with open("/proc/%d/mountinfo" % pid) as f:
            return any(line.split()[4] == KVM for line in f)
    except OSError:
        return False


def _libvirtd_pids():
    out = subprocess.run(_here("pgrep", "-x", "libvirtd"), capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _start_libvirtd():
    if not _kvm_group_node_needed():
        subprocess.run(["libvirtd", "-d"], check=True)
        return
    rdev = os.stat(KVM).st_rdev
    os.makedirs(KVM_NODE_DIR, exist_ok=True)
    script = ('mount -t tmpfs -o size=16k,mode=0755 ostk-test-kvm "$1"; mknod -m 0660 "$1/kvm" c "$2" "$3"; '
              'chgrp kvm "$1/kvm"; mount --bind "$1/kvm" /dev/kvm; exec libvirtd -d')
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", KVM_NODE_DIR,
                    str(os.major(rdev)), str(os.minor(rdev))], check=True)


def _ensure_qemu_conf():
    with open(QEMU_CONF) as f:
        text = f.read()
    missing = [line for line in QEMU_CONF_LINES if line not in text]
    if missing:
        with open(QEMU_CONF, "a") as f:
            f.write("\n# added by tests/integration/modules/conftest.py\n" + "\n".join(missing) + "\n")
    return bool(missing)


@pytest.fixture(scope="session")
def libvirtd():
    """Ensure a real libvirtd answers on qemu:///system; return the URI."""
    changed = _ensure_qemu_conf()
    if _kvm_group_node_needed() and not all(_has_kvm_group_node(pid) for pid in _libvirtd_pids()):
        changed = True      # a libvirtd started without its own /dev/kvm (by hand, or by an older run)
    if changed and _libvirtd_pids():
        subprocess.run(_here("pkill", "-x", "libvirtd"), check=False)
        for _ in range(60):
            if not _libvirtd_pids():
                break
            time.sleep(0.5)
    if subprocess.run(_here("pgrep", "-x", "virtlogd"), capture_output=True).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=True)     # libvirtd needs it to start guests
    if not _virsh_ok():
        _start_libvirtd()
        for _ in range(60):
            if _virsh_ok():
                break
            time.sleep(0.5)
        else:
            pytest.fail("libvirtd did not answer on qemu:///system within 30 s")
    return "qemu:///system"


@pytest.fixture
def netns():
    """A throwaway network namespace; yields its name and removes it afterwards."""
    name = "ostk-t%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
