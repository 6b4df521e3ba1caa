"""Integration tests of library/qemu_image.py: real ansible-playbook runs, real qemu-img, real files.

Every state change runs check -> real -> check (changed / changed / unchanged) and is then
verified with qemu-img from the test itself (the three runs share one ansible-playbook start:
module_runs.py). Downloads come from file:// URLs or from an HTTP server on 127.0.0.1 that the test
starts. Everything lives under pytest's tmp_path.
"""
import functools
import hashlib
import http.server
import json
import os
import subprocess
import threading

import pytest

from ansible_runner import run_playbook
from module_runs import OneRunModuleTask

HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = os.path.join(HERE, "inventory.ini")
APPLY = os.path.join(HERE, "playbooks", "qemu_image_apply.yml")
GUEST_DISKS = os.path.join(HERE, "playbooks", "qemu_image_guest_disks.yml")
M = 1024 ** 2


QEMU_IMAGE = OneRunModuleTask("qemu_image", APPLY, "qemu_image_args")
apply, converge = QEMU_IMAGE.apply, QEMU_IMAGE.converge


def fails(args, check=False):
    return QEMU_IMAGE.fails(args, check=check)["msg"]


def qemu_info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def qemu_img(*args):
    subprocess.run(["qemu-img"] + list(args), check=True, capture_output=True)


def identical(fmt_a, a, fmt_b, b):
    return subprocess.run(["qemu-img", "compare", "-q", "-f", fmt_a, "-F", fmt_b, a, b]).returncode == 0


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def random_raw(path, size=2 * M):
    with open(path, "wb") as handle:
        handle.write(os.urandom(size))
    return sha256(path)


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith(".")]


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over HTTP on 127.0.0.1 (random port) for the duration of the test."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_create_grow_and_shrink(tmp_path):
    disk = str(tmp_path / "disk.qcow2")
    first, second, third = converge({"path": disk, "format": "qcow2", "size": "1M", "mode": "0640"})
    assert first["commands"][0].startswith("qemu-img create -q -f qcow2 ")
    assert first["diff"]["before"] == {"state": "absent"}
    assert first["diff"]["after"]["virtual_size"] == M
    assert second["commands"] == first["commands"]
    assert third["commands"] == []
    info = qemu_info(disk)
    assert info["format"] == "qcow2" and info["virtual-size"] == M
    assert oct(os.stat(disk).st_mode & 0o777) == "0o640"
    assert leftovers(str(tmp_path)) == []

    first, _, _ = converge({"path": disk, "size": "2M"})
    assert first["commands"] == ["qemu-img resize -f qcow2 %s %d" % (disk, 2 * M)]
    assert first["diff"]["before"]["virtual_size"] == M and first["diff"]["after"]["virtual_size"] == 2 * M
    assert qemu_info(disk)["virtual-size"] == 2 * M

    msg = fails({"path": disk, "size": "1M"})
    assert "allow_shrink: true" in msg
    assert qemu_info(disk)["virtual-size"] == 2 * M

    first, _, _ = converge({"path": disk, "size": "1M", "allow_shrink": True})
    assert "--shrink" in first["commands"][0]
    assert qemu_info(disk)["virtual-size"] == M


def test_check_mode_changes_nothing(tmp_path):
    disk = str(tmp_path / "disk.raw")
    run, res = apply({"path": disk, "format": "raw", "size": "1M"}, check=True)
    assert run.rc == 0 and res["changed"] and res["commands"]
    assert os.listdir(str(tmp_path)) == []


def test_format_conflict_is_refused_then_forced(tmp_path):
    disk = str(tmp_path / "disk.img")
    converge({"path": disk, "format": "raw", "size": "1M"})
    with open(disk, "r+b") as handle:
        handle.write(b"guest data")
    before = sha256(disk)

    msg = fails({"path": disk, "format": "qcow2", "size": "1M"})
    assert "format is raw, wanted qcow2" in msg and "force: true" in msg
    assert sha256(disk) == before

    first, _, _ = converge({"path": disk, "format": "qcow2", "size": "1M", "force": True})
    assert first["diff"]["before"]["format"] == "raw" and first["diff"]["after"]["format"] == "qcow2"
    assert qemu_info(disk)["format"] == "qcow2"


