"""Unit tests for module_utils/cloud_init_seed.py: rendering, content hashing, naming, and real ISOs
built with both builders (pycdlib from the virtualenv, genisoimage from the host) and read back from
their volume descriptor. No mocks; ISOs are written into pytest's tmp_path.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from ansible.module_utils.cloud_init_seed import (
    APP_ID_HEX,
    SeedError,
    app_id,
    build_iso,
    choose_builder,
    content_hash,
    describe,
    read_identity,
    recorded_hash,
    render_files,
    seed_matches,
    seed_path,
    sibling_seeds,
)

GENISOIMAGE = shutil.which("genisoimage")


def run_command(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_dicts_become_cloud_config_and_yaml_compatible_json():
    files = render_files({"users": [{"name": "debian"}], "packages": ["htop"]},
                         {"local-hostname": "web1", "instance-id": "i-1"},
                         {"version": 2, "ethernets": {"eth0": {"dhcp4": True}}})
    user = files["user-data"].decode()
    assert user.startswith("#cloud-config\n")
    assert json.loads(user.split("\n", 1)[1]) == {"packages": ["htop"], "users": [{"name": "debian"}]}
    assert json.loads(files["meta-data"]) == {"instance-id": "i-1", "local-hostname": "web1"}
    assert json.loads(files["network-config"])["version"] == 2
    assert sorted(files) == ["meta-data", "network-config", "user-data"]


def test_strings_are_written_as_given_and_defaults_filled():
    files = render_files("#!/bin/sh\necho hi\n", None, default_name="web1-seed")
    assert files["user-data"] == b"#!/bin/sh\necho hi\n"
    assert json.loads(files["meta-data"]) == {"instance-id": "web1-seed", "local-hostname": "web1-seed"}
    assert "network-config" not in files
    assert render_files(None, "instance-id: x\n")["user-data"] == b"#cloud-config\n{}\n"


def test_meta_data_needs_a_name_or_content():
    with pytest.raises(SeedError, match="meta_data is required"):
        render_files({"a": 1}, None)
    with pytest.raises(SeedError, match="meta-data is empty"):
        render_files({"a": 1}, "   ")


def test_hash_depends_on_content_only():
    a = render_files({"b": 1, "a": 2}, {"instance-id": "x"})
    b = render_files({"a": 2, "b": 1}, {"instance-id": "x"})
    c = render_files({"a": 2, "b": 1}, {"instance-id": "y"})
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(c)
    # moving bytes between files changes the hash (names and lengths are part of it)
    assert content_hash({"user-data": b"ab", "meta-data": b"c"}) != content_hash({"user-data": b"a", "meta-data": b"bc"})


def test_content_named_path_and_siblings(tmp_path):
    digest = "0123456789ab" + "f" * 52
    assert seed_path("/var/lib/libvirt/images", "web1-seed", digest) == \
        "/var/lib/libvirt/images/web1-seed-0123456789ab.iso"
    with pytest.raises(SeedError, match="invalid seed name"):
        seed_path("/x", "../evil", digest)
    for name in ("web1-seed-0123456789ab.iso", "web1-seed-aaaaaaaaaaaa.iso", "web1-seed-x.iso",
                 "web10-seed-bbbbbbbbbbbb.iso", "other.iso"):
        (tmp_path / name).write_bytes(b"")
    keep = str(tmp_path / "web1-seed-0123456789ab.iso")
    assert sibling_seeds(str(tmp_path), "web1-seed", keep) == [str(tmp_path / "web1-seed-aaaaaaaaaaaa.iso")]
    assert sibling_seeds(str(tmp_path / "missing"), "web1-seed", keep) == []


def test_app_id_fits_joliet():
    assert len(app_id("a" * 64)) <= 64
    assert app_id("a" * 64) == "sha256:" + "a" * APP_ID_HEX


def test_describe_fixed_and_named():
    fixed = describe({"a": 1}, {"instance-id": "i"}, dest="/srv/seed.iso")
    assert fixed.path == "/srv/seed.iso" and not fixed.named_by_content
    named = describe({"a": 1}, {"instance-id": "i"}, directory="/srv", name="g-seed")
    assert named.path == "/srv/g-seed-%s.iso" % named.digest[:12] and named.named_by_content
    assert named.digest == fixed.digest
    with pytest.raises(SeedError, match="absolute"):
        describe({"a": 1}, {"instance-id": "i"}, dest="seed.iso")
    with pytest.raises(SeedError, match="give dest, or directory and name"):
        describe({"a": 1}, {"instance-id": "i"})


def _builders():
    found = ["pycdlib"]
    if GENISOIMAGE:
        found.append("genisoimage")
    return found


@pytest.mark.parametrize("builder", _builders())
def test_built_iso_is_a_cidata_seed_with_the_inputs_hash(tmp_path, builder):
    files = render_files({"runcmd": [["touch", "/x"]]}, {"instance-id": "i-1"}, {"version": 2})
    digest = content_hash(files)
    dest = str(tmp_path / "seed.iso")
    build_iso(files, digest, dest, builder, GENISOIMAGE, run_command)
    assert read_identity(dest) == ("cidata", app_id(digest))
    assert seed_matches(dest, digest)
    assert recorded_hash(dest) == digest[:APP_ID_HEX]
    assert not seed_matches(dest, content_hash(render_files({"x": 1}, {"instance-id": "i-1"})))
    if shutil.which("isoinfo"):
        listing = subprocess.run(["isoinfo", "-R", "-f", "-i", dest], capture_output=True, text=True).stdout
        assert sorted(listing.split()) == ["/meta-data", "/network-config", "/user-data"]
        data = subprocess.run(["isoinfo", "-R", "-x", "/meta-data", "-i", dest], capture_output=True).stdout
        assert data == files["meta-data"]
        joliet = subprocess.run(["isoinfo", "-J", "-f", "-i", dest], capture_output=True, text=True).stdout
        assert "/user-data" in joliet.split()


def test_identity_does_not_depend_on_build_time(tmp_path):
    files = render_files({"a": 1}, {"instance-id": "i"})
    digest = content_hash(files)
    first, second = str(tmp_path / "1.iso"), str(tmp_path / "2.iso")
    build_iso(files, digest, first, "pycdlib")
    time.sleep(1.1)
    build_iso(files, digest, second, "pycdlib")
    assert read_identity(first) == read_identity(second)


def test_read_identity_of_non_isos(tmp_path):
    assert read_identity(str(tmp_path / "missing.iso")) == (None, None)
    short = tmp_path / "short.iso"
    short.write_bytes(b"\0" * 1000)
    assert read_identity(str(short)) == (None, None)
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * 40000)
    assert read_identity(str(raw)) == (None, None)
    assert recorded_hash(str(raw)) is None


def test_choose_builder():
    assert choose_builder("auto", lambda t: None)[0] == "pycdlib"
    assert choose_builder("genisoimage", lambda t: "/usr/bin/" + t) == ("genisoimage", "/usr/bin/genisoimage")
    with pytest.raises(SeedError, match="neither the python module pycdlib nor genisoimage"):
        choose_builder("genisoimage", lambda t: None)


def test_genisoimage_failure_is_reported_and_cleaned_up(tmp_path):
    files = render_files({"a": 1}, {"instance-id": "i"})
    with pytest.raises(SeedError, match="failed"):
        build_iso(files, content_hash(files), str(tmp_path / "x.iso"), "genisoimage", "/bin/false", run_command)
    assert os.listdir(tmp_path) == [], "no scratch directory or half-written ISO is left"
