# -*- coding: utf-8 -*-
"""Logic of the ``storage_volume`` module: libvirt storage pools and volumes, want / have / actions.

Pure parts (validation, XML compile and parse, planning) are unit-tested; ``StorageManager``
reads libvirt and applies the planned actions outside check mode. libvirt errors become
``StorageError`` subclasses with a message that says what to change; the module turns them into
one ``fail_json``.

Choices that matter for data safety:
- Removing a pool (state: absent) stops and undefines it; its volumes and target directory stay
  unless ``delete_volumes: true``, which deletes every volume, then the target (libvirt's
  virStoragePoolDelete, an rmdir for dir/fs pools), then undefines.
- ``build`` creates a missing target directory only; it never formats a device (no mkfs).
- A volume is never shrunk; an existing volume whose format, backing volume or uploaded content
  differs is replaced only with ``force: true``.
"""

import hashlib
import os
import xml.etree.ElementTree as ET

from ansible.module_utils.qemu_image import QemuImageError, parse_size
from ansible.module_utils.libvirt_common import (DEFAULT_URI, ERR_NO_STORAGE_POOL, ERR_NO_STORAGE_VOL, error_code,
                                                 is_libvirt_error, open_connection)

POOL_TYPES = ("dir", "fs")
FS_FORMATS = ("auto", "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "iso9660", "udf")
VOLUME_FORMATS = ("raw", "qcow2")
POOL_STATES = ("present", "active", "inactive", "absent", "info")
VOLUME_STATES = ("present", "absent", "info")
POOL_KEYS = ("type", "target_path", "source_device", "source_format", "target_mode", "target_owner",
             "target_group")
KIB = 1024
CHUNK = 1024 * 1024

# libvirt flag used here (a stable ABI number, so the pure code needs no binding).
VIR_STORAGE_XML_INACTIVE = 1


class StorageError(Exception):
    """Base of every error this module reports; the message says what to change."""


class ValidationError(StorageError):
    """A parameter value is invalid."""


class NotFoundError(StorageError):
    """A pool or volume the task relies on does not exist."""


class ConflictError(StorageError):
    """The existing object differs in a way the task will not change without ``force``."""


class LibvirtCallError(StorageError):
    """A libvirt call failed."""


# --------------------------------------------------------------------------- wants

def _name(value, what):
    if not value or "/" in value:
        raise ValidationError("%s %r must be a non-empty name without '/'" % (what, value))
    return value


def parse_mode(value):
    """An octal permission string such as ``"0750"`` as an int."""
    if value is None:
        return None
    text = str(value)
    try:
        mode = int(text, 8)
    except ValueError:
        raise ValidationError("target_mode %r must be an octal string such as \"0750\"" % (value,))
    if mode < 0 or mode > 0o7777:
        raise ValidationError("target_mode %r is out of range (0000 to 7777)" % (value,))
    return mode


class PoolWant(object):
    def __init__(self, name, state, spec, autostart, build, delete_volumes):
        self.name = name
        self.state = state
        self.spec = spec              # only the keys the user set
        self.autostart = autostart
        self.build = build
        self.delete_volumes = delete_volumes


class VolumeWant(object):
    def __init__(self, name, pool, state, capacity, format, backing_volume, clone_from, upload_src,
                 wipe, force):
        self.name = name
        self.pool = pool
        self.state = state
        self.capacity = capacity
        self.format = format
        self.backing_volume = backing_volume
        self.clone_from = clone_from
        self.upload_src = upload_src
        self.wipe = wipe
        self.force = force

    @property
    def source(self):
        for key in ("clone_from", "backing_volume", "upload_src"):
            if getattr(self, key):
                return key
        return None


def build_want(params):
    """Validate module parameters into a ``PoolWant`` (no ``volume``) or a ``VolumeWant``. Pure."""
    state = params.get("state") or "present"
    pool = _name(params.get("pool"), "pool")
    volume_keys = ("capacity", "format", "backing_volume", "clone_from", "upload_src", "wipe")
    if params.get("volume") is None:
        used = [k for k in volume_keys if params.get(k) not in (None, False)]
        if used:
            raise ValidationError("%s describe a volume: set volume too" % ", ".join(used))
        return _pool_want(pool, state, params)
    pool_keys = ("pool_type", "target_path", "source_device", "source_format", "target_mode", "target_owner",
                 "target_group", "autostart")
    used = [k for k in pool_keys if params.get(k) is not None]
    if params.get("delete_volumes"):
        used.append("delete_volumes")
    if used:
        raise ValidationError("%s describe the pool; manage the pool in a task without volume" % ", ".join(used))
    return _volume_want(pool, state, params)


def _pool_want(name, state, params):
    if state not in POOL_STATES:
        raise ValidationError("state %r is not valid for a pool; use one of %s" % (state, ", ".join(POOL_STATES)))
    spec = {}
    ptype = params.get("pool_type")
    if ptype is not None:
        if ptype not in POOL_TYPES:
            raise ValidationError("pool_type %r is not supported; use one of %s" % (ptype, ", ".join(POOL_TYPES)))
        spec["type"] = ptype
    target = params.get("target_path")
    if target is not None:
        if not os.path.isabs(target):
            raise ValidationError("target_path %r must be an absolute path" % (target,))
        spec["target_path"] = os.path.normpath(target)
    for key in ("source_device", "source_format"):
        if params.get(key) is not None:
            if ptype != "fs":
                raise ValidationError("%s applies to fs pools; set pool_type: fs" % key)
            spec[key] = params[key]
    if spec.get("source_device") is not None and not os.path.isabs(spec["source_device"]):
        raise ValidationError("source_device %r must be an absolute device path" % (spec["source_device"],))
    if spec.get("source_format") is not None and spec["source_format"] not in FS_FORMATS:
        raise ValidationError("source_format %r is not supported; use one of %s"
                              % (spec["source_format"], ", ".join(FS_FORMATS)))
    mode = parse_mode(params.get("target_mode"))
    if mode is not None:
        spec["target_mode"] = mode
    for key in ("target_owner", "target_group"):
        if params.get(key) is not None:
            if int(params[key]) < 0:
                raise ValidationError("%s must be a numeric id >= 0" % key)
            spec[key] = int(params[key])
    delete_volumes = bool(params.get("delete_volumes"))
    if delete_volumes and state != "absent":
        raise ValidationError("delete_volumes applies to state: absent")
    build = params.get("build")
    return PoolWant(name, state, spec, params.get("autostart"), True if build is None else bool(build),
                    delete_volumes)


def _volume_want(pool, state, params):
    if state not in VOLUME_STATES:
        raise ValidationError("state %r applies to pools; for a volume use one of %s"
                              % (state, ", ".join(VOLUME_STATES)))
    name = _name(params.get("volume"), "volume")
    sources = [k for k in ("clone_from", "backing_volume", "upload_src") if params.get(k)]
    if len(sources) > 1:
        raise ValidationError("set only one of clone_from, backing_volume and upload_src (got %s)"
                              % ", ".join(sources))
    fmt = params.get("format")
    if fmt is not None and fmt not in VOLUME_FORMATS:
        raise ValidationError("format %r is not supported; use one of %s" % (fmt, ", ".join(VOLUME_FORMATS)))
    capacity = None
    if params.get("capacity") is not None:
        try:
            capacity = parse_size(params["capacity"], "capacity", multiple=KIB)
        except QemuImageError as exc:
            raise ValidationError("%s (libvirt sizes qcow2 volumes in KiB)" % exc)
    if params.get("backing_volume"):
        _name(params["backing_volume"], "backing_volume")
        if fmt == "raw":
            raise ValidationError("a raw volume cannot have a backing volume; use format: qcow2")
        fmt = "qcow2"
        if params["backing_volume"] == name:
            raise ValidationError("backing_volume must differ from volume")
    if params.get("clone_from"):
        _name(params["clone_from"], "clone_from")
        if params["clone_from"] == name:
            raise ValidationError("clone_from must differ from volume")
    upload = params.get("upload_src")
    if upload:
        if not os.path.isabs(upload):
            raise ValidationError("upload_src %r must be an absolute path" % (upload,))
        if capacity is not None:
            raise ValidationError("capacity is taken from upload_src; leave capacity unset (grow the volume in a "
                                  "later task if needed)")
    wipe = bool(params.get("wipe"))
    if wipe and state != "absent":
        raise ValidationError("wipe applies to state: absent (the volume is wiped, then deleted)")
    return VolumeWant(name, pool, state, capacity, fmt, params.get("backing_volume"), params.get("clone_from"),
                      upload, wipe, bool(params.get("force")))


# --------------------------------------------------------------------------- XML

def compile_pool_xml(name, spec, uuid=None):
    """Pool XML for ``spec`` (a dict with POOL_KEYS; ``type`` and ``target_path`` needed)."""
    ptype = spec.get("type") or "dir"
    if not spec.get("target_path"):
        raise ValidationError("target_path is required to define pool %s" % name)
    if ptype == "fs" and not spec.get("source_device"):
        raise ValidationError("source_device is required to define fs pool %s (the block device to mount)" % name)
    root = ET.Element("pool", type=ptype)
    ET.SubElement(root, "name").text = name
    if uuid:
        ET.SubElement(root, "uuid").text = uuid
    if ptype == "fs":
        source = ET.SubElement(root, "source")
        ET.SubElement(source, "device", path=spec["source_device"])
        ET.SubElement(source, "format", type=spec.get("source_format") or "auto")
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = spec["target_path"]
    perms = [(k, spec.get(k)) for k in ("target_mode", "target_owner", "target_group") if spec.get(k) is not None]
    if perms:
        element = ET.SubElement(target, "permissions")
        for key, value in perms:
            if key == "target_mode":
                ET.SubElement(element, "mode").text = "%04o" % value
            else:
                ET.SubElement(element, key[len("target_"):]).text = str(value)
    return ET.tostring(root, encoding="unicode")


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def parse_pool_xml(text):
    """``(name, uuid, spec)`` from a pool's XML; spec has every POOL_KEYS key (None when unset)."""
    root = ET.fromstring(text)
    spec = dict((key, None) for key in POOL_KEYS)
    spec["type"] = root.get("type")
    path = root.findtext("target/path")
    spec["target_path"] = os.path.normpath(path) if path else None
    device = root.find("source/device")
    if device is not None:
        spec["source_device"] = device.get("path")
    fmt = root.find("source/format")
    if fmt is not None:
        spec["source_format"] = fmt.get("type")
    mode = root.findtext("target/permissions/mode")
    if mode:
        spec["target_mode"] = int(mode, 8)
    for key in ("owner", "group"):
        value = _int(root.findtext("target/permissions/%s" % key))
        if value is not None and value >= 0:
            spec["target_" + key] = value
    return root.findtext("name"), root.findtext("uuid"), spec


def compile_volume_xml(name, capacity, fmt, backing_path=None, backing_format=None):
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(int(capacity))
    ET.SubElement(root, "allocation", unit="bytes").text = "0"
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing_path:
        backing = ET.SubElement(root, "backingStore")
        ET.SubElement(backing, "path").text = backing_path
        ET.SubElement(backing, "format", type=backing_format or "raw")
    return ET.tostring(root, encoding="unicode")


def parse_volume_xml(text):
    root = ET.fromstring(text)
    fmt = root.find("target/format")
    bfmt = root.find("backingStore/format")
    return {
        "name": root.findtext("name"),
        "path": root.findtext("target/path"),
        "format": fmt.get("type") if fmt is not None else None,
        "capacity": _int(root.findtext("capacity")),
        "allocation": _int(root.findtext("allocation")),
        "physical": _int(root.findtext("physical")),
        "backing_path": root.findtext("backingStore/path"),
        "backing_format": bfmt.get("type") if bfmt is not None else None,
    }


# --------------------------------------------------------------------------- planning

class Action(object):
    """One libvirt operation; ``render`` gives the line reported in ``actions``."""

    def __init__(self, kind, text, **data):
        self.kind = kind
        self.text = text
        self.data = data

    def __repr__(self):
        return "<Action %s>" % self.text


class Plan(object):
    def __init__(self, actions, before, after, warnings=None):
        self.actions = actions
        self.before = before
        self.after = after
        self.warnings = warnings or []

    @property
    def changed(self):
        return bool(self.actions)

    @property
    def lines(self):
        return [action.text for action in self.actions]


def spec_differences(want_spec, have_spec):
    """``[(key, have, want)]`` for every key the user set whose value differs."""
    out = []
    for key in POOL_KEYS:
        if key in want_spec and want_spec[key] != have_spec.get(key):
            out.append((key, have_spec.get(key), want_spec[key]))
    return out


def _fmt_value(key, value):
    if key == "target_mode" and value is not None:
        return "%04o" % value
    return value


PERM_KEYS = ("target_mode", "target_owner", "target_group")


def _pool_view(want, have_state, autostart, spec, target=None):
    """What the diff shows: the state, and the options the user set. Permissions are the target
    directory's own when it exists (libvirt reads them from the directory when the pool starts)."""
    view = {"state": have_state}
    if have_state == "absent":
        return view
    if want.autostart is not None:
        view["autostart"] = autostart
    for key in POOL_KEYS:
        if key in want.spec:
            value = spec.get(key)
            if key in PERM_KEYS and target and target.get("exists"):
                value = target.get(key)
            view[key] = _fmt_value(key, value)
    return view


def perm_differences(want_spec, target):
    """``[(key, on_disk, wanted)]`` for the permissions the user set that the existing target lacks."""
    if not target or not target.get("exists"):
        return []
    return [(key, target.get(key), want_spec[key]) for key in PERM_KEYS
            if key in want_spec and want_spec[key] != target.get(key)]


def plan_pool(want, have, target):
    """Actions that bring pool ``want`` from ``have`` (None, or a dict with state, autostart, persistent,
    spec, uuid, volumes) to the wanted state.

    ``target``: the target directory on the managed host, ``{"exists": bool}`` plus, when it exists,
    ``target_mode``, ``target_owner``, ``target_group`` from stat.
    """
    target = target or {"exists": False}
    name = want.name
    if want.state == "info":
        view = _pool_view(want, have["state"] if have else "absent", have and have["autostart"],
                          have["spec"] if have else {}, target)
        return Plan([], view, view)
    if want.state == "absent":
        return _plan_pool_absent(want, have, target["exists"])

    actions, warnings = [], []
    before = _pool_view(want, have["state"] if have else "absent", have and have["autostart"],
                        have["spec"] if have else {}, target)
    if have is None:
        spec = dict(want.spec)
        spec.setdefault("type", "dir")
        xml = compile_pool_xml(name, spec)
        actions.append(Action("define", "define %s pool %s with target %s" % (spec["type"], name, spec["target_path"]),
                              xml=xml))
        state, autostart = "inactive", False
    else:
        spec = dict(have["spec"])
        differences = spec_differences(want.spec, have["spec"])
        if any(key == "type" for key, _, _ in differences):
            raise ConflictError("pool %s is of type %s, not %s; changing the type needs a new pool: remove it first "
                                "(state: absent) or use another name" % (name, have["spec"]["type"], want.spec["type"]))
        if differences:
            spec.update(want.spec)
            xml = compile_pool_xml(name, spec, uuid=have.get("uuid"))
            changes = ", ".join("%s %s -> %s" % (k, _fmt_value(k, a), _fmt_value(k, b)) for k, a, b in differences)
            actions.append(Action("redefine", "redefine pool %s (%s)" % (name, changes), xml=xml))
            structural = [k for k, _, _ in differences if k not in PERM_KEYS]
            if have["state"] == "active" and structural:
                warnings.append("pool %s is active: its new definition (%s) takes effect when it is next started"
                                % (name, ", ".join(structural)))
        state, autostart = have["state"], have["autostart"]

    target_here = target["exists"] and spec.get("target_path") == target.get("path", spec.get("target_path"))
    perms = perm_differences(want.spec, target) if target_here else []
    if perms:
        changes = ", ".join("%s %s -> %s" % (k, _fmt_value(k, a), _fmt_value(k, b)) for k, a, b in perms)
        actions.append(Action("chmod", "set permissions of %s (%s)" % (spec["target_path"], changes),
                              path=spec["target_path"], perms=dict((k, b) for k, _, b in perms)))
    if want.build and not target_here and (state != "active" or have is None):
        actions.append(Action("build", "build pool %s (create %s)" % (name, spec["target_path"])))
    if want.state == "active" and state != "active":
        actions.append(Action("start", "start pool %s" % name))
        state = "active"
    elif want.state == "inactive" and state == "active":
        actions.append(Action("stop", "stop pool %s" % name))
        state = "inactive"
    if want.autostart is not None and bool(want.autostart) != bool(autostart):
        actions.append(Action("autostart", "set autostart of pool %s %s" % (name, "on" if want.autostart else "off"),
                              value=bool(want.autostart)))
        autostart = bool(want.autostart)
    after_target = dict(target)
    if target_here:
        after_target.update(dict((k, b) for k, _, b in perms))
    else:
        after_target = {"exists": False}
    after = _pool_view(want, state, autostart, spec, after_target)
    return Plan(actions, before, after, warnings)


def _plan_pool_absent(want, have, target_exists):
    name = want.name
    if have is None:
        return Plan([], {"state": "absent"}, {"state": "absent"})
    actions = []
    before = {"state": have["state"]}
    after = {"state": "absent"}
    if want.delete_volumes:
        if have["state"] != "active" and target_exists:
            actions.append(Action("start", "start pool %s (to list and delete its volumes)" % name))
        if have["state"] == "active" or target_exists:
            volumes = have.get("volumes")
            if volumes is None:
                actions.append(Action("delete_volumes", "delete every volume of pool %s" % name, names=None))
            else:
                for vol in volumes:
                    actions.append(Action("delete_volume", "delete volume %s/%s" % (name, vol), volume=vol))
                before["volumes"] = list(volumes)
                after["volumes"] = []
            actions.append(Action("stop", "stop pool %s" % name))
            actions.append(Action("delete_target", "delete the target %s of pool %s"
                                  % (have["spec"].get("target_path"), name)))
    elif have["state"] == "active":
        actions.append(Action("stop", "stop pool %s" % name))
    if have.get("persistent", True):
        actions.append(Action("undefine", "undefine pool %s" % name))
    return Plan(actions, before, after)


def _volume_view(want, vol, content=None, created=False):
    """What the diff shows: the state, and the properties the user set (all of them for a new volume)."""
    if vol is None:
        return {"state": "absent"}
    view = {"state": "present"}
    if want.capacity is not None or created:
        view["capacity"] = vol.get("capacity")
    if want.format is not None or created:
        view["format"] = vol.get("format")
    if want.backing_volume is not None:
        view["backing_path"] = vol.get("backing_path")
    if content is not None:
        view["content_sha256"] = content
    return view


def plan_volume(want, have, source=None, upload=None):
    """Actions for volume ``want`` in its pool.

    ``have``: ``parse_volume_xml`` of the existing volume, or None.
    ``source``: the clone source's or backing volume's parsed XML (for clone_from / backing_volume).
    ``upload``: dict(size, sha256, volume_sha256) for upload_src; ``volume_sha256`` is the digest of the
    existing volume's first ``size`` bytes (None when there is no volume or it is shorter).
    """
    label = "%s/%s" % (want.pool, want.name)
    if want.state == "info":
        view = _volume_view(want, have)
        return Plan([], view, view)
    if want.state == "absent":
        if have is None:
            return Plan([], {"state": "absent"}, {"state": "absent"})
        actions = []
        if want.wipe:
            actions.append(Action("wipe", "wipe volume %s" % label))
        actions.append(Action("delete_volume", "delete volume %s" % label, volume=want.name))
        return Plan(actions, {"state": "present"}, {"state": "absent"})

    content_before = upload.get("volume_sha256") if upload else None
    content_after = upload.get("sha256") if upload else None
    before = _volume_view(want, have, content_before)
    if have is None:
        actions, result = _create_volume_actions(want, source, upload)
        return Plan(actions, before, _volume_view(want, result, content_after, created=True))

    differences = []
    expected_format = want.format  # unset: the format is not checked (a clone keeps its source's)
    if expected_format is not None and have["format"] != expected_format:
        differences.append("format is %s, wanted %s" % (have["format"], expected_format))
    if want.backing_volume:
        if have["backing_path"] != source["path"] or have["backing_format"] != source["format"]:
            differences.append("backing volume is %s (%s), wanted %s (%s)" % (
                have["backing_path"] or "none", have["backing_format"] or "-", source["path"], source["format"]))
    if upload and upload.get("volume_sha256") != upload["sha256"]:
        differences.append("content differs from %s" % want.upload_src)
    if differences:
        if not want.force:
            raise ConflictError("volume %s exists and differs: %s. It was left untouched; set force: true to delete "
                                "and recreate it (its current content is lost)" % (label, "; ".join(differences)))
        actions = [Action("delete_volume", "delete volume %s" % label, volume=want.name)]
        more, result = _create_volume_actions(want, source, upload)
        return Plan(actions + more, before, _volume_view(want, result, content_after, created=True))

    actions = []
    result = dict(have)
    if want.capacity is not None and want.capacity != have["capacity"]:
        if want.capacity < have["capacity"]:
            raise ConflictError("volume %s has %d bytes and capacity asks for %d: volumes are never shrunk (data past "
                                "the new end would be lost); raise capacity or recreate the volume"
                                % (label, have["capacity"], want.capacity))
        actions.append(Action("resize", "resize volume %s to %d bytes" % (label, want.capacity),
                              capacity=want.capacity))
        result["capacity"] = want.capacity
    return Plan(actions, before, _volume_view(want, result, content_after))


def _create_volume_actions(want, source, upload):
    label = "%s/%s" % (want.pool, want.name)
    actions = []
    if want.clone_from:
        fmt = want.format or source["format"]
        xml = compile_volume_xml(want.name, source["capacity"], fmt)
        actions.append(Action("clone", "clone volume %s/%s to %s (%s)" % (want.pool, want.clone_from, label, fmt),
                              xml=xml, source=want.clone_from))
        result = {"capacity": source["capacity"], "format": fmt, "backing_path": None}
        if want.capacity is not None and want.capacity != source["capacity"]:
            if want.capacity < source["capacity"]:
                raise ConflictError("capacity %d is smaller than clone_from %s (%d bytes); volumes are never shrunk"
                                    % (want.capacity, want.clone_from, source["capacity"]))
            actions.append(Action("resize", "resize volume %s to %d bytes" % (label, want.capacity),
                                  capacity=want.capacity))
            result["capacity"] = want.capacity
        return actions, result
    if want.upload_src:
        fmt = want.format or "raw"
        xml = compile_volume_xml(want.name, upload["size"], fmt)
        actions.append(Action("create", "create volume %s (%s, %d bytes)" % (label, fmt, upload["size"]), xml=xml))
        actions.append(Action("upload", "upload %s to volume %s (%d bytes)" % (want.upload_src, label, upload["size"]),
                              path=want.upload_src, size=upload["size"]))
        return actions, {"capacity": upload["size"], "format": fmt, "backing_path": None}
    if want.backing_volume:
        capacity = want.capacity if want.capacity is not None else source["capacity"]
        xml = compile_volume_xml(want.name, capacity, "qcow2", source["path"], source["format"])
        actions.append(Action("create", "create volume %s (qcow2 on %s, %d bytes)" % (label, source["path"], capacity),
                              xml=xml))
        return actions, {"capacity": capacity, "format": "qcow2", "backing_path": source["path"]}
    if want.capacity is None:
        raise ValidationError("volume %s does not exist: set capacity (or clone_from, backing_volume or upload_src) "
                              "to create it" % label)
    fmt = want.format or "raw"
    xml = compile_volume_xml(want.name, want.capacity, fmt)
    actions.append(Action("create", "create volume %s (%s, %d bytes)" % (label, fmt, want.capacity), xml=xml))
    return actions, {"capacity": want.capacity, "format": fmt, "backing_path": None}


# --------------------------------------------------------------------------- libvirt side

def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def target_facts(path):
    """``{"exists": bool, "path": path}`` plus mode/owner/group of the target directory on this host."""
    if not path or not os.path.isdir(path):
        return {"exists": False, "path": path}
    st = os.stat(path)
    return {"exists": True, "path": path, "target_mode": st.st_mode & 0o7777, "target_owner": st.st_uid,
            "target_group": st.st_gid}


class StorageManager(object):
    """Reads libvirt and applies plans. ``connect`` opens a connection for a URI."""

    def __init__(self, module, connect=open_connection):
        self.module = module
        self.connect = connect
        self.conn = None

    def _call(self, what, func, *args):
        try:
            return func(*args)
        except Exception as exc:  # only libvirt errors are translated; anything else is a bug
            if is_libvirt_error(exc):
                raise LibvirtCallError("%s failed: %s" % (what, exc))
            raise

    # -- reading
    def lookup_pool(self, name):
        try:
            return self.conn.storagePoolLookupByName(name)
        except Exception as exc:
            if is_libvirt_error(exc) and error_code(exc) == ERR_NO_STORAGE_POOL:
                return None
            if is_libvirt_error(exc):
                raise LibvirtCallError("looking up pool %s failed: %s" % (name, exc))
            raise

    def lookup_volume(self, pool, name):
        try:
            return pool.storageVolLookupByName(name)
        except Exception as exc:
            if is_libvirt_error(exc) and error_code(exc) == ERR_NO_STORAGE_VOL:
                return None
            if is_libvirt_error(exc):
                raise LibvirtCallError("looking up volume %s/%s failed: %s" % (pool.name(), name, exc))
            raise

    def pool_have(self, pool, with_volumes=False):
        if pool is None:
            return None
        _name_, uuid, spec = parse_pool_xml(self._call("reading pool XML", pool.XMLDesc, VIR_STORAGE_XML_INACTIVE))
        active = bool(pool.isActive())
        have = {"state": "active" if active else "inactive", "autostart": bool(pool.autostart()),
                "persistent": bool(pool.isPersistent()), "spec": spec, "uuid": uuid, "volumes": None}
        if active and with_volumes:
            self._call("refreshing pool %s" % pool.name(), pool.refresh, 0)
            have["volumes"] = sorted(self._call("listing volumes", pool.listVolumes))
        return have

    def volume_have(self, vol):
        if vol is None:
            return None
        return parse_volume_xml(self._call("reading volume XML", vol.XMLDesc, 0))

    def pool_info(self, pool):
        if pool is None:
            return {"name": None, "exists": False}
        have = self.pool_have(pool, with_volumes=True)
        state, capacity, allocation, available = pool.info()
        info = {"name": pool.name(), "exists": True, "uuid": have["uuid"], "state": have["state"],
                "autostart": have["autostart"], "persistent": have["persistent"],
                "capacity": capacity, "allocation": allocation, "available": available, "volumes": []}
        spec = dict(have["spec"])
        if spec.get("target_mode") is not None:
            spec["target_mode"] = "%04o" % spec["target_mode"]
        info.update(spec)
        if have["volumes"]:
            for name in have["volumes"]:
                vol = self.lookup_volume(pool, name)
                if vol is not None:
                    facts = self.volume_have(vol)
                    facts.pop("physical", None)
                    info["volumes"].append(facts)
        return info

    def volume_digest(self, vol, length):
        """sha256 of the first ``length`` bytes of ``vol`` (read with virStorageVolDownload)."""
        digest = hashlib.sha256()
        stream = self.conn.newStream(0)
        try:
            vol.download(stream, 0, length, 0)
            stream.recvAll(lambda _st, data, d: d.update(data), digest)
            stream.finish()
        except Exception as exc:
            try:
                stream.abort()
            except Exception:  # the stream may already be closed
                pass
            if is_libvirt_error(exc):
                raise LibvirtCallError("downloading volume %s to compare it failed: %s" % (vol.name(), exc))
            raise
        return digest.hexdigest()

    # -- applying
    def upload(self, vol, path, size):
        stream = self.conn.newStream(0)
        try:
            vol.upload(stream, 0, size, 0)
            with open(path, "rb") as handle:
                stream.sendAll(lambda _st, nbytes, fh: fh.read(nbytes), handle)
            stream.finish()
        except Exception as exc:
            try:
                stream.abort()
            except Exception:  # the stream may already be closed
                pass
            if is_libvirt_error(exc):
                raise LibvirtCallError("uploading %s to volume %s failed: %s" % (path, vol.name(), exc))
            raise

    @staticmethod
    def set_permissions(path, perms):
        try:
            if "target_mode" in perms:
                os.chmod(path, perms["target_mode"])
            if "target_owner" in perms or "target_group" in perms:
                os.chown(path, perms.get("target_owner", -1), perms.get("target_group", -1))
        except OSError as exc:
            raise StorageError("setting permissions of %s failed: %s" % (path, exc))

    def apply_pool(self, want, pool, actions):
        for action in actions:
            kind = action.kind
            if kind in ("define", "redefine"):
                pool = self._call(action.text, self.conn.storagePoolDefineXML, action.data["xml"], 0)
            elif kind == "chmod":
                self.set_permissions(action.data["path"], action.data["perms"])
                if pool is not None and pool.isActive():
                    self._call("refreshing pool %s" % want.name, pool.refresh, 0)
            elif kind == "build":
                self._call(action.text, pool.build, 0)
            elif kind == "start":
                self._call(action.text + " (if its target is missing, set build: true)", pool.create, 0)
            elif kind == "stop":
                self._call(action.text, pool.destroy)
            elif kind == "autostart":
                self._call(action.text, pool.setAutostart, 1 if action.data["value"] else 0)
            elif kind == "delete_volumes":
                self._call("refreshing pool %s" % want.name, pool.refresh, 0)
                for name in self._call("listing volumes", pool.listVolumes):
                    vol = self.lookup_volume(pool, name)
                    if vol is not None:
                        self._call("delete volume %s/%s" % (want.name, name), vol.delete, 0)
            elif kind == "delete_volume":
                vol = self.lookup_volume(pool, action.data["volume"])
                if vol is not None:
                    self._call(action.text, vol.delete, 0)
            elif kind == "delete_target":
                self._call(action.text + " (files not managed by libvirt may remain in it)", pool.delete, 0)
            elif kind == "undefine":
                self._call(action.text, pool.undefine)
        return pool

    def apply_volume(self, want, pool, actions):
        vol = self.lookup_volume(pool, want.name)
        for action in actions:
            kind = action.kind
            if kind == "create":
                vol = self._call(action.text, pool.createXML, action.data["xml"], 0)
            elif kind == "clone":
                source = self.lookup_volume(pool, action.data["source"])
                vol = self._call(action.text, pool.createXMLFrom, action.data["xml"], source, 0)
            elif kind == "upload":
                self.upload(vol, action.data["path"], action.data["size"])
                self._call("refreshing pool %s" % want.pool, pool.refresh, 0)
                vol = self.lookup_volume(pool, want.name)
            elif kind == "resize":
                self._call(action.text, vol.resize, action.data["capacity"], 0)
            elif kind == "wipe":
                self._call(action.text, vol.wipe, 0)
            elif kind == "delete_volume":
                self._call(action.text, vol.delete, 0)
                vol = None
        return vol

    # -- the task
    def execute(self, params):
        want = build_want(params)
        uri = params.get("uri") or DEFAULT_URI
        self.conn = self.connect(uri)
        try:
            if isinstance(want, VolumeWant):
                return self._volume_task(want)
            return self._pool_task(want)
        finally:
            self.conn.close()
            self.conn = None

    def _pool_task(self, want):
        pool = self.lookup_pool(want.name)
        have = self.pool_have(pool, with_volumes=want.delete_volumes)
        the_plan = plan_pool(want, have, target_facts(want.spec.get("target_path") or
                                                      (have["spec"].get("target_path") if have else None)))
        if the_plan.changed and not self.module.check_mode:
            pool = self.apply_pool(want, pool, the_plan.actions)
            if want.state == "absent":
                pool = None
        result = {"changed": the_plan.changed, "actions": the_plan.lines, "warnings": the_plan.warnings,
                  "diff": {"before": the_plan.before, "after": the_plan.after}}
        result["pool"] = self.pool_info(self.lookup_pool(want.name) if pool is not None else None)
        return result

    def _volume_task(self, want):
        pool = self.lookup_pool(want.pool)
        if pool is None:
            if want.state == "absent":
                return {"changed": False, "actions": [], "volume": {"name": want.name, "exists": False},
                        "warnings": ["pool %s does not exist, so volume %s does not either" % (want.pool, want.name)],
                        "diff": {"before": {"state": "absent"}, "after": {"state": "absent"}}}
            raise NotFoundError("pool %s does not exist (uri %s); define and start it first (storage_volume with "
                                "pool: %s, target_path and state: active) or fix pool"
                                % (want.pool, self.conn.getURI(), want.pool))
        if not pool.isActive():
            raise NotFoundError("pool %s is inactive, so its volumes cannot be read or changed; start it first "
                                "(storage_volume with pool: %s and state: active)" % (want.pool, want.pool))
        self._call("refreshing pool %s" % want.pool, pool.refresh, 0)
        vol = self.lookup_volume(pool, want.name)
        have = self.volume_have(vol)
        source = upload = None
        if want.state == "present":
            if want.clone_from or want.backing_volume:
                other = want.clone_from or want.backing_volume
                source = self.volume_have(self.lookup_volume(pool, other))
                if source is None:
                    raise NotFoundError("volume %s/%s (%s) does not exist; create it first or fix %s"
                                        % (want.pool, other, want.source, want.source))
            if want.upload_src:
                if not os.path.isfile(want.upload_src):
                    raise NotFoundError("upload_src %s does not exist on the managed host; fix upload_src"
                                        % want.upload_src)
                size = os.path.getsize(want.upload_src)
                upload = {"size": size, "sha256": file_sha256(want.upload_src), "volume_sha256": None}
                if have is not None and (have.get("physical") or have.get("capacity") or 0) >= size:
                    upload["volume_sha256"] = self.volume_digest(vol, size)
        the_plan = plan_volume(want, have, source, upload)
        if the_plan.changed and not self.module.check_mode:
            vol = self.apply_volume(want, pool, the_plan.actions)
        result = {"changed": the_plan.changed, "actions": the_plan.lines, "warnings": the_plan.warnings,
                  "diff": {"before": the_plan.before, "after": the_plan.after}}
        facts = self.volume_have(vol) if vol is not None else None
        if facts:
            facts.pop("physical", None)
            facts["exists"] = True
        result["volume"] = facts or {"name": want.name, "exists": False}
        return result

