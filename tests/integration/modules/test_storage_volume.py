"""Integration tests of library/storage_volume.py: real ansible-playbook runs against a real libvirtd.

Pools live under pytest's tmp_path and are named ostk-test-sv<pid>-*; every test removes the pools
it made (virsh) even when it fails. Every state change runs check -> real -> check
(changed / changed / unchanged; the three runs share one ansible-playbook start: module_runs.py) and is
then verified with virsh, qemu-img or the file system.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_runner import run_playbook
from module_runs import OneRunModuleTask

HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = os.path.join(HERE, "inventory.ini")
APPLY = os.path.join(HERE, "playbooks", "storage_volume_apply.yml")
IMAGE_POOL = os.path.join(HERE, "playbooks", "storage_volume_image_pool.yml")
PREFIX = "ostk-test-sv%d-" % os.getpid()
M = 1024 ** 2


def virsh(*args, check=True):
    proc = subprocess.run(["virsh", "-c", "qemu:///system"] + list(args), capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def pool_info(name):
    """virsh pool-info as a dict, or None when the pool does not exist."""
    proc = virsh("pool-info", name, check=False)
    if proc.returncode != 0:
        return None
    return dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in proc.stdout.splitlines()) if v)


def vol_xml(pool, vol):
    return virsh("vol-dumpxml", "--pool", pool, vol).stdout


def vol_exists(pool, vol):
    return virsh("vol-info", "--pool", pool, vol, check=False).returncode == 0


def qemu_info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def sha256_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


STORAGE_VOLUME = OneRunModuleTask("storage_volume", APPLY, "storage_volume_args")
apply, converge = STORAGE_VOLUME.apply, STORAGE_VOLUME.converge


def fails(args, extra=None):
    return STORAGE_VOLUME.fails(args, extra=extra)["msg"]


@pytest.fixture
def pools(libvirtd, tmp_path):
    """Yields a factory of (pool name, target dir); removes every such pool and dir afterwards."""
    made = []

    def make(suffix):
        name = PREFIX + suffix
        made.append(name)
        return name, str(tmp_path / suffix)

    yield make
    for name in made:
        if pool_info(name) is not None:
            virsh("pool-destroy", name, check=False)
            virsh("pool-undefine", name, check=False)
        assert pool_info(name) is None
    shutil.rmtree(str(tmp_path), ignore_errors=True)


@pytest.fixture
def active_pool(pools):
    name, target = pools("vols")
    run, res = apply({"pool": name, "target_path": target, "state": "active"})
    assert run.rc == 0 and res["changed"], run
    return name, target


def test_dir_pool_lifecycle(pools):
    name, target = pools("life")
    args = {"pool": name, "pool_type": "dir", "target_path": target, "state": "active", "autostart": True}
    first, second, third = converge(args)
    assert first["actions"] == ["define dir pool %s with target %s" % (name, target),
                                "build pool %s (create %s)" % (name, target),
                                "start pool %s" % name,
                                "set autostart of pool %s on" % name]
    assert first["diff"]["before"] == {"state": "absent"}
    assert first["diff"]["after"] == {"state": "active", "autostart": True, "type": "dir", "target_path": target}
    assert second["pool"]["state"] == "active" and second["pool"]["uuid"]
    assert third["actions"] == []
    info = pool_info(name)
    assert info["State"] == "running" and info["Autostart"] == "yes" and info["Persistent"] == "yes"
    assert os.path.isdir(target)

    first, _, _ = converge({"pool": name, "state": "inactive", "autostart": False})
    assert first["actions"] == ["stop pool %s" % name, "set autostart of pool %s off" % name]
    info = pool_info(name)
    assert info["State"] == "inactive" and info["Autostart"] == "no"

    first, _, _ = converge({"pool": name, "state": "active", "target_mode": "0750"})
    assert first["diff"]["before"]["target_mode"] == "0711" and first["diff"]["after"]["target_mode"] == "0750"
    assert oct(os.stat(target).st_mode & 0o7777) == "0o750"
    assert "<mode>0750</mode>" in virsh("pool-dumpxml", "--inactive", name).stdout
    assert pool_info(name)["State"] == "running"

    # a volume made outside the module survives the pool's removal (delete_volumes is false)
    virsh("vol-create-as", name, "keep.raw", "1M", "--format", "raw")
    first, _, _ = converge({"pool": name, "state": "absent"})
    assert first["actions"] == ["stop pool %s" % name, "undefine pool %s" % name]
    assert pool_info(name) is None
    assert os.path.isfile(os.path.join(target, "keep.raw"))

    run, res = apply({"pool": name, "state": "absent"})
    assert run.rc == 0 and res["changed"] is False


def test_pool_absent_with_delete_volumes(pools):
    name, target = pools("del")
    run, _ = apply({"pool": name, "target_path": target, "state": "active"})
    assert run.rc == 0
    virsh("vol-create-as", name, "a.raw", "1M", "--format", "raw")
    virsh("vol-create-as", name, "b.qcow2", "1M", "--format", "qcow2")
    first, _, _ = converge({"pool": name, "state": "absent", "delete_volumes": True})
    assert first["actions"] == ["delete volume %s/a.raw" % name, "delete volume %s/b.qcow2" % name,
                                "stop pool %s" % name, "delete the target %s of pool %s" % (target, name),
                                "undefine pool %s" % name]
    assert first["diff"]["before"]["volumes"] == ["a.raw", "b.qcow2"]
    assert pool_info(name) is None
    assert not os.path.exists(target)


def test_fs_pool_definition(pools, tmp_path):
    name, target = pools("fs")
    device = str(tmp_path / "fs.img")  # never mounted here: the pool is only defined
    args = {"pool": name, "pool_type": "fs", "source_device": device, "source_format": "ext4",
            "target_path": target, "state": "present", "build": False}
    first, _, _ = converge(args)
    assert first["actions"] == ["define fs pool %s with target %s" % (name, target)]
    xml = virsh("pool-dumpxml", name).stdout
    assert "<pool type='fs'>" in xml and "<device path='%s'/>" % device in xml and "<format type='ext4'/>" in xml
    assert pool_info(name)["State"] == "inactive"
    assert not os.path.exists(target)

    msg = fails({"pool": name, "pool_type": "dir", "target_path": target})
    assert "is of type fs, not dir" in msg
    converge({"pool": name, "state": "absent"})
    assert pool_info(name) is None


def test_volume_create_grow_and_refuse_shrink(active_pool):
    pool, target = active_pool
    args = {"pool": pool, "volume": "data.raw", "capacity": "1M"}
    first, second, _ = converge(args)
    assert first["actions"] == ["create volume %s/data.raw (raw, %d bytes)" % (pool, M)]
    assert first["diff"]["after"] == {"state": "present", "capacity": M, "format": "raw"}
    assert second["volume"]["capacity"] == M and second["volume"]["exists"] is True
    assert "<capacity unit='bytes'>%d</capacity>" % M in vol_xml(pool, "data.raw")

    first, _, _ = converge(dict(args, capacity="2M"))
    assert first["actions"] == ["resize volume %s/data.raw to %d bytes" % (pool, 2 * M)]
    assert os.path.getsize(os.path.join(target, "data.raw")) == 2 * M

    msg = fails(dict(args, capacity="1M"))
    assert "never shrunk" in msg
    assert os.path.getsize(os.path.join(target, "data.raw")) == 2 * M

    msg = fails(dict(args, format="qcow2"))
    assert "format is raw, wanted qcow2" in msg and "force: true" in msg
    assert qemu_info(os.path.join(target, "data.raw"))["format"] == "raw"

    run, res = apply({"pool": pool, "volume": "data.raw", "state": "info"})
    assert run.rc == 0 and res["changed"] is False and res["volume"]["capacity"] == 2 * M


def test_qcow2_backing_and_clone(active_pool):
    pool, target = active_pool
    converge({"pool": pool, "volume": "base.qcow2", "capacity": "4M", "format": "qcow2"})
    first, _, _ = converge({"pool": pool, "volume": "vm1.qcow2", "backing_volume": "base.qcow2", "capacity": "8M"})
    assert first["diff"]["after"]["backing_path"] == os.path.join(target, "base.qcow2")
    info = qemu_info(os.path.join(target, "vm1.qcow2"))
    assert info["format"] == "qcow2" and info["virtual-size"] == 8 * M
    assert info["full-backing-filename"] == os.path.join(target, "base.qcow2")
    assert info["backing-filename-format"] == "qcow2"

    first, _, _ = converge({"pool": pool, "volume": "copy.qcow2", "clone_from": "base.qcow2"})
    assert first["actions"] == ["clone volume %s/base.qcow2 to %s/copy.qcow2 (qcow2)" % (pool, pool)]
    assert subprocess.run(["qemu-img", "compare", "-q", os.path.join(target, "base.qcow2"),
                           os.path.join(target, "copy.qcow2")]).returncode == 0

    msg = fails({"pool": pool, "volume": "vm2.qcow2", "backing_volume": "nope.qcow2"})
    assert "volume %s/nope.qcow2 (backing_volume) does not exist" % pool in msg
    assert not vol_exists(pool, "vm2.qcow2")


def test_upload_force_and_wipe(active_pool, tmp_path):
    pool, target = active_pool
    src = str(tmp_path / "upload.bin")
    with open(src, "wb") as handle:
        handle.write(os.urandom(300 * 1024 + 17))
    args = {"pool": pool, "volume": "up.raw", "upload_src": src}
    first, _, _ = converge(args)
    assert first["actions"][1].startswith("upload %s to volume %s/up.raw" % (src, pool))
    assert first["diff"]["after"]["content_sha256"] == sha256_file(src)
    assert sha256_file(os.path.join(target, "up.raw")) == sha256_file(src)

    with open(src, "wb") as handle:
        handle.write(os.urandom(300 * 1024 + 17))
    volume_before = sha256_file(os.path.join(target, "up.raw"))
    msg = fails(args)
    assert "content differs from %s" % src in msg and "force: true" in msg
    assert sha256_file(os.path.join(target, "up.raw")) == volume_before

    first, _, _ = converge(dict(args, force=True))
    assert first["actions"][0] == "delete volume %s/up.raw" % pool
    assert sha256_file(os.path.join(target, "up.raw")) == sha256_file(src)

    first, _, _ = converge({"pool": pool, "volume": "up.raw", "state": "absent", "wipe": True})
    assert first["actions"] == ["wipe volume %s/up.raw" % pool, "delete volume %s/up.raw" % pool]
    assert not vol_exists(pool, "up.raw") and not os.path.exists(os.path.join(target, "up.raw"))


def test_pool_info_lists_volumes(active_pool):
    pool, target = active_pool
    virsh("vol-create-as", pool, "x.raw", "1M", "--format", "raw")
    for check in (True, False):
        run, res = apply({"pool": pool, "state": "info"}, check=check)
        assert run.rc == 0 and res["changed"] is False
        assert res["pool"]["target_path"] == target and res["pool"]["state"] == "active"
        assert [v["name"] for v in res["pool"]["volumes"]] == ["x.raw"]
        assert res["pool"]["volumes"][0]["capacity"] == M


def test_errors_name_what_to_fix(active_pool, pools):
    pool, _ = active_pool
    missing = PREFIX + "missing"
    msg = fails({"pool": missing, "volume": "v.raw", "capacity": "1M"})
    assert "pool %s does not exist" % missing in msg and "state: active" in msg

    run, res = apply({"pool": missing, "volume": "v.raw", "state": "absent"})
    assert run.rc == 0 and res["changed"] is False

    name, target = pools("idle")
    assert apply({"pool": name, "target_path": target, "state": "present"})[0].rc == 0
    msg = fails({"pool": name, "volume": "v.raw", "capacity": "1M"})
    assert "pool %s is inactive" % name in msg

    uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    msg = fails({"pool": pool, "state": "info", "uri": uri})
    assert uri in msg and "libvirtd" in msg

    msg = fails({"pool": pool, "volume": "v.raw", "capacity": "1000"})
    assert "multiple of 1024" in msg


def test_missing_python_binding_is_reported(active_pool):
    """The venv's interpreter has no libvirt module: the module must say which package to install."""
    pool, _ = active_pool
    probe = subprocess.run([sys.executable, "-c", "import libvirt"], capture_output=True)
    assert probe.returncode != 0, "this test needs an interpreter without the libvirt binding"
    msg = fails({"pool": pool, "state": "info"}, extra={"ansible_python_interpreter": sys.executable})
    assert "libvirt-python (Debian: python3-libvirt)" in msg


def test_image_pool_playbook_converges_and_is_idempotent(pools, tmp_path):
    name, target = pools("images")
    base = str(tmp_path / "base-image.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "4M"], check=True)
    extra = {"image_pool_name": name, "image_pool_dir": target, "image_pool_base_image": base}
    check = run_playbook(IMAGE_POOL, inventory=INVENTORY, check=True, extra_vars=extra)
    assert check.result("Run the image pool")["changed"] is True
    assert pool_info(name) is None  # check mode defined nothing

    converge_run = run_playbook(IMAGE_POOL, inventory=INVENTORY, extra_vars=extra)
    assert converge_run.rc == 0, converge_run
    assert converge_run.changed_total() == 4
    idempotence = run_playbook(IMAGE_POOL, inventory=INVENTORY, extra_vars=extra)
    assert idempotence.rc == 0 and idempotence.changed_total() == 0, idempotence
    info = qemu_info(os.path.join(target, "guest1.qcow2"))
    assert info["full-backing-filename"] == os.path.join(target, "base.qcow2")
    assert pool_info(name)["Autostart"] == "yes"
