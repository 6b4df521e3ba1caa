"""Unit tests of the storage_volume module's pure logic (module_utils/storage_volume.py): validation,
pool/volume XML compile and parse, and the pool/volume plans; plus its argument spec and docs.
Nothing here talks to libvirt; tests/integration/modules/test_storage_volume.py does."""
import xml.etree.ElementTree as ET

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

import storage_volume as module_file
from ansible.module_utils.storage_volume import (
    ConflictError, PoolWant, ValidationError, VolumeWant, build_want, compile_pool_xml, compile_volume_xml,
    parse_mode, parse_pool_xml, parse_volume_xml, perm_differences, plan_pool, plan_volume, spec_differences,
)

M = 1024 ** 2

# As libvirt 9.0 prints them (virsh pool-dumpxml / vol-dumpxml on this machine).
LIBVIRT_DIR_POOL = """<pool type='dir'>
  <name>ostk-test-x</name>
  <uuid>e928fd32-f31f-4ec6-8280-5ad62fb01f1b</uuid>
  <capacity unit='bytes'>270553174016</capacity>
  <allocation unit='bytes'>26536620032</allocation>
  <available unit='bytes'>244016553984</available>
  <source>
  </source>
  <target>
    <path>/tmp/lvx/p</path>
    <permissions>
      <mode>0750</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </target>
</pool>
"""
LIBVIRT_FS_POOL = """<pool type='fs'>
  <name>scratch</name>
  <uuid>0f6c7e0e-8c5a-4a53-9d2f-6f3c3e1c0b7a</uuid>
  <source>
    <device path='/dev/vdb1'/>
    <format type='ext4'/>
  </source>
  <target>
    <path>/srv/scratch/</path>
    <permissions>
      <mode>0755</mode>
      <owner>-1</owner>
      <group>-1</group>
    </permissions>
  </target>
</pool>
"""
LIBVIRT_OVERLAY_VOLUME = """<volume type='file'>
  <name>o.qcow2</name>
  <key>/tmp/lvx/p/o.qcow2</key>
  <capacity unit='bytes'>1048576</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196616</physical>
  <target>
    <path>/tmp/lvx/p/o.qcow2</path>
    <format type='qcow2'/>
  </target>
  <backingStore>
    <path>/tmp/lvx/p/a.qcow2</path>
    <format type='qcow2'/>
  </backingStore>
</volume>
"""


def pool_want(**params):
    params.setdefault("pool", "images")
    return build_want(params)


def vol_want(**params):
    params.setdefault("pool", "images")
    params.setdefault("volume", "disk")
    return build_want(params)


def have_pool(state="active", autostart=False, persistent=True, volumes=None, **spec):
    full = {"type": "dir", "target_path": "/srv/images", "source_device": None, "source_format": None,
            "target_mode": None, "target_owner": None, "target_group": None}
    full.update(spec)
    return {"state": state, "autostart": autostart, "persistent": persistent, "spec": full,
            "uuid": "e928fd32-f31f-4ec6-8280-5ad62fb01f1b", "volumes": volumes}


def have_vol(fmt="raw", capacity=M, backing=None, bfmt=None, physical=None):
    return {"name": "disk", "path": "/srv/images/disk", "format": fmt, "capacity": capacity,
            "allocation": 0, "physical": physical, "backing_path": backing, "backing_format": bfmt}


TARGET_MISSING = {"exists": False, "path": "/srv/images"}
TARGET_0711 = {"exists": True, "path": "/srv/images", "target_mode": 0o711, "target_owner": 0, "target_group": 0}


def kinds(the_plan):
    return [a.kind for a in the_plan.actions]


# --------------------------------------------------------------------------- validation

def test_pool_or_volume_want():
    assert isinstance(pool_want(target_path="/srv/images"), PoolWant)
    assert isinstance(vol_want(capacity="1G"), VolumeWant)


def test_pool_want_keeps_only_what_was_set():
    w = pool_want(target_path="/srv/images/", state="active", target_mode="0711")
    assert w.spec == {"target_path": "/srv/images", "target_mode": 0o711}
    assert w.build is True and w.autostart is None


