"""Cinder's backends, from the inventory, as pure functions.

``cinder_backend_section(backend, sections, defaults)`` is the cinder.conf section of one
item of ``cinder_backends``: the driver's settings (``sections[driver]``), its
``volume_backend_name``, and what the item or the defaults name: for rbd the pool, the
cephx user and ``backend_host`` (``rbd:<pool>``, so that any cinder-volume host can manage
the backend's volumes, as kolla-ansible does); for lvm the volume group.

``cinder_backend_problems(backends, enabled, host, features, disks)`` checks the backends
against the inventory and one host's report (``features``: ``{'device-mapper': bool,
'iscsi_tcp': bool}``; ``disks``: ``{path: state}`` as the swift and ceph roles read them,
plus ``pv:<vg>`` for a disk that is already a physical volume of the volume group ``vg``)
and returns one message per problem, each naming the value and the fix. ``host`` may be
``None`` for the checks that need no host.
"""
from ansible.errors import AnsibleFilterError

DRIVERS = {"rbd": {"name", "driver", "pool", "user"},
           "lvm": {"name", "driver", "disks", "volume_group", "force"}}


def cinder_backend_section(backend, sections, defaults):
    driver = backend.get("driver")
    if driver not in sections:
        raise AnsibleFilterError("cinder backend %s: unknown driver %r; use one of %s"
                                 % (backend.get("name"), driver, ", ".join(sorted(sections))))
    out = dict(sections[driver])
    out["volume_backend_name"] = backend["name"]
    if driver == "rbd":
        out["rbd_pool"] = backend.get("pool") or defaults["rbd_pool"]
        out["rbd_user"] = backend.get("user") or defaults["rbd_user"]
        out["backend_host"] = "rbd:%s" % out["rbd_pool"]
    elif driver == "lvm":
        out["volume_group"] = backend.get("volume_group") or defaults["volume_group"]
    return out


def cinder_backend_problems(backends, enabled, host=None, features=None, disks=None, role="volume",
                            vg_default="cinder-volumes"):
    problems = []
    backends = backends or []
    names = []
    for item in backends:
        if not isinstance(item, dict) or not item.get("name"):
            problems.append("cinder_backends item %r has no name; give each backend {name: ..., driver: ...}." % (item,))
            continue
        name = str(item["name"])
        if name in names:
            problems.append("cinder backend %s is defined twice in cinder_backends; define it once." % name)
        names.append(name)
        driver = item.get("driver")
        if driver not in DRIVERS:
            problems.append("cinder backend %s has driver %r; use rbd (Ceph) or lvm (LVM + iSCSI)." % (name, driver))
            continue
        unknown = set(item) - DRIVERS[driver]
        if unknown:
            problems.append("cinder backend %s has unknown key(s) %s; a %s backend takes %s."
                            % (name, ", ".join(sorted(unknown)), driver, ", ".join(sorted(DRIVERS[driver]))))
        if driver == "lvm" and not item.get("disks"):
            problems.append("cinder backend %s (lvm) names no disks; list the volume group's disks "
                            "(disks: [/dev/...])." % name)
    enabled = list(enabled or [])
    if not enabled:
        problems.append("cinder_enabled_backends is empty; name at least one backend of cinder_backends (%s)."
                        % (", ".join(names) or "none defined"))
    for name in enabled:
        if name not in names:
            problems.append("cinder_enabled_backends names %s, which no item of cinder_backends defines (defined: "
                            "%s); add a backend of that name, or correct the name." % (name, ", ".join(names) or "none"))
    if host is None:
        return problems
    features = features or {}
    disks = disks or {}
    for item in backends:
        if not isinstance(item, dict) or item.get("name") not in enabled or item.get("driver") != "lvm":
            continue
        name = item["name"]
        if role == "volume":
            if not features.get("device-mapper"):
                problems.append("%s: cinder backend %s (lvm) needs the kernel's device-mapper, which this host "
                                "lacks (no device-mapper in /proc/misc); use an rbd backend here, or a host "
                                "whose kernel has dm_mod." % (host, name))
            for disk in item.get("disks") or []:
                state = disks.get(disk, "missing")
                if state == "missing":
                    problems.append("%s: cinder backend %s names disk %s, which does not exist on the node; name a "
                                    "block device that does (lsblk lists them)." % (host, name, disk))
                elif state == "pv:%s" % (item.get("volume_group") or vg_default):
                    continue
                elif state != "blank" and not item.get("force"):
                    problems.append("%s: disk %s (cinder backend %s) holds %s; a volume group is made only on a "
                                    "blank disk. Name another disk, or add force: true to have its content "
                                    "destroyed." % (host, disk, name, state))
        elif role == "compute" and not features.get("iscsi_tcp"):
            problems.append("%s: cinder backend %s (lvm) exports volumes over iSCSI, and this compute host has no "
                            "iscsi_tcp kernel module to attach them; use an rbd backend, or a kernel with "
                            "iscsi_tcp." % (host, name))
    return problems


class FilterModule:
    def filters(self):
        return {"cinder_backend_section": cinder_backend_section, "cinder_backend_problems": cinder_backend_problems}