def test_overlay(tmp_path):
    base = str(tmp_path / "base.qcow2")
    other = str(tmp_path / "other.qcow2")
    overlay = str(tmp_path / "overlay.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "4M")
    qemu_img("create", "-q", "-f", "qcow2", other, "4M")

    first, second, _ = converge({"path": overlay, "backing_file": base, "backing_format": "qcow2"})
    assert "-b %s -F qcow2" % base in first["commands"][0]
    assert first["diff"]["after"]["backing_file"] == base
    assert second["backing_file"] == base and second["virtual_size"] == 4 * M
    info = qemu_info(overlay)
    assert info["full-backing-filename"] == base and info["backing-filename-format"] == "qcow2"

    msg = fails({"path": overlay, "backing_file": other, "backing_format": "qcow2"})
    assert "backing file is %s (qcow2), wanted %s (qcow2)" % (base, other) in msg
    assert qemu_info(overlay)["full-backing-filename"] == base

    missing = str(tmp_path / "missing.qcow2")
    msg = fails({"path": str(tmp_path / "o2.qcow2"), "backing_file": missing, "backing_format": "qcow2"})
    assert "backing file %s does not exist" % missing in msg
    assert not os.path.exists(str(tmp_path / "o2.qcow2"))


def test_convert_with_checksum(tmp_path):
    src = str(tmp_path / "src.raw")
    digest = random_raw(src)
    dest = str(tmp_path / "dest.qcow2")
    args = {"path": dest, "src": src, "src_format": "raw", "format": "qcow2", "checksum": "sha256:" + digest}
    first, _, _ = converge(args)
    assert first["commands"][0] == "verify sha256:%s %s" % (digest, src)
    assert first["commands"][1].startswith("qemu-img convert -q -f raw -O qcow2 %s " % src)
    assert qemu_info(dest)["format"] == "qcow2"
    assert identical("raw", src, "qcow2", dest)
    assert leftovers(str(tmp_path)) == []

    # grow the converted image: content still equals the source (a tail of zeros)
    converge(dict(args, size="4M"))
    assert qemu_info(dest)["virtual-size"] == 4 * M

    bad = str(tmp_path / "bad.qcow2")
    msg = fails(dict(args, path=bad, checksum="sha256:" + "0" * 64))
    assert "checksum says " + "0" * 64 in msg
    assert not os.path.exists(bad)

    # the source changes: the existing image is not overwritten without force
    digest2 = random_raw(src)
    dest_before = sha256(dest)
    msg = fails(dict(args, checksum="sha256:" + digest2))
    assert "content differs from %s" % src in msg and "force: true" in msg
    assert sha256(dest) == dest_before
    converge(dict(args, checksum="sha256:" + digest2, force=True))
    assert identical("raw", src, "qcow2", dest)


def test_fetch_file_url_as_is(tmp_path):
    src = str(tmp_path / "published.raw")
    digest = random_raw(src)
    dest = str(tmp_path / "fetched.raw")
    args = {"path": dest, "url": "file://" + src, "checksum": "sha256:" + digest}
    first, _, _ = converge(args)
    assert [c.split()[0] for c in first["commands"]] == ["fetch", "verify", "mv"]
    assert sha256(dest) == digest
    assert leftovers(str(tmp_path)) == []

    msg = fails(dict(args, path=str(tmp_path / "other.raw"), checksum="sha256:" + "1" * 64))
    assert "checksum says " + "1" * 64 in msg
    assert not os.path.exists(str(tmp_path / "other.raw")) and leftovers(str(tmp_path)) == []


def test_fetch_http_convert_and_grow(tmp_path, http_dir):
    root, base_url = http_dir
    digest = random_raw(str(root / "cloud.raw"))
    dest = str(tmp_path / "cloud.qcow2")
    args = {"path": dest, "url": base_url + "/cloud.raw", "checksum": "sha256:" + digest,
            "format": "qcow2", "size": "4M"}
    _, second, _ = converge(args)
    assert second["commands"][0].startswith("fetch http://127.0.0.1:")
    assert any(c.startswith("qemu-img convert -q -f raw -O qcow2 ") for c in second["commands"])
    assert any(c.startswith("qemu-img resize -f qcow2 ") for c in second["commands"])
    info = qemu_info(dest)
    assert info["format"] == "qcow2" and info["virtual-size"] == 4 * M
    assert identical("raw", str(root / "cloud.raw"), "qcow2", dest)
    assert leftovers(str(tmp_path)) == []

    msg = fails(dict(args, url=base_url + "/missing.raw", path=str(tmp_path / "m.qcow2")))
    assert "could not fetch" in msg and "404" in msg
    assert not os.path.exists(str(tmp_path / "m.qcow2"))


@pytest.mark.parametrize("args,fragment", [
    ({"size": "10GB"}, "decimal unit"),
    ({"size": "1000"}, "not a multiple of 512"),
    ({"size": "1M", "format": "vmdk"}, "value of format must be one of: raw, qcow2"),
])
def test_invalid_values_are_reported(tmp_path, args, fragment):
    msg = fails(dict(args, path=str(tmp_path / "x.qcow2")))
    assert fragment in msg
    assert os.listdir(str(tmp_path)) == []


def test_missing_directory_is_reported(tmp_path):
    path = str(tmp_path / "nodir" / "x.qcow2")
    msg = fails({"path": path, "size": "1M"})
    assert "directory %s does not exist" % (tmp_path / "nodir") in msg
    assert not os.path.exists(str(tmp_path / "nodir"))


def test_info_and_absent(tmp_path):
    disk = str(tmp_path / "disk.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", disk, "3M")
    for check in (True, False):
        run, res = apply({"path": disk, "state": "info"}, check=check)
        assert run.rc == 0 and res["changed"] is False
        assert res["exists"] is True and res["info"]["virtual-size"] == 3 * M and res["format"] == "qcow2"

    first, _, _ = converge({"path": disk, "state": "absent"})
    assert first["commands"] == ["rm -f -- %s" % disk]
    assert first["diff"] == {"before": {"state": "present"}, "after": {"state": "absent"}}
    assert not os.path.exists(disk)

    run, res = apply({"path": disk, "state": "info"})
    assert run.rc == 0 and res["exists"] is False and res["info"] == {}


def test_guest_disks_playbook_converges_and_is_idempotent(tmp_path):
    src = str(tmp_path / "source.raw")
    digest = random_raw(src)
    extra = {"qemu_image_dir": str(tmp_path), "qemu_image_source_sha256": digest}
    check = run_playbook(GUEST_DISKS, inventory=INVENTORY, check=True, extra_vars=extra)
    # in check mode the base does not exist yet, so the overlay task fails on its missing backing file
    assert check.result("Convert the raw image to a qcow2 base")["changed"] is True
    assert not os.path.exists(str(tmp_path / "base.qcow2"))

    converge_run = run_playbook(GUEST_DISKS, inventory=INVENTORY, extra_vars=extra)
    assert converge_run.rc == 0, converge_run
    assert converge_run.changed_total() == 2
    idempotence = run_playbook(GUEST_DISKS, inventory=INVENTORY, extra_vars=extra)
    assert idempotence.rc == 0 and idempotence.changed_total() == 0, idempotence
    assert qemu_info(str(tmp_path / "guest1.qcow2"))["full-backing-filename"] == str(tmp_path / "base.qcow2")
    assert identical("raw", src, "qcow2", str(tmp_path / "base.qcow2"))
