"""Swift's storage devices, from the inventory, as pure functions.

``swift_ring_devices(hosts, hostvars)`` lists every device of the storage hosts the way
the rings name them: ``{host, ip, device, weight, zone, region}``, where ``ip`` is the
host's ``swift_storage_bind_address`` or else its ``ostack_mgmt_address``.

``swift_device_problems(devices, host, disks, mount_check)`` checks one host's
``swift_devices`` against what the node reports of its disks (``{path: state}``, state
``missing``, ``blank``, ``fs:<type>`` or ``data:<signatures>``) and returns one message per
problem, each naming the host, the value and the fix. A disk holding a filesystem or any
other data is never formatted: ``format: true`` is for blank disks only, and a disk with a
filesystem is used as it is only when ``force: true`` says so.
"""
import re

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEYS = {"name", "disk", "format", "force", "weight", "zone", "region"}


def _get(mapping, key, default=None):
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def swift_ring_devices(hosts, hostvars):
    out = []
    for host in hosts or []:
        hv = hostvars[host]
        ip = _get(hv, "swift_storage_bind_address") or _get(hv, "ostack_mgmt_address")
        for dev in _get(hv, "swift_devices", []) or []:
            if not isinstance(dev, dict) or "name" not in dev:
                raise AnsibleFilterError("%s: every item of swift_devices needs a name, got %r" % (host, dev))
            out.append({"host": host, "ip": ip, "device": str(dev["name"]),
                        "weight": float(dev.get("weight", 100)), "zone": int(dev.get("zone", 1)),
                        "region": int(dev.get("region", 1))})
    return out


def swift_device_problems(devices, host, disks=None, mount_check=True):
    problems = []
    disks = disks or {}
    if not devices:
        return ["%s is in the storage group but swift_devices is empty; list its devices there "
                "(see roles/swift/defaults/main.yml)." % host]
    seen = set()
    for dev in devices:
        if not isinstance(dev, dict) or "name" not in dev:
            problems.append("%s: swift_devices item %r has no name; give each device {name: ...}." % (host, dev))
            continue
        name = str(dev["name"])
        unknown = set(dev) - _KEYS
        if unknown:
            problems.append("%s: swift_devices item %s has unknown key(s) %s; the keys are %s."
                            % (host, name, ", ".join(sorted(unknown)), ", ".join(sorted(_KEYS))))
        if not _NAME.match(name):
            problems.append("%s: swift device name %r is not a plain directory name; use letters, digits, "
                            "'.', '_' or '-'." % (host, name))
        if name in seen:
            problems.append("%s: swift device %s is listed twice in swift_devices; list it once." % (host, name))
        seen.add(name)
        try:
            if float(dev.get("weight", 100)) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append("%s: swift device %s has weight %r; give a number above 0." % (host, name, dev.get("weight")))
        disk = dev.get("disk")
        if disk is None:
            if dev.get("format") or dev.get("force"):
                problems.append("%s: swift device %s has format/force but no disk; name the disk (disk: /dev/...) "
                                "or drop them." % (host, name))
            continue
        disk = str(disk)
        state = disks.get(disk, "missing")
        if not disk.startswith("/dev/") or state == "missing":
            problems.append("%s: swift device %s names disk %s, which does not exist on the node; name a block "
                            "device that does (lsblk lists them)." % (host, name, disk))
        elif state == "blank":
            if not dev.get("format"):
                problems.append("%s: disk %s (swift device %s) is blank; add format: true to have it formatted "
                                "with XFS, or make a filesystem on it yourself." % (host, disk, name))
        elif state.startswith("fs:"):
            if dev.get("format"):
                problems.append("%s: disk %s (swift device %s) holds a %s filesystem and is never formatted; "
                                "remove format: true (and add force: true to use the filesystem as it is), or "
                                "wipe the disk yourself." % (host, disk, name, state[3:]))
            elif not dev.get("force"):
                problems.append("%s: disk %s (swift device %s) holds a %s filesystem, perhaps with data; add "
                                "force: true to use it as it is (it is not formatted)." % (host, disk, name, state[3:]))
        else:
            problems.append("%s: disk %s (swift device %s) holds data (%s) and no filesystem; it is never "
                            "formatted. Name another disk, or wipe this one yourself."
                            % (host, disk, name, state.split(":", 1)[-1] or "unknown signature"))
    if not mount_check and any(d.get("disk") for d in devices if isinstance(d, dict)):
        problems.append("%s: swift_mount_check is false but swift_devices names disks; with disks keep it true, "
                        "or a failed disk's data lands on the root filesystem." % host)
    return problems


class FilterModule:
    def filters(self):
        return {"swift_ring_devices": swift_ring_devices, "swift_device_problems": swift_device_problems}
