# -*- coding: utf-8 -*-
"""libvirt domain XML for the qemu_guest module: validate, compile, read back, merge, compare.

Pure code (no libvirt, no host access), unit-tested in tests/unit/test_qemu_guest_xml.py.

- ``build_spec``: module parameters -> a *spec* holding only what the user set, validated.
- ``parse_domain``: a domain's XML -> the same vocabulary (*have*).
- ``view``: *spec* or *have* restricted to the fields the user set, for comparing and the diff.
- ``DomainEditor``: applies a resolved spec to a domain's XML tree (an existing guest's persistent
  config, or an empty skeleton for a new guest) and records which changes can be made live.
- ``pending_changes`` / ``live_ops``: what a running guest lacks of its persistent config, and which
  of it can be applied live.
- ``xml_subset`` / ``project``: the raw ``xml`` option, compared on what the user wrote only.
"""

import copy
import re
import xml.etree.ElementTree as ET

META_NS = "https://github.com/openstack-lab/qemu_guest/1"
META_PREFIX = "qg"
ET.register_namespace(META_PREFIX, META_NS)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
MEMORY_MIN_KIB = 16 * 1024
MEMORY_MAX_KIB = 16 * 1024 ** 3  # 16 TiB
UNIT_KIB = {"b": 1.0 / 1024, "bytes": 1.0 / 1024, "k": 1, "kib": 1, "kb": 1000.0 / 1024,
            "m": 1024, "mib": 1024, "mb": 1000.0 ** 2 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2,
            "gb": 1000.0 ** 3 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3, "tb": 1000.0 ** 4 / 1024}
BUSES = ("virtio", "sata", "scsi", "ide", "usb")
TARGET_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "usb": "sd", "ide": "hd"}
DISK_FORMATS = ("raw", "qcow2")
CPU_MODES = ("auto", "host-passthrough", "host-model", "maximum", "custom")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")

# What a new guest gets for options the user did not give.
NEW_GUEST_DEFAULTS = {
    "memory_kib": 1024 * 1024,
    "vcpus": 1,
    "virt_type": "auto",
    "cpu_mode": "auto",
    "firmware": "bios",
    "serial_console": True,
    "graphics": "none",
    "rng": True,
}
# Guest-wide fields; a change of any of them on a running guest takes effect at the next boot.
SCALAR_FIELDS = ("memory_kib", "vcpus", "virt_type", "cpu_mode", "cpu_model", "machine", "firmware",
                 "kernel", "initrd", "cmdline", "serial_console", "graphics", "rng")
DISK_FIELDS = ("device", "bus", "format", "readonly", "boot_order", "target")
NIC_FIELDS = ("model", "mac")


class SpecError(ValueError):
    """A parameter is invalid; raised before anything is read or changed."""


# --------------------------------------------------------------------------- small parsers

def parse_memory(value, what="memory"):
    """``512`` (MiB), ``"512M"``, ``"2GiB"``, ``"1.5G"`` -> KiB (int). Raises SpecError."""
    if isinstance(value, bool) or value is None:
        raise SpecError("%s must be a size such as 512M or 2G, not %r" % (what, value))
    if isinstance(value, int):
        kib = value * 1024
    else:
        match = MEMORY_RE.match(str(value))
        if not match:
            raise SpecError("%s %r is not a size: write a number with an optional unit K, M, G or T "
                            "(binary; a plain number means MiB), e.g. 512M or 2G" % (what, value))
        number, unit, suffix = match.groups()
        unit = unit.lower() or "m"
        if suffix and suffix.lower() == "b" and unit:
            key = unit + "b"        # decimal: MB, GB
        else:
            key = unit
        kib_f = float(number) * UNIT_KIB[key]
        if abs(kib_f - round(kib_f)) > 1e-6:
            raise SpecError("%s %r is not a whole number of KiB" % (what, value))
        kib = int(round(kib_f))
    if kib < MEMORY_MIN_KIB:
        raise SpecError("%s %r is below the minimum of 16 MiB" % (what, value))
    if kib > MEMORY_MAX_KIB:
        raise SpecError("%s %r is above the maximum of 16 TiB" % (what, value))
    return kib


def to_kib(text, unit):
    """A libvirt memory element's value in KiB (libvirt writes KiB, but accepts other units)."""
    unit = (unit or "KiB").lower()
    factor = UNIT_KIB.get(unit)
    if factor is None:
        factor = UNIT_KIB.get(unit[:1], 1)
    return int(round(float(text) * factor))


def validate_name(name):
    if not name or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r: use 1 to 64 letters, digits, '_', '.', '+' or '-', starting "
                        "with a letter or digit" % (name,))
    return name


def normalize_mac(mac):
    text = str(mac).strip().lower().replace("-", ":")
    if not MAC_RE.match(text):
        raise SpecError("invalid MAC address %r: write six hex pairs separated by ':'" % (mac,))
    if int(text[:2], 16) & 1:
        raise SpecError("MAC address %r is a multicast address; the first octet must be even" % (mac,))
    return text


