"""Unit tests for module_utils/qemu_guest.py without libvirt: the guest's state transitions and the
host checks of its options. (Its XML is tested in test_qemu_guest_xml.py, the KVM probe in
test_kvm_probe.py, the connection in test_libvirt_common.py.)
"""
import pytest

from ansible.module_utils.qemu_guest import bridge_problem, plan_state


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