@pytest.mark.parametrize("params,fragment", [
    ({"capacity": "1G"}, "describe a volume: set volume"),
    ({"target_path": "images"}, "absolute path"),
    ({"source_device": "/dev/vdb", "target_path": "/srv"}, "set pool_type: fs"),
    ({"pool_type": "fs", "source_device": "vdb"}, "absolute device path"),
    ({"pool_type": "logical"}, "not supported"),
    ({"target_mode": "rwx"}, "octal string"),
    ({"target_mode": "17777"}, "out of range"),
    ({"target_owner": -5}, ">= 0"),
    ({"delete_volumes": True}, "applies to state: absent"),
    ({"state": "wiped"}, "not valid for a pool"),
    ({"pool": "a/b"}, "without '/'"),
])
def test_pool_want_rejects_with_a_hint(params, fragment):
    with pytest.raises(ValidationError) as err:
        pool_want(**params)
    assert fragment in str(err.value)


@pytest.mark.parametrize("params,fragment", [
    ({"state": "active"}, "applies to pools"),
    ({"target_path": "/srv"}, "describe the pool"),
    ({"autostart": True}, "describe the pool"),
    ({"delete_volumes": True, "state": "absent"}, "describe the pool"),
    ({"capacity": "1000"}, "multiple of 1024"),
    ({"capacity": "1GB"}, "decimal unit"),
    ({"clone_from": "a", "upload_src": "/b"}, "only one of"),
    ({"upload_src": "b.img"}, "absolute path"),
    ({"upload_src": "/b.img", "capacity": "1G"}, "capacity is taken from upload_src"),
    ({"backing_volume": "base", "format": "raw"}, "raw volume cannot have a backing"),
    ({"backing_volume": "disk"}, "must differ"),
    ({"clone_from": "disk"}, "must differ"),
    ({"wipe": True}, "applies to state: absent"),
    ({"format": "vmdk"}, "not supported"),
    ({"volume": "a/b"}, "without '/'"),
])
def test_volume_want_rejects_with_a_hint(params, fragment):
    with pytest.raises(ValidationError) as err:
        vol_want(**params)
    assert fragment in str(err.value)


def test_volume_want_backing_implies_qcow2():
    assert vol_want(backing_volume="base").format == "qcow2"
    assert vol_want(capacity="2G").capacity == 2 * 1024 ** 3


def test_parse_mode():
    assert parse_mode("0711") == 0o711
    assert parse_mode("750") == 0o750
    assert parse_mode(None) is None


# --------------------------------------------------------------------------- XML

def test_compile_dir_pool_xml():
    xml = compile_pool_xml("images", {"type": "dir", "target_path": "/srv/images", "target_mode": 0o711,
                                      "target_owner": 64055, "target_group": 64055})
    root = ET.fromstring(xml)
    assert root.tag == "pool" and root.get("type") == "dir"
    assert root.findtext("name") == "images"
    assert root.find("source") is None and root.find("uuid") is None
    assert root.findtext("target/path") == "/srv/images"
    assert root.findtext("target/permissions/mode") == "0711"
    assert root.findtext("target/permissions/owner") == "64055"
    assert root.findtext("target/permissions/group") == "64055"


def test_compile_fs_pool_xml():
    xml = compile_pool_xml("scratch", {"type": "fs", "target_path": "/srv/scratch", "source_device": "/dev/vdb1",
                                       "source_format": "ext4"}, uuid="0f6c7e0e-8c5a-4a53-9d2f-6f3c3e1c0b7a")
    root = ET.fromstring(xml)
    assert root.get("type") == "fs"
    assert root.find("source/device").get("path") == "/dev/vdb1"
    assert root.find("source/format").get("type") == "ext4"
    assert root.findtext("target/path") == "/srv/scratch"
    assert root.findtext("uuid") == "0f6c7e0e-8c5a-4a53-9d2f-6f3c3e1c0b7a"
    assert root.find("target/permissions") is None


