# -*- coding: utf-8 -*-
"""The one place the suite's libvirt modules (qemu_guest, storage_volume) reach libvirt.

- ``require_binding(module)``: fails the task with ``missing_required_lib`` when the python
  binding is not installed for the managed host's interpreter. The binding is optional at import
  time, so this is a clear message rather than a traceback, and unit tests import this file
  without it.
- ``connection_argument_spec()`` and ``open_connection(uri)``: the ``uri`` option (documented once in
  doc_fragments/libvirt_connection.py) and a read-write connection to it, or ``VirtConnectionError``
  naming the URI and saying how to get libvirtd running.
- ``error_code`` / ``is_libvirt_error`` and libvirt's error numbers and flags (stable ABI values, so
  pure code can compare them without the binding).
- Domain plumbing for qemu_guest: ``lookup_domain``, ``domain_state``, ``wait_for_state``,
  ``interface_addresses``; and the host's capabilities (``parse_caps``, ``canonical_machine``).

Unit-tested in tests/unit/test_libvirt_common.py.
"""

import time
import traceback
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import missing_required_lib

try:
    import libvirt
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None


# --------------------------------------------------------------------------- connection

LIBVIRT_REQUIREMENT = "libvirt-python (Debian: python3-libvirt)"
DEFAULT_URI = "qemu:///system"

ERR_NO_DOMAIN = 42           # VIR_ERR_NO_DOMAIN
ERR_NO_NETWORK = 43          # VIR_ERR_NO_NETWORK
ERR_NO_STORAGE_POOL = 49     # VIR_ERR_NO_STORAGE_POOL
ERR_NO_STORAGE_VOL = 50      # VIR_ERR_NO_STORAGE_VOL


class VirtConnectionError(Exception):
    """libvirt could not be reached at the given URI (or the binding is missing)."""

    def __init__(self, msg, uri=None):
        super().__init__(msg)
        self.msg = msg
        self.uri = uri


def _silence(_ctx, _err):
    """libvirt prints every error to stderr by default; the modules report them themselves."""


def error_code(exc):
    """The libvirt error code of a ``libvirt.libvirtError`` (None for anything else)."""
    getter = getattr(exc, "get_error_code", None)
    return getter() if getter else None


def is_libvirt_error(exc):
    return libvirt is not None and isinstance(exc, libvirt.libvirtError)


def require_binding(module):
    """Fail the task, naming the package to install, when the python libvirt binding is missing."""
    if not HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib(LIBVIRT_REQUIREMENT), exception=LIBVIRT_IMPORT_ERROR)


def connection_argument_spec():
    """The ``uri`` option of every libvirt module (its documentation: doc_fragments/libvirt_connection.py)."""
    return dict(uri=dict(type="str", default=DEFAULT_URI))