def target_name(prefix, index):
    """vda, vdb, ... vdz, vdaa, ... like libvirt's virDiskNameFromIndex."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


def default_cdrom_bus(machine):
    """q35 has no IDE controller: cdroms go on SATA there, on IDE on the i440fx 'pc' machines."""
    return "sata" if machine and "q35" in machine else "ide"


# --------------------------------------------------------------------------- spec (want)

def _disk_spec(raw, index):
    where = "disks[%d]" % index
    if not isinstance(raw, dict):
        raise SpecError("%s must be a dict" % where)
    disk = {"set": []}
    path, pool, volume = raw.get("path"), raw.get("pool"), raw.get("volume")
    if path and (pool or volume):
        raise SpecError("%s: give either path, or pool and volume, not both" % where)
    if path:
        if not str(path).startswith("/"):
            raise SpecError("%s: path %r must be absolute" % (where, path))
        disk["source"] = {"file": str(path)}
    elif pool and volume:
        disk["source"] = {"pool": str(pool), "volume": str(volume)}
    else:
        raise SpecError("%s: give path (a file), or pool and volume (a libvirt storage volume)" % where)
    for key in DISK_FIELDS:
        value = raw.get(key)
        if value is None:
            continue
        if key == "device" and value not in ("disk", "cdrom"):
            raise SpecError("%s: device must be disk or cdrom, not %r" % (where, value))
        if key == "bus" and value not in BUSES:
            raise SpecError("%s: bus must be one of %s, not %r" % (where, ", ".join(BUSES), value))
        if key == "format" and value not in DISK_FORMATS:
            raise SpecError("%s: format must be raw or qcow2, not %r" % (where, value))
        if key == "boot_order":
            value = int(value)
            if value < 1:
                raise SpecError("%s: boot_order must be 1 or more" % where)
        if key == "readonly":
            value = bool(value)
        if key == "target" and not re.match(r"^(vd|sd|hd)[a-z]{1,3}$", str(value)):
            raise SpecError("%s: target %r is not a disk name such as vda, sdb or hdc" % (where, value))
        disk[key] = value
        disk["set"].append(key)
    if disk.get("device") == "cdrom" and disk.get("bus") == "virtio":
        raise SpecError("%s: a cdrom cannot be on the virtio bus; use sata, scsi or ide" % where)
    if disk.get("target") and disk.get("bus"):
        if not disk["target"].startswith(TARGET_PREFIX[disk["bus"]]):
            raise SpecError("%s: target %s does not fit bus %s (use a name starting with %s)"
                            % (where, disk["target"], disk["bus"], TARGET_PREFIX[disk["bus"]]))
    return disk


def _nic_spec(raw, index):
    where = "interfaces[%d]" % index
    if not isinstance(raw, dict):
        raise SpecError("%s must be a dict" % where)
    bridge, network = raw.get("bridge"), raw.get("network")
    if bool(bridge) == bool(network):
        raise SpecError("%s: give exactly one of bridge (a Linux bridge on the host) or network "
                        "(a libvirt network)" % where)
    nic = {"set": []}
    nic["source"] = {"bridge": str(bridge)} if bridge else {"network": str(network)}
    if raw.get("model") is not None:
        if raw["model"] not in NIC_MODELS:
            raise SpecError("%s: model must be one of %s" % (where, ", ".join(NIC_MODELS)))
        nic["model"] = raw["model"]
        nic["set"].append("model")
    if raw.get("mac") is not None:
        nic["mac"] = normalize_mac(raw["mac"])
        nic["set"].append("mac")
    return nic


def build_spec(params):
    """Validate the structured options into a spec of the fields the user set. Raises SpecError."""
    spec = {"name": validate_name(params.get("name"))}
    if params.get("memory") is not None:
        spec["memory_kib"] = parse_memory(params["memory"])
    if params.get("vcpus") is not None:
        if not 1 <= int(params["vcpus"]) <= 512:
            raise SpecError("vcpus must be between 1 and 512, not %r" % params["vcpus"])
        spec["vcpus"] = int(params["vcpus"])
    for key in ("virt_type", "cpu_mode", "cpu_model", "machine", "firmware", "graphics"):
        if params.get(key) is not None:
            spec[key] = params[key]
    if spec.get("cpu_mode") == "custom" and not spec.get("cpu_model"):
        raise SpecError("cpu_mode=custom needs cpu_model (e.g. Skylake-Server or qemu64)")
    if spec.get("cpu_model") and spec.get("cpu_mode", "custom") != "custom":
        raise SpecError("cpu_model is only used with cpu_mode=custom")
    if spec.get("cpu_model"):
        spec["cpu_mode"] = "custom"
    for key in ("kernel", "initrd", "cmdline"):
        if params.get(key) is not None:
            value = str(params[key])
            if key != "cmdline" and value and not value.startswith("/"):
                raise SpecError("%s %r must be an absolute path ('' removes it)" % (key, value))
            spec[key] = value
    if spec.get("initrd") and not spec.get("kernel"):
        raise SpecError("initrd needs kernel")
    for key in ("serial_console", "rng", "autostart"):
        if params.get(key) is not None:
            spec[key] = bool(params[key])
    if params.get("disks") is not None:
        spec["disks"] = [_disk_spec(d, i) for i, d in enumerate(params["disks"])]
        seen = {}
        for i, disk in enumerate(spec["disks"]):
            key = source_key(disk["source"])
            if key in seen:
                raise SpecError("disks[%d] and disks[%d] name the same source %s" % (seen[key], i, key[1:]))
            seen[key] = i
        targets = [d["target"] for d in spec["disks"] if d.get("target")]
        if len(targets) != len(set(targets)):
            raise SpecError("two disks have the same target")
    if params.get("interfaces") is not None:
        spec["interfaces"] = [_nic_spec(n, i) for i, n in enumerate(params["interfaces"])]
        macs = [n["mac"] for n in spec["interfaces"] if n.get("mac")]
        if len(macs) != len(set(macs)):
            raise SpecError("two interfaces have the same MAC address")
    if params.get("cloud_init") is not None:
        spec["cloud_init"] = dict(params["cloud_init"])
    machine = spec.get("machine") or ""
    for disk in spec.get("disks", []):
        if disk.get("bus") == "ide" and "q35" in machine:
            raise SpecError("machine %s has no IDE bus; use sata for %s" % (machine, source_text(disk["source"])))
    return spec


def with_new_guest_defaults(spec):
    """The spec of a guest that does not exist yet: defaults filled in for what the user left out."""
    full = dict(spec)
    for key, value in NEW_GUEST_DEFAULTS.items():
        full.setdefault(key, value)
    return full


def source_key(source):
    if "file" in source:
        return ("file", source["file"])
    if "pool" in source:
        return ("volume", source["pool"], source["volume"])
    if "dev" in source:
        return ("block", source["dev"])
    return ("other", source.get("type", ""))


def source_text(source):
    if "file" in source:
        return source["file"]
    if "pool" in source:
        return "%s/%s" % (source["pool"], source["volume"])
    return source.get("dev") or source.get("type", "?")


# --------------------------------------------------------------------------- have

def _text(el, path):
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def parse_disk(el):
    source_el = el.find("source")
    dtype = el.get("type", "file")
    source = {}
    if source_el is not None:
        if dtype == "file" and source_el.get("file"):
            source = {"file": source_el.get("file")}
        elif dtype == "volume":
            source = {"pool": source_el.get("pool"), "volume": source_el.get("volume")}
        elif dtype == "block" and source_el.get("dev"):
            source = {"dev": source_el.get("dev")}
    if not source:
        source = {"type": dtype}
    target = el.find("target")
    driver = el.find("driver")
    boot = el.find("boot")
    return {
        "source": source,
        "device": el.get("device", "disk"),
        "bus": target.get("bus") if target is not None else None,
        "target": target.get("dev") if target is not None else None,
        "format": driver.get("type") if driver is not None else None,
        "readonly": el.find("readonly") is not None,
        "boot_order": int(boot.get("order")) if boot is not None and boot.get("order") else None,
    }


def parse_nic(el):
    itype = el.get("type")
    source_el = el.find("source")
    if itype == "bridge" and source_el is not None:
        source = {"bridge": source_el.get("bridge")}
    elif itype == "network" and source_el is not None:
        source = {"network": source_el.get("network")}
    else:
        source = {"type": itype}
    mac = el.find("mac")
    model = el.find("model")
    target = el.find("target")
    return {
        "source": source,
        "mac": mac.get("address").lower() if mac is not None and mac.get("address") else None,
        "model": model.get("type") if model is not None else None,
        "target": target.get("dev") if target is not None else None,
    }


def _seed_el(root):
    return root.find("metadata/{%s}guest/{%s}seed" % (META_NS, META_NS))


def seed_path_of(root):
    """The seed ISO path qemu_guest recorded in the domain's metadata, or None."""
    seed = _seed_el(root)
    return seed.get("path") if seed is not None else None


