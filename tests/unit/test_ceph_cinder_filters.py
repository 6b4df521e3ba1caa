"""Pure logic of the ceph and cinder roles: derived cephx keys, OSD device checks, Cinder's
backend sections and backend checks (filter_plugins/ceph.py, filter_plugins/cinder_backends.py).
The LVM backend cannot run on these machines (no device-mapper, no iSCSI): its rendered
cinder.conf section and its refusals are tested here."""
import base64
import os
import struct

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ceph import ceph_entity_keys, ceph_key, ceph_osd_problems, ceph_size_bytes
from cinder_backends import cinder_backend_problems, cinder_backend_section

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The cinder role's own per-driver sections (roles/cinder/vars/main.yml), templates unrendered.
with open(os.path.join(REPO, "roles/cinder/vars/main.yml"), encoding="utf-8") as _f:
    SECTIONS = yaml.safe_load(_f)["_cinder_backend_sections"]
DEFAULTS = {"rbd_pool": "volumes", "rbd_user": "cinder", "volume_group": "cinder-volumes"}


def test_ceph_key_is_in_cephs_encoding_and_stable():
    key = ceph_key("seed-1", "client.admin")
    raw = base64.b64decode(key)
    kind, sec, nsec, length = struct.unpack("<HIIH", raw[:12])
    assert (kind, sec, nsec, length) == (1, 0, 0, 16) and len(raw) == 28
    assert key.startswith("AQ")
    assert ceph_key("seed-1", "client.admin") == key
    assert ceph_key("seed-1", "client.cinder") != key
    assert ceph_key("seed-2", "client.admin") != key


def test_ceph_key_refuses_an_empty_seed():
    with pytest.raises(AnsibleFilterError, match="seed is empty"):
        ceph_key("", "client.admin")


def test_entity_keys_adds_each_entitys_own_key():
    out = ceph_entity_keys([{"entity": "client.a", "caps": {"mon": "allow r"}}, {"entity": "mgr.x", "caps": {}}], "s")
    assert [e["key"] for e in out] == [ceph_key("s", "client.a"), ceph_key("s", "mgr.x")]
    assert out[0]["caps"] == {"mon": "allow r"}


@pytest.mark.parametrize("text,value", [("8G", 8 << 30), ("512m", 512 << 20), ("1024", 1024), (" 2T ", 2 << 40)])
def test_sizes(text, value):
    assert ceph_size_bytes(text) == value


def test_a_bad_size_is_an_error():
    with pytest.raises(AnsibleFilterError, match="not a size"):
        ceph_size_bytes("eight gigs")


def test_file_backed_osds_need_a_size_of_at_least_2g():
    assert ceph_osd_problems([{"name": "lab0", "size": "8G"}], "s1") == []
    problems = ceph_osd_problems([{"name": "lab0", "size": "1G"}], "s1")
    assert problems == ["s1: OSD lab0 has size 1G; bluestore needs at least 2G."]


def test_an_osd_host_without_devices_is_refused():
    assert "ceph_osd_devices is empty" in ceph_osd_problems([], "s1")[0]


ID = "/dev/disk/by-id/wwn-0x5000c5"


def test_a_blank_disk_is_taken_and_a_disk_with_data_only_with_force():
    devices = [{"name": "sdb", "disk": ID + "b"}, {"name": "sdc", "disk": ID + "c"},
               {"name": "sdd", "disk": ID + "d"}, {"name": "sde", "disk": ID + "e", "force": True}]
    disks = {ID + "b": "blank", ID + "c": "fs:ext4", ID + "d": "data:dos", ID + "e": "fs:xfs"}
    problems = ceph_osd_problems(devices, "s1", disks)
    assert len(problems) == 2
    assert problems[0].startswith(f"s1: disk {ID}c (OSD sdc) holds a ext4 filesystem; an OSD is made only on a blank")
    assert "add force: true" in problems[0]
    assert problems[1].startswith(f"s1: disk {ID}d (OSD sdd) holds data (dos)")


def test_a_disk_an_osd_already_uses_is_fine_and_a_missing_disk_is_named():
    devices = [{"name": "sdb", "disk": ID + "b"}, {"name": "sdx", "disk": ID + "x"}]
    problems = ceph_osd_problems(devices, "s1", {ID + "b": "fs:ceph_bluestore"}, [ID + "b"])
    assert problems == [f"s1: OSD sdx names disk {ID}x, which does not exist on the node; name a block device "
                        "that does (lsblk lists them)."]


def test_a_disk_is_named_by_a_stable_path():
    problems = ceph_osd_problems([{"name": "sdb", "disk": "/dev/sdb"}], "s1", {"/dev/sdb": "blank"})
    assert problems == ["s1: OSD sdb names disk /dev/sdb; name it by a stable path, /dev/disk/by-id/... (ls -l "
                        "/dev/disk/by-id), since /dev/sdX names can change between boots."]


def test_osd_items_need_exactly_one_of_size_and_disk_and_known_keys():
    problems = ceph_osd_problems([{"name": "a"}, {"name": "b", "size": "4G", "disk": "/dev/sdb"},
                                  {"name": "c", "size": "4G", "colour": "red"}, {"name": "c", "size": "4G"},
                                  {"name": "Bad Name", "size": "4G"}], "s1")
    assert "s1: OSD a needs exactly one of size" in problems[0]
    assert "s1: OSD b needs exactly one of size" in problems[1]
    assert "unknown key(s) colour" in problems[2]
    assert "OSD c is listed twice" in problems[3]
    assert "OSD name 'Bad Name'" in problems[4]


