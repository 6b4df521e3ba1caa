# -*- coding: utf-8 -*-
"""Linux bridges through iproute2's JSON output (``ip -j``): want, have, commands, files.

The ``linux_bridge`` module (library/linux_bridge.py) is a thin shell around this file.
Everything that can be pure is pure and unit-tested (tests/unit/test_linux_bridge.py):

- ``build_want``: validate the module parameters into a ``Want`` before anything is touched;
- ``parse_links`` / ``parse_addresses`` / ``build_state``: ``ip -j -d link show`` and
  ``ip -j addr show`` into a ``BridgeState`` (*have*);
- ``derive_steps``: the ``ip`` commands that turn *have* into *want*;
- ``ssh_interfaces`` / ``ssh_risks``: which interfaces carry the current SSH connection and
  which planned commands would touch them;
- ``networkd_files`` / ``ifupdown_files`` / ``plan_files``: the persistent form.

``BridgeManager`` ties them together: it reads through ``module.run_command``, runs the
commands only outside check mode, writes files with ``module.atomic_move`` and raises typed
``LinuxBridgeError`` subclasses that the module turns into one ``fail_json``.
"""
from __future__ import annotations

import gzip
import ipaddress
import json
import os
import re
import shlex
import tempfile
from dataclasses import dataclass, field

IFNAME_MAX = 15             # IFNAMSIZ - 1
MTU_MIN = 68                # the bridge driver's min_mtu
MTU_MAX = 65535             # the bridge driver's max_mtu
IPV6_MIN_MTU = 1280         # below this the kernel disables IPv6 on the device
NETNS_RUN_DIR = "/var/run/netns"
PERSIST_FORMS = ("none", "networkd", "ifupdown", "auto")
FILE_HEADER = "# Managed by Ansible (linux_bridge module); local changes will be overwritten.\n"
NOTHING_CHANGED = "Nothing was changed."


# --------------------------------------------------------------------------- errors

