"""End-to-end test of playbooks/examples/guest-on-bridge.yml on this machine: a TCG guest built from the
lab's base root file system boots on a bridge with a cloud-init seed and answers over SSH.

The playbook runs for real (ansible-playbook, real libvirtd, real kernel from Debian's archive), then
again to show that a converged run changes nothing, then the guest is shut down gracefully through
qemu_guest (ACPI power button, answered by the guest's systemd), and everything the example made on
the host is torn down with the playbook's example_state=absent: guest (with its overlay), seeds,
bridge. The cache under /var/cache/ostack-examples (packages, kernel, base image) stays, so later runs
are fast. Timings are printed (pytest -s shows them).

When the lab's base root is not there (a fresh machine where the lab has not run yet), the test makes
its own with debootstrap under /var/cache/ostack-examples instead; /var/cache/ostack-lab is only read.
"""
import os
import shutil
import subprocess
import time

import pytest

from ansible_runner import run_playbook
from module_runs import OneRunModuleTask

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
INVENTORY = os.path.join(HERE, "inventory.ini")
PLAYBOOK = os.path.join(REPO, "playbooks", "examples", "guest-on-bridge.yml")
APPLY = os.path.join(HERE, "playbooks", "qemu_guest_apply.yml")
LAB_BASE = "/var/cache/ostack-lab/base-current"
OWN_BASE = "/var/cache/ostack-examples/base-rootfs-bookworm"
GUEST = "ostk-test-example"
BRIDGE = "ostk-ex-t0"
ADDRESS = "192.168.250.10"
BASE_PACKAGES = "systemd,systemd-sysv,openssh-server,python3,iproute2,udev,dbus"
QEMU_GUEST = OneRunModuleTask("qemu_guest", APPLY, "qemu_guest_args")


def base_root():
    if os.path.isdir(LAB_BASE):
        return LAB_BASE
    if not os.path.isdir(os.path.join(OWN_BASE, "usr", "bin")):
        tmp = OWN_BASE + ".tmp"
        subprocess.run(["rm", "-rf", tmp], check=True)
        os.makedirs(os.path.dirname(OWN_BASE), exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=" + BASE_PACKAGES, "bookworm", tmp,
                        "http://deb.debian.org/debian"], check=True, capture_output=True, timeout=1800)
        os.rename(tmp, OWN_BASE)
    return OWN_BASE


def example(state="present", check=False, **extra):
    extra_vars = {"example_guest_name": GUEST, "example_bridge": BRIDGE, "example_state": state,
                  "example_guest_address": ADDRESS + "/24", "example_base_root": base_root()}
    extra_vars.update(extra)
    start = time.monotonic()
    run = run_playbook(PLAYBOOK, inventory=INVENTORY, check=check, diff=check, extra_vars=extra_vars, timeout=1800)
    return run, time.monotonic() - start


def changed_tasks(run):
    return [name for _, name, res in run.tasks() if res.get("changed")]


def made_nothing(cache_dir="/var/cache/ostack-examples"):
    """Nothing of the guest exists: no domain, no overlay or seed, no bridge."""
    guests = os.path.join(cache_dir, "guests")
    assert virsh("domstate", GUEST).returncode != 0, "the guest is not defined"
    assert not [n for n in os.listdir(guests) if n.startswith(GUEST)] if os.path.isdir(guests) else True
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0


def virsh(*args):
    return subprocess.run(["virsh", "-c", "qemu:///system"] + list(args), capture_output=True, text=True)


def timings(run):
    """Seconds per task name, from the json callback's per-task durations."""
    out = {}
    for play in run.data.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration", {})
            if duration.get("start") and duration.get("end"):
                from datetime import datetime
                fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
                out[task["task"]["name"]] = (datetime.strptime(duration["end"], fmt)
                                             - datetime.strptime(duration["start"], fmt)).total_seconds()
    return out


@pytest.fixture
def torn_down(libvirtd):
    run, _ = example("absent")
    assert run.rc == 0, run
    yield
    run, _ = example("absent")
    assert run.rc == 0, run