def seed_generated(root):
    """Whether qemu_guest built that seed itself (from inline user_data/meta_data)."""
    seed = _seed_el(root)
    return seed is not None and seed.get("generated") == "yes"


def parse_domain(xml_text):
    """A domain's XML -> have: the spec vocabulary plus the raw disk and interface lists."""
    root = ET.fromstring(xml_text) if isinstance(xml_text, str) else xml_text
    have = {"name": _text(root, "name"), "uuid": _text(root, "uuid"), "virt_type": root.get("type")}
    mem = root.find("memory")
    if mem is not None and mem.text:
        have["memory_kib"] = to_kib(mem.text.strip(), mem.get("unit"))
    vcpu = root.find("vcpu")
    if vcpu is not None and vcpu.text:
        have["vcpus"] = int(vcpu.get("current") or vcpu.text.strip())
    cpu = root.find("cpu")
    if cpu is None:
        have["cpu_mode"] = None
    else:
        mode = cpu.get("mode")
        if mode is None:
            mode = "custom" if cpu.find("model") is not None else None
        have["cpu_mode"] = mode
        have["cpu_model"] = _text(cpu, "model") if mode == "custom" else None
    os_el = root.find("os")
    if os_el is not None:
        type_el = os_el.find("type")
        have["machine"] = type_el.get("machine") if type_el is not None else None
        have["arch"] = type_el.get("arch") if type_el is not None else None
        loader = os_el.find("loader")
        uefi = os_el.get("firmware") == "efi" or (loader is not None and loader.get("type") == "pflash")
        have["firmware"] = "uefi" if uefi else "bios"
        for key in ("kernel", "initrd", "cmdline"):
            have[key] = _text(os_el, key) or ""
    devices = root.find("devices")
    devices = devices if devices is not None else ET.Element("devices")
    seed = seed_path_of(root)
    have["seed"] = seed
    have["seed_generated"] = seed_generated(root)
    disks = [parse_disk(d) for d in devices.findall("disk")]
    have["disks"] = [d for d in disks if not (seed and d["source"].get("file") == seed)]
    have["seed_disk"] = next((d for d in disks if seed and d["source"].get("file") == seed), None)
    have["all_disks"] = disks
    have["interfaces"] = [parse_nic(n) for n in devices.findall("interface")]
    have["serial_console"] = devices.find("serial") is not None or devices.find("console") is not None
    graphics = devices.find("graphics")
    have["graphics"] = graphics.get("type") if graphics is not None else "none"
    have["rng"] = devices.find("rng") is not None
    return have


