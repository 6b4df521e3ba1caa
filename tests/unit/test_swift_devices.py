import importlib.util
import os

import pytest
from ansible.errors import AnsibleFilterError

from swift_devices import swift_device_problems, swift_ring_devices

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("swift_rings", os.path.join(REPO, "roles/swift/files/swift_rings.py"))
swift_rings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(swift_rings)


def test_ring_devices_take_the_bind_address_else_the_management_address_and_default_weights():
    hostvars = {
        "s1": {"ostack_mgmt_address": "10.0.0.31", "swift_devices": [{"name": "d1"}, {"name": "d2", "weight": 50}]},
        "s2": {"ostack_mgmt_address": "10.0.0.32", "swift_storage_bind_address": "10.0.1.32",
               "swift_devices": [{"name": "sdb", "disk": "/dev/sdb", "zone": 2}]},
        "s3": {"ostack_mgmt_address": "10.0.0.33"},
    }
    assert swift_ring_devices(["s1", "s2", "s3"], hostvars) == [
        {"host": "s1", "ip": "10.0.0.31", "device": "d1", "weight": 100.0, "zone": 1, "region": 1},
        {"host": "s1", "ip": "10.0.0.31", "device": "d2", "weight": 50.0, "zone": 1, "region": 1},
        {"host": "s2", "ip": "10.0.1.32", "device": "sdb", "weight": 100.0, "zone": 2, "region": 1},
    ]


def test_a_device_without_a_name_is_an_error_naming_the_host():
    with pytest.raises(AnsibleFilterError, match="s1: every item of swift_devices needs a name"):
        swift_ring_devices(["s1"], {"s1": {"ostack_mgmt_address": "10.0.0.31", "swift_devices": [{"disk": "/dev/sdb"}]}})


def test_directories_need_nothing_of_the_node():
    assert swift_device_problems([{"name": "d1"}, {"name": "d2"}], "s1", {}, False) == []


def test_an_empty_device_list_is_refused():
    assert "swift_devices is empty" in swift_device_problems([], "s1")[0]


@pytest.mark.parametrize("device, state, expected", [
    ({"name": "sdb", "disk": "/dev/sdb"}, "missing", "s1: swift device sdb names disk /dev/sdb, which does not exist"),
    ({"name": "sdb", "disk": "sdb"}, "blank", "which does not exist on the node"),
    ({"name": "sdb", "disk": "/dev/sdb"}, "blank", "is blank; add format: true"),
    ({"name": "sdb", "disk": "/dev/sdb"}, "fs:xfs", "holds a xfs filesystem, perhaps with data; add force: true"),
    ({"name": "sdb", "disk": "/dev/sdb", "format": True}, "fs:ext4", "holds a ext4 filesystem and is never formatted"),
    ({"name": "sdb", "disk": "/dev/sdb", "format": True, "force": True}, "fs:ext4", "is never formatted"),
    ({"name": "sdb", "disk": "/dev/sdb", "format": True}, "data:gpt", "holds data (gpt) and no filesystem"),
    ({"name": "sdb", "disk": "/dev/sdb", "force": True}, "data:dos", "holds data (dos) and no filesystem"),
])
def test_a_disk_is_refused_unless_blank_and_asked_to_format_or_a_filesystem_and_forced(device, state, expected):
    problems = swift_device_problems([device], "s1", {"/dev/sdb": state, "sdb": state})
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize("device, state", [
    ({"name": "sdb", "disk": "/dev/sdb", "format": True}, "blank"),
    ({"name": "sdb", "disk": "/dev/sdb", "force": True}, "fs:xfs"),
])
def test_a_blank_disk_with_format_and_a_filesystem_with_force_are_accepted(device, state):
    assert swift_device_problems([device], "s1", {"/dev/sdb": state}) == []


def test_names_weights_keys_and_duplicates_are_checked():
    problems = " ".join(swift_device_problems(
        [{"name": "../x"}, {"name": "d1", "weight": 0}, {"name": "d1"}, {"name": "d2", "size": 3},
         {"name": "d3", "format": True}], "s1", {}, False))
    assert "'../x' is not a plain directory name" in problems
    assert "d1 has weight 0" in problems
    assert "d1 is listed twice" in problems
    assert "unknown key(s) size" in problems
    assert "d3 has format/force but no disk" in problems


def test_disks_with_mount_check_off_are_refused():
    problems = swift_device_problems([{"name": "sdb", "disk": "/dev/sdb", "format": True}], "s1",
                                     {"/dev/sdb": "blank"}, False)
    assert len(problems) == 1 and "swift_mount_check is false" in problems[0]


# The ring script's plan: what to add, re-weight and remove, from the builder's devices.
def _dev(i, device, weight=100.0, zone=1, ip="10.0.0.31", port=6200):
    return {"id": i, "ip": ip, "port": port, "device": device, "weight": weight, "zone": zone, "region": 1}


def _want(device, weight=100, zone=1, ip="10.0.0.31", port=6200):
    return {"ip": ip, "port": port, "device": device, "weight": weight, "zone": zone, "region": 1}


def test_the_ring_plan_is_empty_when_the_builder_has_the_wanted_devices():
    current = [_dev(0, "d1"), None, _dev(2, "d2")]
    assert swift_rings.plan(current, [_want("d2"), _want("d1")]) == ([], [], [])


def test_the_ring_plan_adds_reweights_and_removes_only_what_differs():
    current = [_dev(0, "d1"), _dev(1, "d2"), _dev(2, "d3")]
    add, reweight, remove = swift_rings.plan(current, [_want("d1"), _want("d2", weight=50), _want("d4")])
    assert add == [_want("d4")] and reweight == [(1, 50.0)] and remove == [2]


def test_a_device_that_moved_zone_is_removed_and_added_again():
    add, reweight, remove = swift_rings.plan([_dev(0, "d1")], [_want("d1", zone=2)])
    assert add == [_want("d1", zone=2)] and reweight == [] and remove == [0]


def test_a_device_listed_twice_is_an_error():
    with pytest.raises(ValueError, match="listed twice"):
        swift_rings.plan([], [_want("d1"), _want("d1")])


def test_the_ring_script_without_its_argument_prints_its_usage_and_exits_2(capsys):
    assert swift_rings.main([]) == 2
    assert "swift_rings.py [--check]" in capsys.readouterr().err