def test_rbd_section_names_pool_user_secret_and_a_shared_backend_host():
    section = cinder_backend_section({"name": "rbd-1", "driver": "rbd"}, SECTIONS, DEFAULTS)
    assert section == {"volume_driver": "cinder.volume.drivers.rbd.RBDDriver", "rbd_ceph_conf": "/etc/ceph/ceph.conf",
                       "rbd_flatten_volume_from_snapshot": "false", "rbd_max_clone_depth": 5,
                       "rbd_store_chunk_size": 4, "rados_connect_timeout": -1,
                       "rbd_secret_uuid": "{{ cinder_rbd_secret_uuid }}", "report_discard_supported": "true",
                       "volume_backend_name": "rbd-1", "rbd_pool": "volumes", "rbd_user": "cinder",
                       "backend_host": "rbd:volumes"}
    other = cinder_backend_section({"name": "fast", "driver": "rbd", "pool": "ssd", "user": "c2"}, SECTIONS, DEFAULTS)
    assert (other["rbd_pool"], other["rbd_user"], other["backend_host"]) == ("ssd", "c2", "rbd:ssd")


def test_lvm_section_is_the_install_guides():
    section = cinder_backend_section({"name": "lvm-1", "driver": "lvm", "disks": ["/dev/sdb"]}, SECTIONS, DEFAULTS)
    assert section == {"volume_driver": "cinder.volume.drivers.lvm.LVMVolumeDriver", "target_helper": "tgtadm",
                       "target_protocol": "iscsi", "target_ip_address": "{{ ostack_mgmt_address }}",
                       "volume_backend_name": "lvm-1", "volume_group": "cinder-volumes"}
    own = cinder_backend_section({"name": "l2", "driver": "lvm", "volume_group": "vg2"}, SECTIONS, DEFAULTS)
    assert own["volume_group"] == "vg2"


def test_an_unknown_driver_has_no_section():
    with pytest.raises(AnsibleFilterError, match="unknown driver 'nfs'"):
        cinder_backend_section({"name": "n", "driver": "nfs"}, SECTIONS, DEFAULTS)


def test_an_enabled_backend_that_no_section_defines_is_refused():
    problems = cinder_backend_problems([{"name": "rbd-1", "driver": "rbd"}], ["rbd-1", "ceph"])
    assert problems == ["cinder_enabled_backends names ceph, which no item of cinder_backends defines (defined: "
                        "rbd-1); add a backend of that name, or correct the name."]


def test_backend_definitions_are_checked():
    problems = cinder_backend_problems(
        [{"name": "a", "driver": "nfs"}, {"name": "b", "driver": "lvm"}, {"name": "b", "driver": "rbd"},
         {"name": "c", "driver": "rbd", "disks": ["/dev/sdb"]}, {"driver": "rbd"}], ["a"])
    assert "cinder backend a has driver 'nfs'" in problems[0]
    assert "cinder backend b (lvm) names no disks" in problems[1]
    assert "cinder backend b is defined twice" in problems[2]
    assert "cinder backend c has unknown key(s) disks" in problems[3]
    assert "has no name" in problems[4]
    assert "cinder_enabled_backends is empty" in cinder_backend_problems([{"name": "a", "driver": "rbd"}], [])[0]


LVM = [{"name": "lvm-1", "driver": "lvm", "disks": ["/dev/sdb"]}]


def test_lvm_is_refused_on_a_volume_host_without_device_mapper_naming_it():
    problems = cinder_backend_problems(LVM, ["lvm-1"], "storage1", {}, {"/dev/sdb": "blank"}, "volume")
    assert problems == ["storage1: cinder backend lvm-1 (lvm) needs the kernel's device-mapper, which this host "
                        "lacks (no device-mapper in /proc/misc); use an rbd backend here, or a host whose kernel "
                        "has dm_mod."]


def test_lvm_is_refused_on_a_compute_host_without_iscsi_tcp():
    problems = cinder_backend_problems(LVM, ["lvm-1"], "compute1", {"device-mapper": True}, {}, "compute")
    assert len(problems) == 1 and "compute1: cinder backend lvm-1 (lvm) exports volumes over iSCSI" in problems[0]
    assert cinder_backend_problems(LVM, ["lvm-1"], "compute1", {"iscsi_tcp": True}, {}, "compute") == []


def test_lvm_disks_blank_ours_or_forced():
    ok = {"device-mapper": True}
    assert cinder_backend_problems(LVM, ["lvm-1"], "s", ok, {"/dev/sdb": "blank"}) == []
    assert cinder_backend_problems(LVM, ["lvm-1"], "s", ok, {"/dev/sdb": "pv:cinder-volumes"}) == []
    problems = cinder_backend_problems(LVM, ["lvm-1"], "s", ok, {"/dev/sdb": "pv:other"})
    assert problems[0].startswith("s: disk /dev/sdb (cinder backend lvm-1) holds pv:other")
    problems = cinder_backend_problems(LVM, ["lvm-1"], "s", ok, {"/dev/sdb": "data:gpt"})
    assert "holds data:gpt; a volume group is made only on a blank disk" in problems[0]
    forced = [dict(LVM[0], force=True)]
    assert cinder_backend_problems(forced, ["lvm-1"], "s", ok, {"/dev/sdb": "data:gpt"}) == []
    assert "does not exist on the node" in cinder_backend_problems(LVM, ["lvm-1"], "s", ok, {})[0]


def test_a_disabled_lvm_backend_is_not_checked_against_the_host():
    backends = LVM + [{"name": "rbd-1", "driver": "rbd"}]
    assert cinder_backend_problems(backends, ["rbd-1"], "s", {}, {}, "volume") == []