class LinuxBridgeError(Exception):
    """Base of every error the module reports; ``details`` go into the fail_json result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


class ValidationError(LinuxBridgeError):
    """A parameter is invalid; raised before anything is read or changed."""


class NetnsNotFoundError(LinuxBridgeError):
    """The network namespace named in ``netns`` does not exist."""


class InterfaceNotFoundError(LinuxBridgeError):
    """An interface named in ``ports`` does not exist."""


class InterfaceConflictError(LinuxBridgeError):
    """An interface exists but cannot play the role asked of it (not a bridge, or not a port)."""


class UnsupportedError(LinuxBridgeError):
    """The running kernel lacks a feature the parameters ask for."""


class SSHInterfaceError(LinuxBridgeError):
    """The change would touch the interface that carries the current SSH connection."""


class CommandError(LinuxBridgeError):
    """An ``ip`` command failed or printed something that is not JSON."""


class NotConvergedError(LinuxBridgeError):
    """The commands ran, but reading the kernel state back still shows differences."""


class PersistError(LinuxBridgeError):
    """A persistent configuration file could not be read or written."""


# --------------------------------------------------------------------------- want

_IFNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def ifname_problem(name, what="name"):
    """Why ``name`` is not a usable interface name, or None when it is."""
    if not name:
        return f"{what} is empty; give an interface name of 1 to {IFNAME_MAX} characters"
    if len(name) > IFNAME_MAX:
        return (f"{what} {name!r} is {len(name)} characters long; Linux interface names have at most "
                f"{IFNAME_MAX}: choose a shorter name")
    bad = sorted({c for c in name if c not in _IFNAME_CHARS})
    if bad:
        return (f"{what} {name!r} contains {', '.join(repr(c) for c in bad)}; use only letters, digits, "
                f"'_', '.' and '-'")
    if name[0] in ".-":
        return f"{what} {name!r} starts with {name[0]!r}; start it with a letter, a digit or '_'"
    return None


def parse_cidr(text):
    """``'10.0.0.1/24'`` -> ``IPv4Interface``; raises ValueError with a message saying what to write."""
    text = str(text).strip()
    if "/" not in text:
        raise ValueError(f"address {text!r} has no prefix length; write it in CIDR form, e.g. {text}/24 "
                         f"(IPv4) or {text}/64 (IPv6)")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise ValueError(f"address {text!r} is not a valid IPv4 or IPv6 CIDR ({exc}); write it as "
                         f"ADDRESS/PREFIX, e.g. 10.0.0.1/24 or fd00::1/64") from None
    if iface.ip.is_unspecified or iface.ip.is_multicast:
        raise ValueError(f"address {text!r} is {'unspecified' if iface.ip.is_unspecified else 'multicast'} "
                         f"and cannot be an interface address; give a unicast address")
    return iface


@dataclass(frozen=True)
class Want:
    """The validated module parameters. ``None`` means "not managed"."""
    name: str
    state: str = "present"
    ports: tuple | None = None
    ports_mode: str = "exact"
    addresses: tuple | None = None      # of ipaddress.IPv4Interface / IPv6Interface, in the given order
    mtu: int | None = None
    stp: bool | None = None
    vlan_filtering: bool | None = None
    link_state: str = "up"
    persist: str = "none"
    persist_root: str = "/"
    netns: str | None = None
    force: bool = False

    def managed_fields(self):
        """The bridge fields this task manages: what the diff shows and the files record."""
        if self.state == "absent":
            return []
        fields = [f for f in ("ports", "addresses", "mtu", "stp", "vlan_filtering")
                  if getattr(self, f) is not None]
        return fields + ["link_state"]


def build_want(params):
    """Validate module parameters into a ``Want``. Every problem is reported at once."""
    problems = []
    name = params.get("name") or ""
    state = params.get("state") or "present"
    problem = ifname_problem(name, "name")
    if problem:
        problems.append(problem)

    ports = params.get("ports")
    if ports is not None:
        ports = tuple(str(p) for p in ports)
        for port in ports:
            problem = ifname_problem(port, "port")
            if problem:
                problems.append(problem)
        twice = sorted({p for p in ports if ports.count(p) > 1})
        if twice:
            problems.append(f"ports lists {', '.join(twice)} more than once; list each port once")
        if name in ports:
            problems.append(f"ports contains the bridge itself ({name}); a bridge cannot be its own port")

    addresses = params.get("addresses")
    if addresses is not None:
        parsed = []
        for text in addresses:
            try:
                parsed.append(parse_cidr(text))
            except ValueError as exc:
                problems.append(str(exc))
        ips = [a.ip for a in parsed]
        twice = sorted({str(ip) for ip in ips if ips.count(ip) > 1})
        if twice:
            problems.append(f"addresses lists {', '.join(twice)} more than once; give each address once")
        addresses = tuple(parsed)

    mtu = params.get("mtu")
    if mtu is not None:
        mtu = int(mtu)
        if not MTU_MIN <= mtu <= MTU_MAX:
            problems.append(f"mtu {mtu} is out of range; a bridge MTU must be between {MTU_MIN} and {MTU_MAX} "
                            f"(1500 is the Ethernet default)")
        elif mtu < IPV6_MIN_MTU and any(a.version == 6 for a in addresses or ()):
            problems.append(f"mtu {mtu} is below {IPV6_MIN_MTU}, where the kernel disables IPv6, but addresses "
                            f"has IPv6 addresses; raise mtu to at least {IPV6_MIN_MTU} or drop the IPv6 addresses")

    ports_mode = params.get("ports_mode") or "exact"
    if ports_mode not in ("exact", "add"):
        problems.append(f"ports_mode {ports_mode!r} is not one of exact, add")
    link_state = params.get("link_state") or "up"
    if link_state not in ("up", "down"):
        problems.append(f"link_state {link_state!r} is not one of up, down")
    persist = params.get("persist") or "none"
    if persist not in PERSIST_FORMS:
        problems.append(f"persist {persist!r} is not one of {', '.join(PERSIST_FORMS)}")
    persist_root = params.get("persist_root") or "/"
    if persist != "none":
        if not os.path.isabs(persist_root):
            problems.append(f"persist_root {persist_root!r} is not an absolute path; give one such as / or /srv/image")
        elif not os.path.isdir(persist_root):
            problems.append(f"persist_root {persist_root!r} is not an existing directory; create it or fix the path")

    netns = params.get("netns")
    if netns is not None:
        netns = str(netns)
        if not netns or "/" in netns or netns in (".", "..") or any(c.isspace() for c in netns):
            problems.append(f"netns {netns!r} is not a network namespace name (as listed by `ip netns list`)")

    if problems:
        raise ValidationError("invalid parameters: " + "; ".join(problems) + ". " + NOTHING_CHANGED,
                              problems=problems)
    return Want(name=name, state=state, ports=ports, ports_mode=ports_mode, addresses=addresses, mtu=mtu,
                stp=params.get("stp"), vlan_filtering=params.get("vlan_filtering"), link_state=link_state,
                persist=persist, persist_root=persist_root, netns=netns, force=bool(params.get("force")))


# --------------------------------------------------------------------------- have

@dataclass(frozen=True)
class Link:
    """One entry of ``ip -j -d link show``, reduced to what bridges need."""
    name: str
    kind: str | None = None
    link_type: str | None = None
    master: str | None = None
    admin_up: bool = False
    operstate: str | None = None
    mtu: int | None = None
    stp: bool | None = None
    vlan_filtering: bool | None = None


@dataclass(frozen=True)
class Address:
    """One ``addr_info`` entry of ``ip -j addr show``."""
    iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    secondary: bool = False

    @property
    def kernel_link_local(self):
        """IPv6 link-local addresses are made by the kernel; they are not managed unless asked for."""
        return self.iface.version == 6 and self.iface.ip.is_link_local


def _json_list(data):
    if isinstance(data, (str, bytes)):
        data = json.loads(data or "[]")
    return data or []


def parse_links(data):
    """``ip -j -d link show`` output (text or parsed) -> {ifname: Link}."""
    links = {}
    for entry in _json_list(data):
        info = entry.get("linkinfo") or {}
        kind = info.get("info_kind")
        idata = info.get("info_data") or {}
        is_bridge = kind == "bridge"
        links[entry["ifname"]] = Link(
            name=entry["ifname"],
            kind=kind,
            link_type=entry.get("link_type"),
            master=entry.get("master"),
            admin_up="UP" in (entry.get("flags") or []),
            operstate=entry.get("operstate"),
            mtu=entry.get("mtu"),
            stp=int(idata.get("stp_state", 0)) != 0 if is_bridge else None,
            vlan_filtering=int(idata.get("vlan_filtering", 0)) != 0 if is_bridge else None,
        )
    return links


def parse_addresses(data):
    """``ip -j addr show`` output (text or parsed) -> {ifname: [Address, ...]} in kernel order."""
    result = {}
    for entry in _json_list(data):
        addrs = []
        for info in entry.get("addr_info") or []:
            if info.get("family") not in ("inet", "inet6") or "local" not in info:
                continue
            addrs.append(Address(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"),
                                 bool(info.get("secondary"))))
        result[entry["ifname"]] = addrs
    return result


def _addr_sort_key(iface):
    return (iface.version, int(iface.ip), iface.network.prefixlen)


@dataclass
class BridgeState:
    """A bridge as the kernel has it (or, in check mode, as it is predicted to be)."""
    name: str
    exists: bool = False
    mtu: int | None = None
    addresses: list = field(default_factory=list)     # [Address], kernel order, link-local included
    ports: list = field(default_factory=list)         # sorted port names
    stp: bool | None = None
    vlan_filtering: bool | None = None
    admin_up: bool = False
    operstate: str | None = None

    def managed_addresses(self, keep=()):
        """Addresses without the kernel's IPv6 link-local ones (unless listed in ``keep``)."""
        keep = set(keep or ())
        return [a for a in self.addresses if not a.kernel_link_local or a.iface in keep]

    def as_dict(self, keep=()):
        if not self.exists:
            return {"name": self.name, "exists": False}
        addrs = sorted((a.iface for a in self.managed_addresses(keep)), key=_addr_sort_key)
        return {
            "name": self.name,
            "exists": True,
            "mtu": self.mtu,
            "addresses": [str(a) for a in addrs],
            "ports": list(self.ports),
            "stp": self.stp,
            "vlan_filtering": self.vlan_filtering,
            "link_state": "up" if self.admin_up else "down",
            "operstate": self.operstate,
        }


