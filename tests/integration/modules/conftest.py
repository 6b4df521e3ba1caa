"""Fixtures for the custom modules' integration tests: real libvirtd, real qemu-img, real netns.

The machine that runs the tests has no systemd as PID 1, so libvirtd is started here as a
daemon when nothing answers on its socket. It is left running for later tests in the session.
"""
import os
import shutil
import subprocess
import time

import pytest

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
    if changed and _virsh_ok():
        subprocess.run(_here("pkill", "-x", "libvirtd"), check=False)
        time.sleep(2)
    if subprocess.run(_here("pgrep", "-x", "virtlogd"), capture_output=True).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=True)     # libvirtd needs it to start guests
    if not _virsh_ok():
        subprocess.run(["libvirtd", "-d"], check=True)
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
