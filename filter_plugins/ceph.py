"""Ceph's inputs, as pure functions.

``ceph_key(seed, name)`` derives a cephx key (the base64 form ``ceph-authtool
--gen-print-key`` prints) for the entity or purpose ``name`` from the cluster's random
seed (the secrets file's ``ceph_secret_seed``): HMAC-SHA256 of the name under the seed,
cut to Ceph's 16-byte AES key, in Ceph's encoding (type 1, a creation time of 0, the length,
the key). The same seed gives the same keys on every run, so no run makes new keys.

``ceph_osd_problems(devices, host, disks, in_use)`` checks one host's ``ceph_osd_devices``
against what the node reports of its disks (``{path: state}``: ``missing``, ``blank``,
``fs:<type>`` or ``data:<signatures>``) and the disks its OSDs already use, and returns one
message per problem, each naming the host, the value and the fix.

``ceph_entity_keys(entities, seed)`` adds each entity's derived key to its dict.

``ceph_size_bytes(text)`` reads a size such as ``8G`` or ``512M`` as bytes.
"""
import base64
import hashlib
import hmac
import re
import struct

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_KEYS = {"name", "size", "disk", "force"}
_SIZE = re.compile(r"^([0-9]+)([KMGT]?)$")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# bluestore needs room for its own metadata; smaller devices fail at mkfs.
_MIN_BYTES = 2 << 30


def ceph_key(seed, name):
    if not seed:
        raise AnsibleFilterError("ceph_key: the seed is empty; run the secrets role first (ceph_secret_seed)")
    secret = hmac.new(str(seed).encode(), str(name).encode(), hashlib.sha256).digest()[:16]
    return base64.b64encode(struct.pack("<HIIH", 1, 0, 0, len(secret)) + secret).decode()


def ceph_entity_keys(entities, seed):
    """Each entity dict with its key (derived from the seed) added."""
    return [dict(entity, key=ceph_key(seed, entity["entity"])) for entity in entities or []]


def ceph_size_bytes(text):
    match = _SIZE.match(str(text).strip().upper())
    if not match:
        raise AnsibleFilterError("ceph_size_bytes: %r is not a size such as 8G or 512M" % (text,))
    return int(match.group(1)) * _UNITS[match.group(2)]


def ceph_osd_problems(devices, host, disks=None, in_use=None):
    problems = []
    disks = disks or {}
    in_use = set(in_use or [])
    if not devices:
        return ["%s is in the OSD group but ceph_osd_devices is empty; list its OSDs there, "
                "{name: ..., size: 8G} for a file or {name: ..., disk: /dev/...} for a disk "
                "(see roles/ceph/defaults/main.yml)." % host]
    seen = set()
    for dev in devices:
        if not isinstance(dev, dict) or "name" not in dev:
            problems.append("%s: ceph_osd_devices item %r has no name; give each OSD {name: ...}." % (host, dev))
            continue
        name = str(dev["name"])
        unknown = set(dev) - _KEYS
        if unknown:
            problems.append("%s: ceph_osd_devices item %s has unknown key(s) %s; the keys are %s."
                            % (host, name, ", ".join(sorted(unknown)), ", ".join(sorted(_KEYS))))
        if not _NAME.match(name):
            problems.append("%s: OSD name %r is not a short lower-case name; use a-z, 0-9, '_' or '-'."
                            % (host, name))
        if name in seen:
            problems.append("%s: OSD %s is listed twice in ceph_osd_devices; list it once." % (host, name))
        seen.add(name)
        disk = dev.get("disk")
        if ("size" in dev) == (disk is not None):
            problems.append("%s: OSD %s needs exactly one of size (a file-backed device) and disk (a whole "
                            "disk)." % (host, name))
            continue
        if disk is None:
            if dev.get("force"):
                problems.append("%s: OSD %s has force but no disk; force is for disks only." % (host, name))
            try:
                size = ceph_size_bytes(dev["size"])
            except AnsibleFilterError:
                problems.append("%s: OSD %s has size %r; give a size such as 8G." % (host, name, dev["size"]))
                continue
            if size < _MIN_BYTES:
                problems.append("%s: OSD %s has size %s; bluestore needs at least 2G." % (host, name, dev["size"]))
            continue
        disk = str(disk)
        state = disks.get(disk, "missing")
        if disk in in_use:
            continue
        if not disk.startswith("/dev/disk/by-"):
            problems.append("%s: OSD %s names disk %s; name it by a stable path, /dev/disk/by-id/... (ls -l "
                            "/dev/disk/by-id), since /dev/sdX names can change between boots." % (host, name, disk))
        elif state == "missing":
            problems.append("%s: OSD %s names disk %s, which does not exist on the node; name a block device "
                            "that does (lsblk lists them)." % (host, name, disk))
        elif state != "blank" and not dev.get("force"):
            what = ("a %s filesystem" % state[3:]) if state.startswith("fs:") else (
                "data (%s)" % (state.split(":", 1)[-1] or "unknown signature"))
            problems.append("%s: disk %s (OSD %s) holds %s; an OSD is made only on a blank disk. Name another "
                            "disk, or add force: true to have its content destroyed." % (host, disk, name, what))
    return problems


class FilterModule:
    def filters(self):
        return {"ceph_key": ceph_key, "ceph_entity_keys": ceph_entity_keys, "ceph_osd_problems": ceph_osd_problems, "ceph_size_bytes": ceph_size_bytes}