def test_example_guest_boots_on_a_bridge_and_answers_over_ssh(torn_down):
    # check mode for a guest that does not exist yet: it predicts the bridge, overlay, seed and guest,
    # fails nothing, and makes nothing. On a machine whose example cache is still empty (a new
    # machine) the base image is missing too, and the playbook predicts all of it in one step
    # (test_check_mode_on_a_fresh_cache_predicts_everything_and_makes_nothing covers that case).
    check, seconds = example(check=True)
    assert check.rc == 0, check
    predicted = changed_tasks(check)
    per_module = {"Bridge for the guest", "Overlay disk of the guest on the base image", "Cloud-init seed of the guest",
                  "Predict the guest (check mode)"}
    combined = "Predict the bridge, the guest's disk and seed, and the guest (check mode)"
    if combined in predicted:
        assert not per_module & set(predicted), predicted
    else:
        assert per_module <= set(predicted), predicted
    made_nothing()
    print("\nexample playbook in check mode, new guest: %.0fs, %d changes predicted" % (seconds, len(predicted)))

    run, seconds = example()
    assert run.rc == 0, run
    said = run.result("Run a command on the guest over SSH")["stdout"].split()
    assert said[0] == GUEST, "the hostname comes from the seed's meta-data"
    assert said[1].endswith("-cloud-amd64"), "the guest runs Debian's cloud kernel"
    guest = run.result("Read the guest's state and addresses back from libvirt")
    assert guest["state"] == "running"
    assert ADDRESS in [a["addr"] for nic in guest["interfaces"] for a in nic["addresses"]]
    boot = run.result("Boot the guest")
    assert boot["virt_type"] == ("kvm" if boot.get("kvm_probe", {}).get("usable") else "qemu")
    steps = timings(run)
    print("\nexample playbook: %.0fs (boot to SSH %.0fs, base image build %.0fs)" % (
        seconds, steps.get("Wait for the guest's SSH server", 0),
        steps.get("Build the base image, initramfs and host key (once per set of inputs)", 0)))

    # verified from outside the module
    assert virsh("domstate", GUEST).stdout.strip() == "running"
    assert "bridge" in virsh("domiflist", GUEST).stdout and BRIDGE in virsh("domiflist", GUEST).stdout
    assert subprocess.run(["ip", "-br", "addr", "show", BRIDGE], capture_output=True, text=True).stdout.split()[2] \
        == "192.168.250.1/24"

    assert set(changed_tasks(run)) >= {"Bridge for the guest", "Overlay disk of the guest on the base image",
                                       "Cloud-init seed of the guest", "Boot the guest"}

    # converged: a second run changes nothing, and neither does check mode
    again, seconds = example()
    assert again.rc == 0 and again.changed_total() == 0, changed_tasks(again)
    print("example playbook, converged re-run: %.0fs" % seconds)
    check, seconds = example(check=True)
    assert check.rc == 0 and check.changed_total() == 0, changed_tasks(check)
    assert check.result("Boot the guest")["changed"] is False, "qemu_guest itself checked the running guest"

    # graceful shutdown: a real OS answers the ACPI power button (check -> real -> check)
    _, shutdown, _ = QEMU_GUEST.converge({"name": GUEST, "state": "shutdown", "timeout": 180})
    assert "forced" not in shutdown, "the guest shut down by itself"
    print("graceful ACPI shutdown: %.0fs" % shutdown["shutdown_seconds"])
    assert virsh("domstate", GUEST).stdout.strip() == "shut off"


def test_teardown_leaves_nothing_behind(libvirtd):
    run, _ = example("absent")
    assert run.rc == 0, run
    made_nothing()
    again, _ = example("absent")
    assert again.rc == 0 and again.changed_total() == 0


def test_check_mode_on_a_fresh_cache_predicts_everything_and_makes_nothing(libvirtd):
    """No cache yet (a new machine): every build step is predicted as a change, the guest's steps too."""
    cache = "/var/tmp/ostk-test-example-cache-%d" % os.getpid()
    shutil.rmtree(cache, ignore_errors=True)
    run, _ = example(check=True, example_cache_dir=cache)
    assert run.rc == 0, run
    predicted = changed_tasks(run)
    assert {"Create the cache directories", "Create the SSH key for the guests",
            "Download the kernel, busybox-static and kmod packages", "Extract the kernel",
            "Build the base image, initramfs and host key (once per set of inputs)",
            "Predict the bridge, the guest's disk and seed, and the guest (check mode)"} <= set(predicted), predicted
    assert not os.path.exists(cache), "check mode made no file"
    made_nothing(cache)
