"""Integration tests of library/cloud_init_seed.py: real ansible-playbook runs on this machine, real
ISO files, read back with isoinfo (genisoimage's companion) and by reading the volume descriptor.

Every state change runs check -> real -> check (changed / changed / unchanged), in one ansible-playbook
run (module_runs.py). Files live under pytest's tmp_path.
"""
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from module_runs import OneRunModuleTask

HERE = os.path.dirname(os.path.abspath(__file__))
APPLY = os.path.join(HERE, "playbooks", "qemu_guest_cloud_init_seed.yml")
ISOINFO = shutil.which("isoinfo")


SEED = OneRunModuleTask("cloud_init_seed", APPLY, "seed_args")
apply, converge = SEED.apply, SEED.converge


def volume_and_app_id(path):
    with open(path, "rb") as handle:
        handle.seek(16 * 2048)
        pvd = handle.read(2048)
    return pvd[40:72].decode().strip(), pvd[574:702].decode().strip()


def iso_file(path, name):
    return subprocess.run([ISOINFO, "-R", "-x", "/" + name, "-i", path], check=True, capture_output=True).stdout


def iso_names(path):
    out = subprocess.run([ISOINFO, "-R", "-f", "-i", path], check=True, capture_output=True, text=True).stdout
    return sorted(out.split())


USER = {"users": [{"name": "debian", "ssh_authorized_keys": ["ssh-ed25519 AAAAC3Nza test@example"]}]}
META = {"instance-id": "web1-1", "local-hostname": "web1"}
NET = {"version": 2, "ethernets": {"primary": {"match": {"name": "e*"}, "dhcp4": True}}}


@pytest.mark.parametrize("builder", ["pycdlib", "genisoimage"])
def test_content_named_seed_changes_only_with_content(tmp_path, builder):
    args = {"directory": str(tmp_path), "name": "web1-seed", "user_data": USER, "meta_data": META,
            "network_config": NET, "builder": builder, "mode": "0644"}
    first, second, third = converge(args)
    path = second["path"]
    assert first["path"] == path == third["path"]
    assert os.path.basename(path) == "web1-seed-%s.iso" % second["sha256"][:12]
    assert second["builder"] == builder and second["files"] == ["meta-data", "network-config", "user-data"]
    assert first["diff"]["before"]["exists"] is False and first["diff"]["after"]["exists"] is True
    assert volume_and_app_id(path) == ("cidata", "sha256:" + second["sha256"][:56])
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    if ISOINFO:
        assert iso_names(path) == ["/meta-data", "/network-config", "/user-data"]
        assert iso_file(path, "user-data").startswith(b"#cloud-config\n")
        assert json.loads(iso_file(path, "meta-data")) == META
        assert json.loads(iso_file(path, "network-config")) == NET

    # the same content later: same file, untouched (the ISO's own timestamps do not matter)
    mtime = os.stat(path).st_mtime
    time.sleep(1.1)
    _, again = apply(args)
    assert again["changed"] is False and os.stat(path).st_mtime == mtime

    # new content: a new file next to the old one; prune removes the old one
    changed = dict(args, meta_data=dict(META, **{"instance-id": "web1-2"}), prune=True)
    first, second, third = converge(changed)
    assert second["path"] != path and first["pruned"] == [path] == second["pruned"]
    assert not os.path.exists(path) and os.path.exists(second["path"])
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(second["path"])], "no scratch files left"

    converge({"directory": str(tmp_path), "name": "web1-seed", "state": "absent"})
    assert os.listdir(tmp_path) == []


def test_fixed_dest_is_rebuilt_when_the_recorded_hash_differs(tmp_path):
    dest = str(tmp_path / "seed.iso")
    args = {"dest": dest, "user_data": "#!/bin/sh\necho one\n", "meta_data": "instance-id: fixed-1\n"}
    _, second, _ = converge(args)
    assert second["path"] == dest
    digest = hashlib.sha256(open(dest, "rb").read()).hexdigest()
    first, second, third = converge(dict(args, user_data="#!/bin/sh\necho two\n"))
    assert first["diff"]["before"]["sha256"] != first["diff"]["after"]["sha256"]
    assert hashlib.sha256(open(dest, "rb").read()).hexdigest() != digest
    if ISOINFO:
        assert iso_file(dest, "user-data") == b"#!/bin/sh\necho two\n"
    # a file that is not a seed at dest is replaced by one
    with open(dest, "wb") as handle:
        handle.write(b"\0" * 65536)
    converge(dict(args, user_data="#!/bin/sh\necho two\n"))
    assert volume_and_app_id(dest)[0] == "cidata"
    converge({"dest": dest, "state": "absent"})
    assert not os.path.exists(dest)


def test_genisoimage_and_pycdlib_seeds_are_the_same_seed(tmp_path):
    """The identity is the inputs' hash, so a seed built by one builder satisfies the other."""
    args = {"dest": str(tmp_path / "s.iso"), "user_data": USER, "meta_data": META, "builder": "genisoimage"}
    apply(args)
    _, res = apply(dict(args, builder="pycdlib"))
    assert res["changed"] is False


def test_errors(tmp_path):
    run, res = apply({"directory": str(tmp_path / "missing"), "name": "x", "meta_data": META})
    assert run.rc != 0 and "does not exist" in res["msg"]
    run, res = apply({"directory": str(tmp_path), "name": "../x", "meta_data": META})
    assert run.rc != 0 and "invalid seed name" in res["msg"]
    run, res = apply({"dest": str(tmp_path / "x.iso"), "user_data": USER})
    assert run.rc != 0 and "meta_data is required" in res["msg"]
    run, res = apply({"dest": str(tmp_path / "x.iso"), "directory": str(tmp_path), "meta_data": META})
    assert run.rc != 0 and "mutually exclusive" in res["msg"]
    assert os.listdir(tmp_path) == []