def test_compile_fs_pool_defaults_to_auto_format():
    root = ET.fromstring(compile_pool_xml("s", {"type": "fs", "target_path": "/m", "source_device": "/dev/vdb"}))
    assert root.find("source/format").get("type") == "auto"


@pytest.mark.parametrize("spec,fragment", [
    ({"type": "dir"}, "target_path is required"),
    ({"type": "fs", "target_path": "/m"}, "source_device is required"),
])
def test_compile_pool_xml_needs(spec, fragment):
    with pytest.raises(ValidationError) as err:
        compile_pool_xml("p", spec)
    assert fragment in str(err.value)


def test_parse_libvirt_dir_pool_xml():
    name, uuid, spec = parse_pool_xml(LIBVIRT_DIR_POOL)
    assert name == "ostk-test-x" and uuid == "e928fd32-f31f-4ec6-8280-5ad62fb01f1b"
    assert spec == {"type": "dir", "target_path": "/tmp/lvx/p", "source_device": None, "source_format": None,
                    "target_mode": 0o750, "target_owner": 0, "target_group": 0}


def test_parse_libvirt_fs_pool_xml_ignores_unset_ids_and_trailing_slash():
    _, _, spec = parse_pool_xml(LIBVIRT_FS_POOL)
    assert spec["type"] == "fs" and spec["source_device"] == "/dev/vdb1" and spec["source_format"] == "ext4"
    assert spec["target_path"] == "/srv/scratch"
    assert spec["target_owner"] is None and spec["target_group"] is None


def test_pool_xml_round_trip():
    spec = {"type": "fs", "target_path": "/srv/scratch", "source_device": "/dev/vdb1", "source_format": "xfs",
            "target_mode": 0o750, "target_owner": 1, "target_group": 2}
    name, uuid, parsed = parse_pool_xml(compile_pool_xml("scratch", spec))
    assert name == "scratch" and uuid is None and parsed == spec


def test_compile_volume_xml():
    root = ET.fromstring(compile_volume_xml("vm1.qcow2", 10 * M, "qcow2", "/srv/images/base.qcow2", "raw"))
    assert root.findtext("name") == "vm1.qcow2"
    assert root.find("capacity").get("unit") == "bytes" and root.findtext("capacity") == str(10 * M)
    assert root.findtext("allocation") == "0"
    assert root.find("target/format").get("type") == "qcow2"
    assert root.findtext("backingStore/path") == "/srv/images/base.qcow2"
    assert root.find("backingStore/format").get("type") == "raw"
    assert ET.fromstring(compile_volume_xml("d", M, "raw")).find("backingStore") is None


def test_parse_libvirt_volume_xml():
    assert parse_volume_xml(LIBVIRT_OVERLAY_VOLUME) == {
        "name": "o.qcow2", "path": "/tmp/lvx/p/o.qcow2", "format": "qcow2", "capacity": 1048576,
        "allocation": 200704, "physical": 196616, "backing_path": "/tmp/lvx/p/a.qcow2", "backing_format": "qcow2"}


# --------------------------------------------------------------------------- pool plans

def test_new_active_pool():
    w = pool_want(target_path="/srv/images", state="active", autostart=True)
    p = plan_pool(w, None, TARGET_MISSING)
    assert kinds(p) == ["define", "build", "start", "autostart"]
    assert "<path>/srv/images</path>" in p.actions[0].data["xml"]
    assert p.before == {"state": "absent"}
    assert p.after == {"state": "active", "autostart": True, "target_path": "/srv/images"}


def test_new_pool_needs_target_path():
    with pytest.raises(ValidationError):
        plan_pool(pool_want(state="active"), None, TARGET_MISSING)


def test_new_pool_without_build_on_existing_target():
    p = plan_pool(pool_want(target_path="/srv/images", build=False), None, TARGET_0711)
    assert kinds(p) == ["define"]


def test_existing_pool_in_wanted_state_is_unchanged():
    w = pool_want(target_path="/srv/images", state="active", autostart=True, target_mode="0711")
    p = plan_pool(w, have_pool(autostart=True, target_mode=0o711, target_owner=0, target_group=0), TARGET_0711)
    assert not p.changed and p.before == p.after