def build_state(name, links, addresses):
    """The ``BridgeState`` of bridge ``name`` from parsed links and addresses."""
    link = links.get(name)
    if link is None:
        return BridgeState(name=name)
    if link.kind != "bridge":
        raise InterfaceConflictError(
            f"interface {name} exists and is {'a ' + link.kind if link.kind else 'not a bridge'} "
            f"({link.link_type or 'unknown type'}), not a bridge; choose another name or remove that interface "
            f"first. {NOTHING_CHANGED}")
    return BridgeState(
        name=name, exists=True, mtu=link.mtu, addresses=list(addresses.get(name, [])),
        ports=sorted(l.name for l in links.values() if l.master == name),
        stp=link.stp, vlan_filtering=link.vlan_filtering, admin_up=link.admin_up, operstate=link.operstate)


def check_ports(want, links, netns=None):
    """Raise unless every wanted port exists and can be a bridge port."""
    if want.state != "present" or not want.ports:
        return
    where = f" in network namespace {netns}" if netns else ""
    missing = [p for p in want.ports if p not in links]
    if missing:
        raise InterfaceNotFoundError(
            f"port interface(s) {', '.join(missing)} do not exist{where}; create them first or remove them "
            f"from ports. {NOTHING_CHANGED}", missing=missing)
    for port in want.ports:
        link = links[port]
        if link.kind == "bridge":
            raise InterfaceConflictError(f"port {port} is itself a bridge, and a bridge cannot be a port of "
                                         f"another bridge; remove it from ports. {NOTHING_CHANGED}")
        if link.link_type == "loopback":
            raise InterfaceConflictError(f"port {port} is a loopback interface and cannot be a bridge port; "
                                         f"remove it from ports. {NOTHING_CHANGED}")