# --------------------------------------------------------------------------- views and diff

def memory_text(kib):
    if kib is None:
        return None
    if kib % (1024 * 1024) == 0:
        return "%d GiB" % (kib // (1024 * 1024))
    if kib % 1024 == 0:
        return "%d MiB" % (kib // 1024)
    return "%d KiB" % kib


def _source_view(source):
    if "file" in source:
        return {"path": source["file"]}
    return dict(source)


def disk_view(disk, fields):
    out = _source_view(disk["source"])
    for key in fields:
        out[key] = disk.get(key)
    return out


def nic_view(nic, fields):
    out = dict(nic["source"])
    for key in fields:
        out[key] = nic.get(key)
    return out


def match_nics(want, have):
    """Pair wanted interfaces with existing ones: by MAC where the user gave one, then by position
    among the rest. Returns (pairs [(want_index, have_index or None)], unmatched have indexes)."""
    used = set()
    pairs = {}
    by_mac = {h.get("mac"): i for i, h in enumerate(have) if h.get("mac")}
    for wi, nic in enumerate(want):
        if nic.get("mac") and nic["mac"] in by_mac:
            pairs[wi] = by_mac[nic["mac"]]
            used.add(by_mac[nic["mac"]])
    free = [i for i in range(len(have)) if i not in used and not (
        have[i].get("mac") and have[i]["mac"] in [w.get("mac") for w in want])]
    for wi, nic in enumerate(want):
        if wi in pairs:
            continue
        if nic.get("mac"):   # a MAC not on the guest: a new interface
            pairs[wi] = None
            continue
        pairs[wi] = free.pop(0) if free else None
    matched = {hi for hi in pairs.values() if hi is not None}
    return [(wi, pairs[wi]) for wi in range(len(want))], [i for i in range(len(have)) if i not in matched]


def view(spec, have=None, state=None, autostart=None, seed_path=None):
    """(before, after) dicts of the fields the user set: *have* projected onto spec's fields, and spec.

    ``have`` None means the guest does not exist (before is {"state": "absent"})."""
    after, before = {}, {}
    if state is not None:
        after["state"] = state[1]
        before["state"] = state[0]
    for key in SCALAR_FIELDS:
        if key not in spec:
            continue
        want_value, have_value = spec[key], (have or {}).get(key)
        if key == "memory_kib":
            after["memory"], before["memory"] = memory_text(want_value), memory_text(have_value)
        else:
            after[key], before[key] = want_value, have_value
    if "autostart" in spec:
        after["autostart"], before["autostart"] = spec["autostart"], autostart
    if "disks" in spec:
        after["disks"] = [disk_view(d, d["set"]) for d in spec["disks"]]
        have_disks = (have or {}).get("disks", [])
        by_key = {source_key(d["source"]): d for d in have_disks}
        listed = []
        for disk in spec["disks"]:
            found = by_key.get(source_key(disk["source"]))
            if found is not None:
                listed.append(disk_view(found, disk["set"]))
        wanted = {source_key(d["source"]) for d in spec["disks"]}
        listed += [disk_view(d, ()) for d in have_disks if source_key(d["source"]) not in wanted]
        before["disks"] = listed
    if "interfaces" in spec:
        after["interfaces"] = [nic_view(n, n["set"]) for n in spec["interfaces"]]
        have_nics = (have or {}).get("interfaces", [])
        pairs, extra = match_nics(spec["interfaces"], have_nics)
        before["interfaces"] = ([nic_view(have_nics[hi], spec["interfaces"][wi]["set"])
                                 for wi, hi in pairs if hi is not None]
                                + [nic_view(have_nics[hi], ()) for hi in extra])
    if "cloud_init" in spec:
        after["cloud_init_seed"] = seed_path
        before["cloud_init_seed"] = (have or {}).get("seed")
    if have is None:
        before = {"state": "absent"} if state is not None else {}
    return before, after


def config_differs(before, after):
    """Whether the persistent configuration must change (everything but state and autostart)."""
    keys = (set(before) | set(after)) - {"state", "autostart"}
    return any(before.get(k) != after.get(k) for k in keys)


def user_view_keys(spec):
    """The keys of ``view`` output that show fields the user set in ``spec``."""
    names = {"memory_kib": "memory", "cloud_init": "cloud_init_seed"}
    return {names.get(key, key) for key in spec if key != "name"}


# --------------------------------------------------------------------------- editing XML

def _child(parent, tag, index=None):
    """The first child ``tag`` of parent, created (at ``index`` if given) when missing."""
    el = parent.find(tag)
    if el is None:
        el = ET.Element(tag)
        if index is None:
            parent.append(el)
        else:
            parent.insert(index, el)
    return el


TOP_ORDER = ("name", "uuid", "title", "description", "metadata", "memory", "currentMemory", "vcpu")


def _top_child(root, tag):
    """A top-level element, created where libvirt itself writes it (after name, uuid, metadata ...)."""
    el = root.find(tag)
    if el is None:
        el = ET.Element(tag)
        rank = TOP_ORDER.index(tag)
        index = 0
        for i, kid in enumerate(root):
            if kid.tag in TOP_ORDER and TOP_ORDER.index(kid.tag) < rank:
                index = i + 1
        root.insert(index, el)
    return el


def _remove_all(parent, tag):
    for el in parent.findall(tag):
        parent.remove(el)


def skeleton(name, arch="x86_64"):
    root = ET.Element("domain", {"type": "qemu"})
    ET.SubElement(root, "name").text = name
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", {"arch": arch}).text = "hvm"
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(root, "clock", {"offset": "utc"})
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart"
    ET.SubElement(root, "on_crash").text = "destroy"
    ET.SubElement(root, "devices")
    return root


def to_text(root):
    root = copy.deepcopy(root)
    for el in root.iter():
        if el.text is not None and not el.text.strip() and len(el):
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


class DomainEditor:
    """Applies a resolved spec onto a domain XML tree.

    ``spec`` is resolved: ``virt_type`` and ``cpu_mode`` are decided (no 'auto'), ``machine`` is the
    canonical name. ``resolved`` carries per-disk ``format``/``bus`` for new disks (same order as
    spec["disks"]) and ``seed`` ({path, bus, generated}) for the cloud-init seed.

    After ``apply()``, ``changes`` names what was edited, for the module's result.
    """

    def __init__(self, root, spec, resolved):
        self.root = root
        self.spec = spec
        self.resolved = resolved
        self.devices = _child(root, "devices")
        self.os = _child(root, "os")
        self.changes = []

    # ---- guest-wide settings
    def _scalars(self, have):
        spec, root = self.spec, self.root
        if "memory_kib" in spec and have.get("memory_kib") != spec["memory_kib"]:
            for tag in ("memory", "currentMemory"):
                el = _top_child(root, tag)
                el.attrib.clear()
                el.set("unit", "KiB")
                el.text = str(spec["memory_kib"])
            self.changes.append("memory")
        if "vcpus" in spec and have.get("vcpus") != spec["vcpus"]:
            el = _top_child(root, "vcpu")
            el.attrib.pop("current", None)
            el.set("placement", el.get("placement", "static"))
            el.text = str(spec["vcpus"])
            topo = root.find("cpu/topology")
            if topo is not None:
                total = 1
                for key in ("sockets", "dies", "cores", "threads"):
                    total *= int(topo.get(key, "1"))
                if total != spec["vcpus"]:
                    root.find("cpu").remove(topo)
            self.changes.append("vcpus")
        virt_type = spec.get("virt_type")
        if virt_type and root.get("type") != virt_type:
            root.set("type", virt_type)
            self.changes.append("virt_type")
        cpu_mode = spec.get("cpu_mode")
        if cpu_mode and (have.get("cpu_mode") != cpu_mode
                         or (cpu_mode == "custom" and have.get("cpu_model") != spec.get("cpu_model"))):
            old = root.find("cpu")
            topo = old.find("topology") if old is not None else None
            if old is not None:
                root.remove(old)
            cpu = ET.Element("cpu")
            if cpu_mode == "custom":
                cpu.set("mode", "custom")
                cpu.set("match", "exact")
                cpu.set("check", "partial")
                ET.SubElement(cpu, "model", {"fallback": "allow"}).text = spec["cpu_model"]
            else:
                cpu.set("mode", cpu_mode)
                if cpu_mode in ("host-passthrough", "maximum"):
                    cpu.set("check", "none")
            if topo is not None:
                cpu.append(topo)
            vcpu_el = root.find("vcpu")
            index = list(root).index(vcpu_el) + 1 if vcpu_el is not None else len(root)
            features = root.find("features")
            if features is not None:
                index = list(root).index(features) + 1
            root.insert(index, cpu)
            self.changes.append("cpu")
        type_el = _child(self.os, "type", 0)
        if spec.get("machine") and have.get("machine") != spec["machine"]:
            type_el.set("machine", spec["machine"])
            self.changes.append("machine")
        if "firmware" in spec and have.get("firmware") != spec["firmware"]:
            _remove_all(self.os, "loader")
            _remove_all(self.os, "nvram")
            _remove_all(self.os, "firmware")
            if spec["firmware"] == "uefi":
                # libvirt picks the firmware from QEMU's descriptors; without secure boot it needs no SMM
                # and works on both machine types.
                self.os.set("firmware", "efi")
                fw = ET.SubElement(self.os, "firmware")
                ET.SubElement(fw, "feature", {"enabled": "no", "name": "secure-boot"})
            else:
                self.os.attrib.pop("firmware", None)
                _remove_all(self.os, "firmware")
            self.changes.append("firmware")
        for key in ("kernel", "initrd", "cmdline"):
            if key in spec and (have.get(key) or "") != spec[key]:
                _remove_all(self.os, key)
                if spec[key]:
                    ET.SubElement(self.os, key).text = spec[key]
                self.changes.append(key)
        if "serial_console" in spec and have.get("serial_console") != spec["serial_console"]:
            _remove_all(self.devices, "serial")
            _remove_all(self.devices, "console")
            if spec["serial_console"]:
                serial = ET.SubElement(self.devices, "serial", {"type": "pty"})
                ET.SubElement(serial, "target", {"port": "0"})
                console = ET.SubElement(self.devices, "console", {"type": "pty"})
                ET.SubElement(console, "target", {"type": "serial", "port": "0"})
            self.changes.append("serial_console")
        if "graphics" in spec and have.get("graphics") != spec["graphics"]:
            _remove_all(self.devices, "graphics")
            _remove_all(self.devices, "video")
            if spec["graphics"] == "vnc":
                graphics = ET.SubElement(self.devices, "graphics",
                                         {"type": "vnc", "port": "-1", "autoport": "yes", "listen": "127.0.0.1"})
                ET.SubElement(graphics, "listen", {"type": "address", "address": "127.0.0.1"})
            self.changes.append("graphics")
        if "rng" in spec and have.get("rng") != spec["rng"]:
            _remove_all(self.devices, "rng")
            if spec["rng"]:
                rng = ET.SubElement(self.devices, "rng", {"model": "virtio"})
                ET.SubElement(rng, "backend", {"model": "random"}).text = "/dev/urandom"
            self.changes.append("rng")

    # ---- disks
    def _disk_element(self, disk, fmt, bus, target):
        dtype = "file" if "file" in disk["source"] else "volume"
        el = ET.Element("disk", {"type": dtype, "device": disk.get("device", "disk")})
        ET.SubElement(el, "driver", {"name": "qemu", "type": fmt})
        if dtype == "file":
            ET.SubElement(el, "source", {"file": disk["source"]["file"]})
        else:
            ET.SubElement(el, "source", {"pool": disk["source"]["pool"], "volume": disk["source"]["volume"]})
        ET.SubElement(el, "target", {"dev": target, "bus": bus})
        if disk.get("readonly") or disk.get("device") == "cdrom":
            ET.SubElement(el, "readonly")
        if disk.get("boot_order"):
            ET.SubElement(el, "boot", {"order": str(disk["boot_order"])})
        return el

    def _used_targets(self):
        return {el.find("target").get("dev") for el in self.devices.findall("disk")
                if el.find("target") is not None}

    def _next_target(self, bus, reserved):
        prefix = TARGET_PREFIX[bus]
        used = self._used_targets() | set(reserved)
        index = 0
        while target_name(prefix, index) in used:
            index += 1
        return target_name(prefix, index)

    def _insert_device(self, el):
        """New disks go after the last disk, new interfaces after the last interface (readable XML)."""
        kids = list(self.devices)
        same = [i for i, k in enumerate(kids) if k.tag == el.tag]
        if same:
            self.devices.insert(same[-1] + 1, el)
        else:
            self.devices.append(el)

    def _disks(self):
        seed = seed_path_of(self.root)
        elements = [el for el in self.devices.findall("disk")
                    if not (seed and el.find("source") is not None and el.find("source").get("file") == seed)]
        by_key = {source_key(parse_disk(el)["source"]): el for el in elements}
        wanted = set()
        # Targets still used by the running guest stay reserved, so a new disk can be plugged in live
        # even while an old one waits for the guest to release it.
        reserved = [d["target"] for d in self.spec["disks"] if d.get("target")] + list(
            self.resolved.get("busy_targets", ()))
        new_elements = []
        for i, disk in enumerate(self.spec["disks"]):
            key = source_key(disk["source"])
            wanted.add(key)
            el = by_key.get(key)
            res = self.resolved["disks"][i]
            if el is None:
                live_target = self.resolved.get("live_targets", {}).get(key)
                if live_target and live_target.startswith(TARGET_PREFIX[res["bus"]]) and live_target not in (
                        self._used_targets() | set(reserved) - {live_target}):
                    target = disk.get("target") or live_target      # the running guest has it there already
                else:
                    target = disk.get("target") or self._next_target(res["bus"], reserved)
                reserved.append(target)
                new = self._disk_element(disk, res["format"], res["bus"], target)
                new_elements.append(new)
                continue
            have = parse_disk(el)
            changed = False
            for key_name in disk["set"]:
                if have.get(key_name) == disk[key_name]:
                    continue
                changed = True
                target_el = _child(el, "target")
                if key_name == "bus":
                    target_el.set("bus", disk["bus"])
                    if "target" not in disk["set"]:
                        target_el.set("dev", self._next_target(disk["bus"], reserved))
                    _remove_all(el, "address")
                elif key_name == "target":
                    target_el.set("dev", disk["target"])
                    _remove_all(el, "address")
                elif key_name == "format":
                    _child(el, "driver").set("type", disk["format"])
                    el.find("driver").set("name", "qemu")
                elif key_name == "device":
                    el.set("device", disk["device"])
                elif key_name == "readonly":
                    _remove_all(el, "readonly")
                    if disk["readonly"]:
                        ET.SubElement(el, "readonly")
                elif key_name == "boot_order":
                    _remove_all(el, "boot")
                    ET.SubElement(el, "boot", {"order": str(disk["boot_order"])})
            if changed:
                self.changes.append("disk %s" % source_text(disk["source"]))
        for el in elements:
            if source_key(parse_disk(el)["source"]) not in wanted:
                self.devices.remove(el)
        for el in new_elements:
            self._insert_device(el)

    # ---- interfaces
    def _nic_element(self, nic, model):
        if "bridge" in nic["source"]:
            el = ET.Element("interface", {"type": "bridge"})
            if nic.get("mac"):
                ET.SubElement(el, "mac", {"address": nic["mac"]})
            ET.SubElement(el, "source", {"bridge": nic["source"]["bridge"]})
        else:
            el = ET.Element("interface", {"type": "network"})
            if nic.get("mac"):
                ET.SubElement(el, "mac", {"address": nic["mac"]})
            ET.SubElement(el, "source", {"network": nic["source"]["network"]})
        ET.SubElement(el, "model", {"type": model})
        return el

    def _interfaces(self):
        elements = self.devices.findall("interface")
        have = [parse_nic(el) for el in elements]
        pairs, extra = match_nics(self.spec["interfaces"], have)
        new_elements = []
        for wi, hi in pairs:
            nic = self.spec["interfaces"][wi]
            if hi is None:
                new = self._nic_element(nic, nic.get("model", "virtio"))
                new_elements.append(new)
                continue
            el, cur = elements[hi], have[hi]
            if cur["source"] != nic["source"]:
                kind = "bridge" if "bridge" in nic["source"] else "network"
                el.set("type", kind)
                _remove_all(el, "source")
                src = ET.Element("source", {kind: nic["source"][kind]})
                position = 1 if el.find("mac") is not None else 0
                el.insert(position, src)
            if "model" in nic["set"] and cur["model"] != nic["model"]:
                _child(el, "model").set("type", nic["model"])
                self.changes.append("interface %s model" % source_text_nic(nic))
            if "mac" in nic["set"] and cur["mac"] != nic["mac"]:
                _child(el, "mac", 0).set("address", nic["mac"])
                self.changes.append("interface %s mac" % source_text_nic(nic))
        for hi in extra:
            self.devices.remove(elements[hi])
        for el in new_elements:
            self._insert_device(el)

    # ---- cloud-init seed
    def _seed(self, have_seed):
        seed = self.resolved["seed"]
        meta = _top_child(self.root, "metadata")
        guest = meta.find("{%s}guest" % META_NS)
        if guest is None:
            guest = ET.SubElement(meta, "{%s}guest" % META_NS)
        _remove_all(guest, "{%s}seed" % META_NS)
        ET.SubElement(guest, "{%s}seed" % META_NS,
                      {"path": seed["path"], "generated": "yes" if seed.get("generated") else "no"})
        old = None
        if have_seed:
            for el in self.devices.findall("disk"):
                src = el.find("source")
                if src is not None and src.get("file") == have_seed:
                    old = el
        if old is not None:
            old.find("source").set("file", seed["path"])
            return
        target = self._next_target(seed["bus"], [])
        new = self._disk_element({"source": {"file": seed["path"]}, "device": "cdrom", "readonly": True},
                                 "raw", seed["bus"], target)
        self._insert_device(new)

    def apply(self, have, before, after):
        """Edit the tree for every field where *before* and *after* differ (see ``view``)."""
        self._scalars(have)
        if "disks" in self.spec and before.get("disks") != after.get("disks"):
            self._disks()
        if "interfaces" in self.spec and before.get("interfaces") != after.get("interfaces"):
            self._interfaces()
        seed = self.resolved.get("seed")
        if seed and (have.get("seed") != seed["path"] or have.get("seed_generated") != bool(seed.get("generated"))):
            self._seed(have.get("seed"))
        if any(el.find("boot") is not None for el in self.devices.findall("disk")):
            _remove_all(self.os, "boot")     # libvirt refuses per-device boot order together with <os><boot>
        elif self.os.find("boot") is None and self.os.find("kernel") is None:
            ET.SubElement(self.os, "boot", {"dev": "hd"})
        return self.root


def source_text_nic(nic):
    src = nic["source"]
    return src.get("bridge") or src.get("network") or src.get("type", "?")


def device_xml(el):
    """One device element as the XML text the attach/detach/update calls take."""
    return to_text(el)


# --------------------------------------------------------------------------- running guest vs persistent config

def _disk_id(disk):
    return source_key(disk["source"])


def pending_changes(cfg, live):
    """Names of what the persistent config (``cfg``) has and the running guest (``live``) lacks that
    only a restart brings (both parse_domain results). Device additions/removals that ``live_ops``
    can apply are not listed."""
    pending = []
    for key in ("memory_kib", "vcpus", "virt_type", "machine", "kernel", "initrd", "cmdline",
                "serial_console", "graphics", "rng", "firmware"):
        if cfg.get(key) != live.get(key):
            pending.append(key)
    if cfg.get("cpu_mode") in ("host-passthrough", "maximum", "custom") and (
            cfg.get("cpu_mode") != live.get("cpu_mode") or cfg.get("cpu_model") != live.get("cpu_model")):
        pending.append("cpu")
    live_disks = {_disk_id(d): d for d in live["all_disks"]}
    for disk in cfg["all_disks"]:
        other = live_disks.get(_disk_id(disk))
        if other is None:
            continue
        for key in ("bus", "device", "readonly", "boot_order", "target", "format"):
            if disk.get(key) != other.get(key):
                pending.append("disk %s %s" % (source_text(disk["source"]), key))
    live_nics = {n["mac"]: n for n in live["interfaces"] if n.get("mac")}
    for nic in cfg["interfaces"]:
        other = live_nics.get(nic.get("mac"))
        if other is not None and nic.get("model") != other.get("model"):
            pending.append("interface %s model" % nic.get("mac"))
    return pending


def _for_attach(el):
    """A device of the persistent config, without its address: the running guest may have that slot taken."""
    el = copy.deepcopy(el)
    for addr in el.findall("address"):
        el.remove(addr)
    return el


def _with_source(live_el, cfg_el):
    """The running guest's device with the source (and type) of the configured one, for an update."""
    el = copy.deepcopy(live_el)
    el.set("type", cfg_el.get("type"))
    position = None
    for i, kid in enumerate(list(el)):
        if kid.tag == "source":
            position = i if position is None else position
            el.remove(kid)
    src = cfg_el.find("source")
    if src is not None:
        el.insert(position if position is not None else 0, copy.deepcopy(src))
    return el


def live_ops(cfg_root, live_root):
    """Device operations that bring the running guest's devices in line with the persistent config:
    [(op, description, element)] with op attach (in config only), detach (live only) or update
    (a cdrom's media, an interface's source)."""
    ops = []
    cfg_disks = cfg_root.findall("devices/disk")
    live_disks = live_root.findall("devices/disk")
    cfg_parsed = [parse_disk(el) for el in cfg_disks]
    live_parsed = [parse_disk(el) for el in live_disks]
    live_keys = {_disk_id(d): i for i, d in enumerate(live_parsed)}
    cfg_keys = {_disk_id(d): i for i, d in enumerate(cfg_parsed)}
    unpaired_cfg = [i for i, d in enumerate(cfg_parsed) if _disk_id(d) not in live_keys]
    unpaired_live = [i for i, d in enumerate(live_parsed) if _disk_id(d) not in cfg_keys]
    for ci in list(unpaired_cfg):
        disk = cfg_parsed[ci]
        if disk["device"] != "cdrom":
            continue
        for li in unpaired_live:
            if live_parsed[li]["device"] == "cdrom" and live_parsed[li]["target"] == disk["target"]:
                ops.append(("update", "cdrom %s media" % disk["target"], _with_source(live_disks[li], cfg_disks[ci])))
                unpaired_cfg.remove(ci)
                unpaired_live.remove(li)
                break
    for li in unpaired_live:
        ops.append(("detach", "disk %s" % source_text(live_parsed[li]["source"]), live_disks[li]))
    for ci in unpaired_cfg:
        ops.append(("attach", "disk %s" % source_text(cfg_parsed[ci]["source"]), _for_attach(cfg_disks[ci])))
    cfg_nics = cfg_root.findall("devices/interface")
    live_nics = live_root.findall("devices/interface")
    live_by_mac = {parse_nic(el)["mac"]: el for el in live_nics}
    cfg_macs = set()
    for el in cfg_nics:
        nic = parse_nic(el)
        cfg_macs.add(nic["mac"])
        other = live_by_mac.get(nic["mac"])
        if other is None:
            ops.append(("attach", "interface %s" % nic["mac"], _for_attach(el)))
        elif parse_nic(other)["source"] != nic["source"]:
            ops.append(("update", "interface %s source" % nic["mac"], _with_source(other, el)))
    for mac, el in live_by_mac.items():
        if mac not in cfg_macs:
            ops.append(("detach", "interface %s" % mac, el))
    return ops


# --------------------------------------------------------------------------- raw XML

MEMORY_TAGS = ("memory", "currentMemory", "maxMemory")


def _attr_equal(tag, key, want, have, canon):
    if have is None:
        return False
    if key == "address" and tag == "mac":
        return want.lower() == have.lower()
    if key == "machine" and tag == "type" and canon is not None:
        return canon(want) == canon(have)
    return want == have


def _match(u, h, canon):
    """Whether element u (the user's) is matched by h (libvirt's), on what u says only.
    Returns the list of (u, h) pairs of the whole subtree, or None."""
    if u.tag != h.tag:
        return None
    for key, value in u.attrib.items():
        if u.tag in MEMORY_TAGS and key == "unit":
            continue
        if not _attr_equal(u.tag, key, value, h.get(key), canon):
            return None
    utext = (u.text or "").strip()
    if utext:
        htext = (h.text or "").strip()
        if u.tag in MEMORY_TAGS:
            try:
                if to_kib(utext, u.get("unit")) != to_kib(htext, h.get("unit")):
                    return None
            except ValueError:
                return None
        elif utext != htext:
            return None
    pairs = [(u, h)]
    used = set()
    for uchild in u:
        for i, hchild in enumerate(h):
            if i in used:
                continue
            sub = _match(uchild, hchild, canon)
            if sub is not None:
                used.add(i)
                pairs.extend(sub)
                break
        else:
            return None
    return pairs


def xml_subset(user_root, have_root, canon=None):
    """True when everything the user's XML says is also in libvirt's XML for the guest."""
    return _match(user_root, have_root, canon) is not None


def project(user_root, have_root, canon=None):
    """libvirt's XML cut down to the elements and attributes the user's XML names (for the diff)."""

    def walk(u, h):
        # Where libvirt's value means the same as the user's (units, aliases, case), show the user's form,
        # so the diff shows real differences only.
        attrs = {}
        for key, value in u.attrib.items():
            if h.get(key) is None:
                continue
            attrs[key] = value if _attr_equal(u.tag, key, value, h.get(key), canon) else h.get(key)
        out = ET.Element(h.tag, attrs)
        if (u.text or "").strip():
            out.text = h.text
        if u.tag in MEMORY_TAGS and (u.text or "").strip() and (h.text or "").strip():
            same = to_kib(u.text.strip(), u.get("unit")) == to_kib(h.text.strip(), h.get("unit"))
            out.text = u.text if same else h.text
            unit = u.get("unit") if same else h.get("unit")
            out.attrib.pop("unit", None)
            if unit:
                out.set("unit", unit)
        used = set()
        for uchild in u:
            best = None
            for i, hchild in enumerate(h):
                if i in used or hchild.tag != uchild.tag:
                    continue
                if _match(uchild, hchild, canon) is not None:
                    best = i
                    break
                if best is None:
                    best = i
            if best is not None:
                used.add(best)
                out.append(walk(uchild, h[best]))
        return out

    if user_root.tag != have_root.tag:
        return have_root
    return walk(user_root, have_root)