def open_connection(uri=DEFAULT_URI):
    """A read-write ``virConnect`` to ``uri``; ``VirtConnectionError`` naming the URI otherwise."""
    if libvirt is None:
        raise VirtConnectionError("the python libvirt binding is missing: install %s" % LIBVIRT_REQUIREMENT, uri)
    libvirt.registerErrorHandler(_silence, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise VirtConnectionError(
            "cannot connect to libvirt at %s: %s. Start libvirtd on the managed host (with systemd: "
            "'systemctl start libvirtd'; without systemd: 'virtlogd -d && libvirtd -d'), or set uri to a "
            "libvirt that is running" % (uri, exc), uri)
    if conn is None:  # pragma: no cover - older bindings returned None instead of raising
        raise VirtConnectionError("cannot connect to libvirt at %s; start libvirtd or fix uri" % uri, uri)
    return conn


# --------------------------------------------------------------------------- domains

# libvirt's numeric constants, so this module also loads (and its unit tests run) without the binding.
DOMAIN_STATES = {
    0: "unknown",      # VIR_DOMAIN_NOSTATE
    1: "running",      # VIR_DOMAIN_RUNNING
    2: "running",      # VIR_DOMAIN_BLOCKED (running, waiting on a resource)
    3: "paused",       # VIR_DOMAIN_PAUSED
    4: "shutting_down",  # VIR_DOMAIN_SHUTDOWN (shutdown in progress)
    5: "shutoff",      # VIR_DOMAIN_SHUTOFF
    6: "crashed",      # VIR_DOMAIN_CRASHED
    7: "pmsuspended",  # VIR_DOMAIN_PMSUSPENDED
}
XML_INACTIVE = 2             # VIR_DOMAIN_XML_INACTIVE
AFFECT_LIVE = 1              # VIR_DOMAIN_AFFECT_LIVE
AFFECT_CONFIG = 2            # VIR_DOMAIN_AFFECT_CONFIG
START_PAUSED = 1             # VIR_DOMAIN_START_PAUSED
SHUTDOWN_ACPI_POWER_BTN = 1  # VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN
UNDEFINE_MANAGED_SAVE = 1    # VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
UNDEFINE_SNAPSHOTS_METADATA = 2  # VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
UNDEFINE_NVRAM = 4           # VIR_DOMAIN_UNDEFINE_NVRAM
UNDEFINE_CHECKPOINTS_METADATA = 16  # VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
ADDR_SOURCES = (("lease", 0), ("agent", 1), ("arp", 2))  # VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*


class GuestError(Exception):
    """A failure to report with fail_json; ``details`` go into the result as extra keys."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def lookup_domain(conn, name):
    """The virDomain called ``name``, or None if libvirt has none."""
    try:
        return conn.lookupByName(name)
    except Exception as exc:
        if not is_libvirt_error(exc):
            raise
        if error_code(exc) == ERR_NO_DOMAIN:
            return None
        raise GuestError("cannot look up domain %s: %s" % (name, exc))


def domain_state(dom):
    """The domain's state as a word (see DOMAIN_STATES); 'absent' for None."""
    if dom is None:
        return "absent"
    try:
        code = dom.state()[0]
    except Exception as exc:  # the domain vanished under us (transient guest stopped)
        if is_libvirt_error(exc) and error_code(exc) == ERR_NO_DOMAIN:
            return "absent"
        raise
    return DOMAIN_STATES.get(code, "unknown")


def wait_for_state(dom, wanted, timeout, interval=0.2, clock=time.monotonic, sleep=time.sleep):
    """Poll until the domain's state is in ``wanted``; return (reached, last_state)."""
    deadline = clock() + timeout
    while True:
        state = domain_state(dom)
        if state in wanted:
            return True, state
        if clock() >= deadline:
            return False, state
        sleep(interval)


def host_neighbors(path="/proc/net/arp"):
    """{mac: [ipv4]} of the complete entries of the host's ARP table (/proc/net/arp)."""
    found = {}
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 6:
            continue
        addr, flags, mac = fields[0], fields[2], fields[3].lower()
        if int(flags, 16) & 0x2 and mac != "00:00:00:00:00:00":
            found.setdefault(mac, []).append(addr)
    return found


def is_local_uri(uri):
    """Whether the URI names libvirt on this host (no host part), so the host's tables are the guest's."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    return rest.startswith("/") or rest == ""


def interface_addresses(dom, macs=(), local=False, arp_path="/proc/net/arp"):
    """{mac: [{"addr", "prefix", "type", "source"}]} from every address source libvirt can ask,
    best effort: sources that are unsupported or have nothing (no agent, no lease) are skipped.
    With ``local`` (libvirt runs on this host), the host's ARP table fills in what libvirt's own
    ARP source misses (libvirt 9.0 cannot parse the neighbour messages of recent kernels)."""
    found = {mac.lower(): [] for mac in macs if mac}
    for source_name, source in ADDR_SOURCES:
        try:
            ifaces = dom.interfaceAddresses(source, 0)
        except Exception:  # no guest agent, no lease file, too old a libvirt: nothing from this source
            continue
        for ifname, data in (ifaces or {}).items():
            mac = (data.get("hwaddr") or "").lower()
            if not mac:
                continue
            entries = found.setdefault(mac, [])
            for addr in data.get("addrs") or []:
                entry = {
                    "addr": addr.get("addr"),
                    "prefix": addr.get("prefix"),
                    "type": "ipv6" if addr.get("type") == 1 else "ipv4",
                    "source": source_name,
                }
                if not any(e["addr"] == entry["addr"] for e in entries):
                    entries.append(entry)
    if local:
        for mac, addrs in host_neighbors(arp_path).items():
            entries = found.get(mac)
            if entries is None:
                continue
            for addr in addrs:
                if not any(e["addr"] == addr for e in entries):
                    entries.append({"addr": addr, "prefix": None, "type": "ipv4", "source": "host-arp"})
    return found


# --------------------------------------------------------------------------- capabilities

def parse_caps(caps_xml, arch="x86_64"):
    """From libvirt's capabilities: emulator, machine aliases, and whether kvm is listed for ``arch``."""
    root = ET.fromstring(caps_xml)
    out = {"emulator": None, "machines": {}, "kvm_listed": False}
    for guest in root.findall("guest"):
        arch_el = guest.find("arch")
        if guest.findtext("os_type") != "hvm" or arch_el is None or arch_el.get("name") != arch:
            continue
        out["emulator"] = arch_el.findtext("emulator")
        for machine in arch_el.iter("machine"):
            name = (machine.text or "").strip()
            if name:
                out["machines"][name] = machine.get("canonical") or name
        out["kvm_listed"] = any(d.get("type") == "kvm" for d in arch_el.findall("domain"))
    return out


def canonical_machine(caps, machine):
    return caps["machines"].get(machine, machine)