# --------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Step:
    """One ``ip`` command (arguments after ``ip [-n NS]``) and what it does to which interface."""
    args: tuple
    action: str        # create delete stp vlan_filtering detach attach port_up mtu addr_del addr_add link_up link_down
    target: str        # the interface the command changes
    detail: str | None = None


def render_command(args, netns=None, program="ip"):
    """The command as a list: ``ip [-n NS] ARGS``."""
    return [program] + (["-n", netns] if netns else []) + list(args)


def _address_steps(bridge, have_addrs, want_addrs):
    """Make the bridge's address set exactly ``want_addrs`` (kernel IPv6 link-local ones kept).

    Deleting a primary IPv4 address makes the kernel flush the secondaries of its subnet
    (unless promote_secondaries is set), so wanted secondaries of a deleted primary are deleted
    explicitly first and added back: the result is the same with either sysctl value.
    """
    want_set = set(want_addrs)
    managed = [a for a in have_addrs if not a.kernel_link_local or a.iface in want_set]
    have_set = {a.iface for a in managed}
    removes = [a for a in managed if a.iface not in want_set]
    readd = []
    for gone in removes:
        if gone.iface.version != 4 or gone.secondary:
            continue
        for kept in managed:
            if (kept.secondary and kept.iface in want_set and kept.iface.network == gone.iface.network
                    and kept not in readd):
                readd.append(kept)
    deletes = sorted(readd + removes, key=lambda a: not a.secondary)   # secondaries first, stable
    readd_set = {a.iface for a in readd}
    steps = [Step(("addr", "del", str(a.iface), "dev", bridge), "addr_del", bridge, str(a.iface)) for a in deletes]
    steps += [Step(("addr", "add", str(w), "dev", bridge), "addr_add", bridge, str(w))
              for w in want_addrs if w not in have_set or w in readd_set]
    return steps


def derive_steps(want, have, links):
    """The ordered ``Step`` list that turns ``have`` into ``want``; empty when nothing differs."""
    bridge = want.name
    if want.state == "absent":
        return [Step(("link", "del", "dev", bridge), "delete", bridge)] if have.exists else []

    steps = []
    new = not have.exists
    if new:
        args = ["link", "add", "name", bridge, "type", "bridge"]
        if want.stp:
            args += ["stp_state", "1"]
        if want.vlan_filtering:
            args += ["vlan_filtering", "1"]
        steps.append(Step(tuple(args), "create", bridge))
    else:
        if want.stp is not None and want.stp != have.stp:
            steps.append(Step(("link", "set", "dev", bridge, "type", "bridge", "stp_state", "1" if want.stp else "0"),
                              "stp", bridge))
        if want.vlan_filtering is not None and want.vlan_filtering != have.vlan_filtering:
            steps.append(Step(("link", "set", "dev", bridge, "type", "bridge", "vlan_filtering",
                               "1" if want.vlan_filtering else "0"), "vlan_filtering", bridge))

    ports_changed = False
    if want.ports is not None:
        have_ports = [] if new else list(have.ports)
        if want.ports_mode == "exact":
            for port in sorted(set(have_ports) - set(want.ports)):
                steps.append(Step(("link", "set", "dev", port, "nomaster"), "detach", port, bridge))
                ports_changed = True
        for port in want.ports:
            if port not in have_ports:
                steps.append(Step(("link", "set", "dev", port, "master", bridge), "attach", port, bridge))
                ports_changed = True
            if not links[port].admin_up:
                steps.append(Step(("link", "set", "dev", port, "up"), "port_up", port, bridge))

    # The kernel lowers a bridge's MTU to its smallest port's when ports come or go, unless
    # the MTU was set explicitly: so it is set after port changes, and on every new bridge.
    if want.mtu is not None and (new or ports_changed or have.mtu != want.mtu):
        steps.append(Step(("link", "set", "dev", bridge, "mtu", str(want.mtu)), "mtu", bridge, str(want.mtu)))

    if want.addresses is not None:
        steps += _address_steps(bridge, [] if new else have.addresses, want.addresses)

    if want.link_state == "up" and (new or not have.admin_up):
        steps.append(Step(("link", "set", "dev", bridge, "up"), "link_up", bridge))
    elif want.link_state == "down" and not new and have.admin_up:
        steps.append(Step(("link", "set", "dev", bridge, "down"), "link_down", bridge))
    return steps


