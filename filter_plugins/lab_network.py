"""Filters for address planning and safety checks (pure Python, no netaddr needed).

- ``cidr_host``: the N-th host address of a network (``'10.0.0.0/24' | cidr_host(11)``).
- ``cidr_prefix``: the prefix length of a network.
- ``route_clashes``: routes of the host (``ip -j route`` output) that overlap a network
  and are not on one of the devices we own; a default route never clashes.
- ``lab_node_list``: the lab's node list built from a small set of size variables.
- ``is_ipv4``: whether a value is a plain IPv4 address.
- ``in_cidr``: whether an address lies inside a network (``addr | in_cidr('10.0.0.0/24')``).
"""
import ipaddress

from ansible.errors import AnsibleFilterError


def _network(cidr):
    try:
        return ipaddress.ip_network(str(cidr), strict=False)
    except ValueError as exc:
        raise AnsibleFilterError(f"{cidr!r} is not a network in CIDR form (e.g. 10.0.0.0/24): {exc}")


def cidr_host(cidr, index):
    net = _network(cidr)
    index = int(index)
    if index < 1 or index >= net.num_addresses - (1 if net.version == 4 else 0):
        raise AnsibleFilterError(f"host index {index} is outside {net} (usable 1..{net.num_addresses - 2})")
    return str(net.network_address + index)


def cidr_prefix(cidr):
    return _network(cidr).prefixlen


def route_clashes(routes, cidr, own_devices=()):
    """Return the routes in ``routes`` that overlap ``cidr`` on a device not in ``own_devices``."""
    want = _network(cidr)
    clashes = []
    for route in routes or []:
        dst = route.get("dst")
        if not dst or dst == "default":
            continue
        try:
            have = ipaddress.ip_network(dst if "/" in dst else dst + ("/32" if ":" not in dst else "/128"),
                                        strict=False)
        except ValueError:
            continue
        if have.version != want.version or route.get("dev") in own_devices:
            continue
        if have.overlaps(want):
            clashes.append({"dst": str(have), "dev": route.get("dev", "?")})
    return clashes


def lab_node_list(cidr, controller_name="controller", controller_index=11,
                  compute_count=1, compute_first_index=31, compute_prefix="compute"):
    """The lab's nodes: one controller (also the network node) and N compute nodes."""
    compute_count = int(compute_count)
    if compute_count < 1:
        raise AnsibleFilterError(f"lab_compute_count is {compute_count}; the lab needs at least 1 compute node")
    nodes = [{"name": controller_name, "address": cidr_host(cidr, controller_index),
              "role": "controller", "provider": True}]
    for i in range(compute_count):
        nodes.append({"name": f"{compute_prefix}{i + 1}",
                      "address": cidr_host(cidr, int(compute_first_index) + i),
                      "role": "compute", "provider": False})
    addresses = [n["address"] for n in nodes]
    if len(set(addresses)) != len(addresses):
        raise AnsibleFilterError(f"lab node addresses collide: {addresses}; move lab_compute_first_address_index")
    return nodes


def is_ipv4(value):
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return False
    return True


def in_cidr(address, cidr):
    try:
        return ipaddress.ip_address(str(address)) in _network(cidr)
    except ValueError:
        return False


class FilterModule:
    def filters(self):
        return {
            "cidr_host": cidr_host,
            "cidr_prefix": cidr_prefix,
            "route_clashes": route_clashes,
            "lab_node_list": lab_node_list,
            "is_ipv4": is_ipv4,
            "in_cidr": in_cidr,
        }