@pytest.mark.parametrize("have_state,want_state,expected", [
    ("inactive", "active", ["start"]),
    ("active", "inactive", ["stop"]),
    ("active", "present", []),
    ("inactive", "present", []),
])
def test_pool_start_stop(have_state, want_state, expected):
    p = plan_pool(pool_want(state=want_state), have_pool(state=have_state), TARGET_0711)
    assert kinds(p) == expected


def test_autostart_off():
    p = plan_pool(pool_want(autostart=False), have_pool(autostart=True), TARGET_0711)
    assert kinds(p) == ["autostart"] and p.actions[0].data["value"] is False
    assert p.before["autostart"] is True and p.after["autostart"] is False


def test_inactive_pool_with_missing_target_is_built_before_start():
    p = plan_pool(pool_want(state="active"), have_pool(state="inactive"), TARGET_MISSING)
    assert kinds(p) == ["build", "start"]
    p = plan_pool(pool_want(state="active", build=False), have_pool(state="inactive"), TARGET_MISSING)
    assert kinds(p) == ["start"]


def test_changed_target_path_redefines_with_same_uuid_and_warns_when_active():
    w = pool_want(target_path="/srv/other", state="active")
    p = plan_pool(w, have_pool(), {"exists": True, "path": "/srv/other", "target_mode": 0o755,
                                   "target_owner": 0, "target_group": 0})
    assert kinds(p) == ["redefine"]
    root = ET.fromstring(p.actions[0].data["xml"])
    assert root.findtext("uuid") == "e928fd32-f31f-4ec6-8280-5ad62fb01f1b"
    assert root.findtext("target/path") == "/srv/other"
    assert p.warnings and "next started" in p.warnings[0]
    assert p.before["target_path"] == "/srv/images" and p.after["target_path"] == "/srv/other"


def test_pool_type_change_is_refused():
    with pytest.raises(ConflictError) as err:
        plan_pool(pool_want(pool_type="fs", source_device="/dev/vdb"), have_pool(), TARGET_0711)
    assert "remove it first" in str(err.value)


def test_permissions_are_applied_to_the_existing_target():
    w = pool_want(target_mode="0750")
    p = plan_pool(w, have_pool(target_mode=0o711), TARGET_0711)
    assert kinds(p) == ["redefine", "chmod"]
    assert p.actions[1].data == {"path": "/srv/images", "perms": {"target_mode": 0o750}}
    assert p.before["target_mode"] == "0711" and p.after["target_mode"] == "0750"
    assert not p.warnings  # permissions are applied now, not at the next start


def test_permissions_on_disk_win_over_the_definition():
    # The definition already says 0750 but the directory is 0711: only the directory changes.
    p = plan_pool(pool_want(target_mode="0750"), have_pool(target_mode=0o750), TARGET_0711)
    assert kinds(p) == ["chmod"]


def test_perm_differences():
    assert perm_differences({"target_mode": 0o711}, TARGET_0711) == []
    assert perm_differences({"target_owner": 5}, TARGET_0711) == [("target_owner", 0, 5)]
    assert perm_differences({"target_owner": 5}, TARGET_MISSING) == []


def test_spec_differences_only_for_what_was_set():
    have = have_pool()["spec"]
    assert spec_differences({}, have) == []
    assert spec_differences({"target_path": "/srv/images"}, have) == []
    assert spec_differences({"type": "fs"}, have) == [("type", "dir", "fs")]


def test_absent_pool_keeps_volumes_by_default():
    p = plan_pool(pool_want(state="absent"), have_pool(volumes=["a", "b"]), TARGET_0711)
    assert kinds(p) == ["stop", "undefine"]
    assert p.before == {"state": "active"} and p.after == {"state": "absent"}


def test_absent_inactive_pool_only_undefines():
    assert kinds(plan_pool(pool_want(state="absent"), have_pool(state="inactive"), TARGET_0711)) == ["undefine"]