def predict_state(want, have, links):
    """The state ``derive_steps`` leads to: what check mode reports as the bridge after."""
    if want.state == "absent":
        return BridgeState(name=want.name)
    new = not have.exists
    ports = [] if new else list(have.ports)
    if want.ports is not None:
        ports = list(want.ports) if want.ports_mode == "exact" else sorted(set(ports) | set(want.ports))
    mtu = want.mtu
    if mtu is None:
        port_mtus = [links[p].mtu for p in ports if p in links and links[p].mtu]
        mtu = (min(port_mtus) if port_mtus else 1500) if new else have.mtu
    addresses = [] if new else list(have.addresses)
    if want.addresses is not None:
        kept = [a for a in addresses if a.kernel_link_local and a.iface not in set(want.addresses)]
        addresses = kept + [Address(w) for w in want.addresses]

    def option(wanted, current):           # a new bridge starts with STP and VLAN filtering off
        return wanted if wanted is not None else (False if new else current)

    return BridgeState(
        name=want.name, exists=True, mtu=mtu, addresses=addresses, ports=sorted(ports),
        stp=option(want.stp, have.stp), vlan_filtering=option(want.vlan_filtering, have.vlan_filtering),
        admin_up=want.link_state == "up", operstate=None if new else have.operstate)


# --------------------------------------------------------------------------- SSH protection

def parse_ssh_connection(value):
    """``SSH_CONNECTION`` ("client port server port") -> (client_ip, server_ip), or None."""
    fields = (value or "").split()
    if len(fields) != 4:
        return None
    ips = []
    for text in (fields[0], fields[2]):
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        ips.append(ip)
    return ips[0], ips[1]


def route_dev(route_json):
    """The ``dev`` of ``ip -j route get`` output, or None."""
    routes = _json_list(route_json) if route_json is not None else []
    return routes[0].get("dev") if routes else None


def ssh_interfaces(client, server, addresses, route_json, links):
    """{ifname: why} for every interface that carries the SSH connection from ``client`` to ``server``.

    That is the interface holding the server address, the one the route back to the client
    leaves through, and the ports of any of those that is a bridge.
    """
    carriers = {}
    for name, addrs in addresses.items():
        if any(a.iface.ip == server for a in addrs):
            carriers[name] = f"it holds the SSH server address {server}"
    dev = route_dev(route_json)
    if dev:
        why = f"the route back to the SSH client {client} leaves through it"
        carriers[dev] = f"{carriers[dev]} and {why}" if dev in carriers else why
    for name in list(carriers):
        link = links.get(name)
        if link is not None and link.kind == "bridge":
            for port in sorted(l.name for l in links.values() if l.master == name):
                carriers.setdefault(port, f"it is a port of {name}, which carries the SSH connection")
    return carriers


_RISKY_ON_BRIDGE = {
    "delete": "delete bridge {target}",
    "addr_del": "remove address {detail} from {target}",
    "link_down": "set {target} down",
    "stp": "change STP on {target} (its ports go back through listening and learning)",
    "vlan_filtering": "change VLAN filtering on {target}",
}


def ssh_risks(steps, bridge, carriers):
    """Descriptions of the planned steps that touch an interface carrying the SSH connection."""
    risks = []
    for step in steps:
        if step.action == "attach" and step.target in carriers:
            risks.append(f"enslave {step.target} to bridge {bridge}, which takes its addresses out of use "
                         f"({step.target}: {carriers[step.target]})")
        elif step.action == "detach" and step.target in carriers:
            risks.append(f"detach {step.target} from bridge {bridge} ({step.target}: {carriers[step.target]})")
        elif step.target == bridge and bridge in carriers and step.action in _RISKY_ON_BRIDGE:
            risks.append(_RISKY_ON_BRIDGE[step.action].format(target=step.target, detail=step.detail)
                         + f" ({bridge}: {carriers[bridge]})")
    return risks


def ssh_refusal_message(risks, ssh_connection):
    return ("refusing to change the interface that carries the current SSH connection "
            f"(SSH_CONNECTION={ssh_connection!r}): this task would " + "; ".join(risks) + ". "
            "That can cut off the connection Ansible is using. Run the task over a connection that does not "
            "use that interface (a console, an out-of-band network, another address of the host), or set "
            "force: true if the change is intended and you have a way back in. " + NOTHING_CHANGED)


# --------------------------------------------------------------------------- kernel features

def vlan_filtering_support(paths=None):
    """(True/False, source) from the kernel's build configuration, or (None, None) if unreadable."""
    if paths is None:
        paths = ["/proc/config.gz", f"/boot/config-{os.uname().release}"]
    for path in paths:
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as handle:
                text = handle.read()
        except OSError:
            continue
        return bool(re.search(r"^CONFIG_BRIDGE_VLAN_FILTERING=y$", text, re.M)), path
    return None, None


# --------------------------------------------------------------------------- persistence

def _networkd_running(proc="/proc"):
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "comm")) as handle:
                if handle.read().strip() == "systemd-network":     # comm is cut at 15 characters
                    return True
        except OSError:
            continue
    return False


def detect_persist_form(root, networkd_running=None):
    """``networkd`` if systemd-networkd runs (root ``/`` only), is enabled or has configuration under
    ``root``; else ``ifupdown`` if ``ifup`` is installed under ``root``; else ``none``."""
    def under(*parts):
        return os.path.join(root, *parts)

    if networkd_running is None:
        networkd_running = os.path.realpath(root) == "/" and _networkd_running()
    enabled = any(os.path.lexists(under("etc/systemd/system", wants, unit)) for wants, unit in (
        ("multi-user.target.wants", "systemd-networkd.service"),
        ("sockets.target.wants", "systemd-networkd.socket")))
    try:
        configured = any(f.endswith((".network", ".netdev")) for f in os.listdir(under("etc/systemd/network")))
    except OSError:
        configured = False
    if networkd_running or enabled or configured:
        return "networkd"
    if any(os.path.lexists(under(d, "ifup")) for d in ("sbin", "usr/sbin")):
        return "ifupdown"
    return "none"


def resolve_persist(mode, root, networkd_running=None):
    return detect_persist_form(root, networkd_running) if mode == "auto" else mode


def networkd_files(want):
    """{path relative to the root: content, or None for "must not exist"} for systemd-networkd."""
    base = f"etc/systemd/network/25-{want.name}"
    paths = (base + ".netdev", base + ".network", base + "-ports.network")
    if want.state == "absent":
        return dict.fromkeys(paths)
    netdev = ["[NetDev]", f"Name={want.name}", "Kind=bridge"]
    bridge = []
    if want.stp is not None:
        bridge.append(f"STP={'yes' if want.stp else 'no'}")
    if want.vlan_filtering is not None:
        bridge.append(f"VLANFiltering={'yes' if want.vlan_filtering else 'no'}")
    if bridge:
        netdev += ["", "[Bridge]"] + bridge
    network = ["[Match]", f"Name={want.name}"]
    link = []
    if want.mtu is not None:
        link.append(f"MTUBytes={want.mtu}")
    if want.link_state == "down":
        link.append("ActivationPolicy=down")
    if link:
        network += ["", "[Link]"] + link
    network += ["", "[Network]", "ConfigureWithoutCarrier=yes"]
    network += [f"Address={a}" for a in want.addresses or ()]
    ports = None
    if want.ports:
        ports = ["[Match]", "Name=" + " ".join(want.ports), "", "[Network]", f"Bridge={want.name}"]
    return {path: (FILE_HEADER + "\n".join(lines) + "\n" if lines is not None else None)
            for path, lines in zip(paths, (netdev, network, ports))}