def test_absent_transient_pool_is_only_stopped():
    assert kinds(plan_pool(pool_want(state="absent"), have_pool(persistent=False), TARGET_0711)) == ["stop"]


def test_absent_with_delete_volumes():
    p = plan_pool(pool_want(state="absent", delete_volumes=True), have_pool(volumes=["a", "b"]), TARGET_0711)
    assert kinds(p) == ["delete_volume", "delete_volume", "stop", "delete_target", "undefine"]
    assert p.before["volumes"] == ["a", "b"] and p.after["volumes"] == []


def test_absent_with_delete_volumes_starts_an_inactive_pool():
    p = plan_pool(pool_want(state="absent", delete_volumes=True), have_pool(state="inactive"), TARGET_0711)
    assert kinds(p) == ["start", "delete_volumes", "stop", "delete_target", "undefine"]
    p = plan_pool(pool_want(state="absent", delete_volumes=True), have_pool(state="inactive"), TARGET_MISSING)
    assert kinds(p) == ["undefine"]


def test_absent_missing_pool_is_unchanged():
    p = plan_pool(pool_want(state="absent"), None, TARGET_MISSING)
    assert not p.changed


def test_pool_info_never_changes():
    assert not plan_pool(pool_want(state="info"), have_pool(), TARGET_0711).changed
    assert not plan_pool(pool_want(state="info"), None, TARGET_MISSING).changed


# --------------------------------------------------------------------------- volume plans

def test_create_volume():
    p = plan_volume(vol_want(capacity="1M", format="qcow2"), None)
    assert kinds(p) == ["create"]
    root = ET.fromstring(p.actions[0].data["xml"])
    assert root.findtext("capacity") == str(M) and root.find("target/format").get("type") == "qcow2"
    assert p.before == {"state": "absent"}
    assert p.after == {"state": "present", "capacity": M, "format": "qcow2"}


def test_create_volume_defaults_to_raw_and_needs_capacity():
    p = plan_volume(vol_want(capacity="1M"), None)
    assert ET.fromstring(p.actions[0].data["xml"]).find("target/format").get("type") == "raw"
    with pytest.raises(ValidationError) as err:
        plan_volume(vol_want(), None)
    assert "set capacity" in str(err.value)


def test_existing_volume_is_unchanged():
    p = plan_volume(vol_want(capacity="1M", format="raw"), have_vol())
    assert not p.changed and p.before == p.after == {"state": "present", "capacity": M, "format": "raw"}


def test_grow_volume():
    p = plan_volume(vol_want(capacity="2M"), have_vol())
    assert kinds(p) == ["resize"] and p.actions[0].data["capacity"] == 2 * M
    assert p.before["capacity"] == M and p.after["capacity"] == 2 * M


def test_shrink_volume_is_refused():
    with pytest.raises(ConflictError) as err:
        plan_volume(vol_want(capacity="512K"), have_vol())
    assert "never shrunk" in str(err.value)


def test_volume_format_difference_is_refused_then_forced():
    with pytest.raises(ConflictError) as err:
        plan_volume(vol_want(format="qcow2"), have_vol())
    assert "format is raw, wanted qcow2" in str(err.value) and "force: true" in str(err.value)
    p = plan_volume(vol_want(format="qcow2", capacity="1M", force=True), have_vol())
    assert kinds(p) == ["delete_volume", "create"]


def test_backing_volume():
    base = have_vol(fmt="qcow2", capacity=4 * M)
    base["path"] = "/srv/images/base"
    p = plan_volume(vol_want(backing_volume="base"), None, source=base)
    root = ET.fromstring(p.actions[0].data["xml"])
    assert root.findtext("backingStore/path") == "/srv/images/base"
    assert root.find("backingStore/format").get("type") == "qcow2"
    assert root.findtext("capacity") == str(4 * M)
    overlay = have_vol(fmt="qcow2", capacity=4 * M, backing="/srv/images/base", bfmt="qcow2")
    assert not plan_volume(vol_want(backing_volume="base"), overlay, source=base).changed
    with pytest.raises(ConflictError) as err:
        plan_volume(vol_want(backing_volume="base"), have_vol(fmt="qcow2"), source=base)
    assert "backing volume is none" in str(err.value)