def ifupdown_files(want):
    """{path relative to the root: content or None} for ifupdown with bridge-utils."""
    path = f"etc/network/interfaces.d/{want.name}"
    if want.state == "absent":
        return {path: None}
    ports_line = "bridge_ports " + (" ".join(want.ports) if want.ports else "none")
    options = []
    if want.stp is not None:
        options.append(f"bridge_stp {'on' if want.stp else 'off'}")
    if want.vlan_filtering is not None:
        options.append(f"bridge_vlan_aware {'yes' if want.vlan_filtering else 'no'}")
    if want.mtu is not None:
        options.append(f"mtu {want.mtu}")
    lines = [f"auto {want.name}"] if want.link_state == "up" else []
    stanzas = [("inet6" if a.version == 6 else "inet", "static", a) for a in want.addresses or ()]
    for index, (family, method, address) in enumerate(stanzas or [("inet", "manual", None)]):
        if index:
            lines.append("")
        lines.append(f"iface {want.name} {family} {method}")
        if address is not None:
            lines.append(f"    address {address}")
        # bridge-utils wants bridge_ports in every stanza of a bridge.
        lines.append("    " + ports_line)
        if index == 0:
            lines += ["    " + o for o in options]
    return {path: FILE_HEADER + "\n".join(lines) + "\n"}


@dataclass(frozen=True)
class FileChange:
    path: str
    before: str | None      # None: the file does not exist
    after: str | None       # None: the file must not exist

    @property
    def changed(self):
        return self.before != self.after


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PersistError(f"cannot read {path}: {exc}; fix its permissions or encoding. {NOTHING_CHANGED}") from None


def plan_files(want, form):
    """The ``FileChange`` of every file of the persistent form ``form`` (``none``: no files)."""
    if form == "none":
        return []
    files = networkd_files(want) if form == "networkd" else ifupdown_files(want)
    return [FileChange(path, _read_text(path), content)
            for path, content in ((os.path.join(want.persist_root, rel), c) for rel, c in files.items())]


def file_diffs(changes):
    return [{"before_header": fc.path + ("" if fc.before is not None else " (absent)"),
             "after_header": fc.path + ("" if fc.after is not None else " (removed)"),
             "before": fc.before or "", "after": fc.after or ""} for fc in changes if fc.changed]


def runtime_diff(want, before, after):
    """before/after of only the fields the task manages."""
    keep = want.addresses or ()
    fields = want.managed_fields()

    def view(state):
        shown = {"state": "present" if state.exists else "absent"}
        if state.exists:
            full = state.as_dict(keep)
            shown.update((f, full[f]) for f in fields)
        return shown

    header = f"bridge {want.name}" + (f" (netns {want.netns})" if want.netns else "")
    return {"before_header": header, "after_header": header, "before": view(before), "after": view(after)}


# --------------------------------------------------------------------------- the module's work

class BridgeManager:
    """Read, plan, check, apply and report for one ``linux_bridge`` task."""

    def __init__(self, module, environ=None):
        self.module = module
        self.want = build_want(module.params)
        self.environ = os.environ if environ is None else environ
        self.ip = None
        self.ran = []

    # -- running ip
    def _shown(self, args):
        return shlex.join(render_command(args, self.want.netns))

    def _run(self, args):
        argv = render_command(args, self.want.netns, program=self.ip)
        return self.module.run_command(argv, environ_update={"LC_ALL": "C"})

    def _read_json(self, *args, allow_fail=False):
        rc, out, err = self._run(args)
        if rc != 0:
            if allow_fail:
                return None
            raise CommandError(f"`{self._shown(args)}` failed (rc={rc}): {err.strip()}",
                               cmd=self._shown(args), rc=rc, stderr=err)
        try:
            return json.loads(out or "[]")
        except ValueError as exc:
            raise CommandError(f"`{self._shown(args)}` did not print JSON ({exc}); this module needs an "
                               f"iproute2 whose ip supports -j", cmd=self._shown(args), stdout=out) from None

    def _read(self):
        links = parse_links(self._read_json("-j", "-d", "link", "show"))
        addresses = parse_addresses(self._read_json("-j", "addr", "show"))
        return links, addresses

    def _apply(self, step):
        rc, out, err = self._run(step.args)
        if rc != 0:
            hint = ""
            if "Operation not supported" in err and step.action in ("create", "vlan_filtering"):
                hint = (" The kernel refused a bridge option; vlan_filtering needs a kernel built with "
                        "CONFIG_BRIDGE_VLAN_FILTERING.")
            raise CommandError(
                f"`{self._shown(step.args)}` failed (rc={rc}): {err.strip()}.{hint} "
                + (f"Commands that had already run: {self.ran}." if self.ran else NOTHING_CHANGED),
                cmd=self._shown(step.args), rc=rc, stderr=err, stdout=out,
                commands=list(self.ran), changed=bool(self.ran))
        self.ran.append(self._shown(step.args))

    def _write(self, change):
        try:
            if change.after is None:
                os.unlink(change.path)
                return
            directory = os.path.dirname(change.path)
            os.makedirs(directory, mode=0o755, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".linux_bridge.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(change.after)
            os.chmod(tmp, 0o644)
            self.module.atomic_move(tmp, change.path)
        except OSError as exc:
            raise PersistError(f"cannot write {change.path}: {exc}. The runtime commands {self.ran} had run.",
                               commands=list(self.ran), changed=bool(self.ran)) from None

    # -- checks that need the kernel state
    def _check_netns(self):
        ns = self.want.netns
        if ns and not os.path.exists(os.path.join(NETNS_RUN_DIR, ns)):
            raise NetnsNotFoundError(f"network namespace {ns!r} does not exist (no {NETNS_RUN_DIR}/{ns}); "
                                     f"create it (ip netns add {ns}) or drop netns. {NOTHING_CHANGED}")

    def _check_vlan_filtering(self, have):
        if not self.want.vlan_filtering or (have.exists and have.vlan_filtering):
            return
        supported, source = vlan_filtering_support()
        if supported is False:
            raise UnsupportedError(
                f"vlan_filtering: true needs a kernel built with CONFIG_BRIDGE_VLAN_FILTERING=y, and this kernel "
                f"({os.uname().release}) is built without it (see {source}); set vlan_filtering: false or leave "
                f"it out on this machine. {NOTHING_CHANGED}")

    def _ssh_carriers(self, links, addresses):
        value = self.environ.get("SSH_CONNECTION", "")
        endpoints = parse_ssh_connection(value)
        if endpoints is None:
            return value, {}
        client, server = endpoints
        route = self._read_json("-j", "route", "get", str(client), allow_fail=True)
        return value, ssh_interfaces(client, server, addresses, route, links)

    # -- the whole task
    def run(self):
        want, module = self.want, self.module
        self._check_netns()
        self.ip = module.get_bin_path("ip", required=True)
        links, addresses = self._read()
        before = build_state(want.name, links, addresses)
        check_ports(want, links, want.netns)
        self._check_vlan_filtering(before)
        steps = derive_steps(want, before, links)

        ssh_value, carriers = self._ssh_carriers(links, addresses) if steps else ("", {})
        risks = ssh_risks(steps, want.name, carriers)
        if risks and not want.force:
            raise SSHInterfaceError(ssh_refusal_message(risks, ssh_value), ssh_interfaces=carriers, risks=risks)

        form = resolve_persist(want.persist, want.persist_root)
        if form != "none" and want.netns:
            module.warn(f"persist={form} writes host configuration under {want.persist_root}; the network "
                        f"service that reads it creates the bridge in its own namespace, not in {want.netns}")
        files = plan_files(want, form)

        if module.check_mode:
            after = predict_state(want, before, links)
            commands = [self._shown(s.args) for s in steps]
        else:
            for step in steps:
                self._apply(step)
            for change in files:
                if change.changed:
                    self._write(change)
            links, addresses = self._read()
            after = build_state(want.name, links, addresses)
            left = derive_steps(want, after, links)
            if left:
                raise NotConvergedError(
                    f"ran {self.ran}, but bridge {want.name} still differs from the request: it would still need "
                    f"{[self._shown(s.args) for s in left]}", commands=list(self.ran), changed=bool(self.ran),
                    bridge=after.as_dict(want.addresses or ()))
            commands = list(self.ran)
        if risks:
            module.warn("force: true: changed the interface that carries the SSH connection: " + "; ".join(risks))

        result = {
            "changed": bool(steps) or any(f.changed for f in files),
            "commands": commands,
            "bridge": after.as_dict(want.addresses or ()),
            "persist": form,
            "persist_files": [f.path for f in files if f.after is not None],
        }
        if module._diff:
            result["diff"] = [runtime_diff(want, before, after)] + file_diffs(files)
        return result