def test_clone():
    src = have_vol(fmt="qcow2", capacity=2 * M)
    p = plan_volume(vol_want(clone_from="base"), None, source=src)
    assert kinds(p) == ["clone"] and p.actions[0].data["source"] == "base"
    assert ET.fromstring(p.actions[0].data["xml"]).find("target/format").get("type") == "qcow2"
    p = plan_volume(vol_want(clone_from="base", capacity="4M"), None, source=src)
    assert kinds(p) == ["clone", "resize"]
    with pytest.raises(ConflictError):
        plan_volume(vol_want(clone_from="base", capacity="1M"), None, source=src)
    # an existing clone is not compared with its source
    assert not plan_volume(vol_want(clone_from="base"), have_vol(fmt="qcow2"), source=src).changed


def test_upload_new_and_identical_and_different():
    w = vol_want(upload_src="/srv/up.img")
    p = plan_volume(w, None, upload={"size": 300000, "sha256": "aa", "volume_sha256": None})
    assert kinds(p) == ["create", "upload"]
    assert p.actions[1].data == {"path": "/srv/up.img", "size": 300000}
    assert p.after["content_sha256"] == "aa"
    same = {"size": 300000, "sha256": "aa", "volume_sha256": "aa"}
    assert not plan_volume(w, have_vol(capacity=300000), upload=same).changed
    other = {"size": 300000, "sha256": "aa", "volume_sha256": "bb"}
    with pytest.raises(ConflictError) as err:
        plan_volume(w, have_vol(capacity=300000), upload=other)
    assert "content differs from /srv/up.img" in str(err.value)
    forced = plan_volume(vol_want(upload_src="/srv/up.img", force=True), have_vol(capacity=300000), upload=other)
    assert kinds(forced) == ["delete_volume", "create", "upload"]
    assert forced.before["content_sha256"] == "bb" and forced.after["content_sha256"] == "aa"


def test_volume_absent():
    assert kinds(plan_volume(vol_want(state="absent"), have_vol())) == ["delete_volume"]
    assert kinds(plan_volume(vol_want(state="absent", wipe=True), have_vol())) == ["wipe", "delete_volume"]
    assert not plan_volume(vol_want(state="absent"), None).changed


def test_volume_info_never_changes():
    assert not plan_volume(vol_want(state="info"), have_vol()).changed


# --------------------------------------------------------------------------- argument spec and docs

def _validate(params):
    kwargs = dict(module_file.MODULE_ARGS)
    spec = kwargs.pop("argument_spec")
    return ArgumentSpecValidator(spec, **kwargs).validate(params)


@pytest.mark.parametrize("params,fragment", [
    ({"pool": "p", "volume": "v", "clone_from": "a", "upload_src": "/b"}, "mutually exclusive"),
    ({"pool": "p", "volume": "v", "delete_volumes": True}, "mutually exclusive"),
    ({"pool": "p", "pool_type": "fs"}, "source_device"),
    ({"pool": "p", "wipe": True}, "volume"),
    ({"pool": "p", "capacity": "1G"}, "volume"),
    ({"pool": "p", "state": "wiped"}, "must be one of"),
    ({"volume": "v"}, "pool"),
])
def test_argument_spec_rejects(params, fragment):
    result = _validate(params)
    assert result.error_messages, params
    assert any(fragment in m for m in result.error_messages), result.error_messages


def test_argument_spec_accepts_pool_and_volume_tasks():
    assert not _validate({"name": "p", "target_path": "/srv", "state": "active", "autostart": True}).error_messages
    assert not _validate({"pool": "p", "volume": "v", "capacity": "1G", "format": "qcow2"}).error_messages


def test_documentation_matches_argument_spec(documentation_matches_argument_spec):
    assert {"actions", "pool", "volume"} <= set(documentation_matches_argument_spec(module_file))
