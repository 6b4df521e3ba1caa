#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: Linux bridges through iproute2; the logic lives in module_utils/linux_bridge.py."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: linux_bridge
short_description: Manage Linux bridges, their ports, addresses and persistent configuration with iproute2
description:
  - Creates, changes and deletes a Linux bridge with C(ip), reading the current state from
    C(ip -j -d link show) and C(ip -j addr show) and running only the C(ip) commands needed to reach
    the requested state. Changes to an existing bridge are applied in place.
  - Options that are not given are not managed, except I(link_state), which defaults to C(up).
  - Optionally writes the same bridge as persistent configuration for systemd-networkd or ifupdown
    (see I(persist)), so that it comes back after a reboot.
  - Refuses to enslave, detach, readdress, take down or delete the interface that carries the SSH connection
    the module runs over, unless I(force=true).
  - In check mode it computes the same commands and file changes without running or writing them, and
    returns them.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
requirements:
  - iproute2 with JSON output (C(ip -j)) on the managed host
  - root privileges (become) on the managed host
options:
  name:
    description:
      - Name of the bridge interface.
      - 1 to 15 characters; letters, digits, C(_), C(.) and C(-), not starting with C(.) or C(-).
    type: str
    required: true
    aliases: [bridge]
  state:
    description:
      - C(present) creates the bridge if needed and makes the given options true.
      - C(absent) deletes the bridge (its ports are released by the kernel) and, with I(persist),
        removes its persistent files. Deleting a bridge that does not exist is not a change.
      - An existing interface of that name that is not a bridge is never taken over or deleted.
    type: str
    choices: [present, absent]
    default: present
  ports:
    description:
      - Interfaces to be ports of the bridge. Each must exist (in I(netns) if given); a missing one fails
        the task, naming it, before anything is changed.
      - How the list is applied is set by I(ports_mode).
      - Listed ports are also brought up (C(ip link set dev PORT up)) if they are down.
      - Not given means the bridge's ports are not managed (other tools, such as systemd-nspawn or libvirt,
        may attach theirs).
    type: list
    elements: str
  ports_mode:
    description:
      - C(exact) makes I(ports) the exact set of ports; other ports are detached (C(nomaster)).
        C(ports=[]) detaches every port.
      - C(add) attaches the listed ports and leaves any other port in place. Requires I(ports).
    type: str
    choices: [exact, add]
    default: exact
  addresses:
    description:
      - The exact set of IPv4 and IPv6 addresses of the bridge, in CIDR form (C(10.0.0.1/24), C(fd00::1/64)).
        Addresses not listed are removed, except the IPv6 link-local (C(fe80::/10)) addresses the kernel
        makes itself, unless one of them is listed.
      - For IPv4, the first listed address of a subnet becomes the primary one.
      - C([]) removes every address; not given means addresses are not managed.
    type: list
    elements: str
  mtu:
    description:
      - MTU of the bridge, 68 to 65535 (at least 1280 when I(addresses) has IPv6 addresses).
      - It is set explicitly after ports change, so the kernel keeps it instead of following the smallest port.
    type: int
  stp:
    description:
      - Turn the kernel's IEEE 802.1D spanning tree on or off (C(stp_state)).
    type: bool
  vlan_filtering:
    description:
      - Turn VLAN filtering of the bridge on or off.
      - C(true) needs a kernel built with C(CONFIG_BRIDGE_VLAN_FILTERING); when the kernel's build configuration
        (C(/proc/config.gz) or C(/boot/config-RELEASE)) shows it is missing, the task fails before any change.
    type: bool
  link_state:
    description:
      - Administrative state of the bridge link (C(ip link set dev NAME up|down)).
    type: str
    choices: [up, down]
    default: up
  persist:
    description:
      - Also write the bridge as persistent configuration.
      - C(none) writes nothing.
      - C(networkd) writes C(etc/systemd/network/25-NAME.netdev) and C(25-NAME.network) under I(persist_root),
        plus C(25-NAME-ports.network) (C(Bridge=NAME) for the listed ports) when I(ports) is not empty.
      - C(ifupdown) writes C(etc/network/interfaces.d/NAME) in the bridge-utils form (C(bridge_ports),
        C(bridge_stp), C(bridge_vlan_aware), C(mtu); one C(iface) stanza per address). That directory must be
        sourced by C(/etc/network/interfaces), as Debian's default C(source /etc/network/interfaces.d/*) does.
      - C(auto) picks C(networkd) when systemd-networkd is running (only checked when I(persist_root) is C(/)),
        enabled, or has C(.network)/C(.netdev) files under I(persist_root); else C(ifupdown) when C(ifup) is
        installed under I(persist_root); else C(none). The form used is returned as RV(persist).
      - The files record only the options given in this task (plus the bridge itself); an option not given is
        left out and the system default applies at boot. With I(ports_mode=add) only the listed ports are
        recorded.
      - A file is rewritten (with an atomic move) only when its content differs; the diff shows the change.
        With I(state=absent) the files of the chosen form are removed.
      - The files are not applied now (no service is restarted); the C(ip) commands make the runtime state.
    type: str
    choices: [none, networkd, ifupdown, auto]
    default: none
  persist_root:
    description:
      - Directory the persistent configuration paths are relative to, for example an image being built,
        or a temporary directory in tests. Must exist when I(persist) is not C(none).
    type: path
    default: /
  netns:
    description:
      - Name of a network namespace (as in C(ip netns list)) to manage the bridge in; every command runs as
        C(ip -n NETNS ...). The SSH protection then looks for the SSH addresses and routes in that namespace.
    type: str
  force:
    description:
      - Make the change even when it touches the interface that carries the current SSH connection.
      - That interface is found from the server address in the C(SSH_CONNECTION) environment variable of the
        module process (the interface holding it, and the one C(ip -j route get CLIENT) leaves through, plus
        the ports of either if it is a bridge). Touching means enslaving it, detaching it, and on such a bridge
        removing an address, setting it down, changing STP or VLAN filtering, or deleting it.
    type: bool
    default: false
notes:
  - Supports check mode (the exact commands are returned in RV(commands)) and diff mode (before/after of the
    bridge options given in the task, plus I(link_state), and of each persistent file that changes).
  - Deleting a primary IPv4 address makes the kernel drop the secondary addresses of its subnet; the module
    then removes and re-adds the wanted secondaries explicitly, so the result is the requested set either way.
  - bridge-utils (C(persist=ifupdown)) also applies C(mtu) to the bridge's ports when it brings the bridge up.
seealso:
  - name: ip-link(8)
    description: Manual page of C(ip link), including the bridge options.
    link: https://man7.org/linux/man-pages/man8/ip-link.8.html
  - name: systemd.netdev(5)
    description: The C(.netdev) format used with I(persist=networkd).
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.netdev.html
"""

EXAMPLES = r"""
- name: Lab management bridge on the host, runtime only
  linux_bridge:
    name: ostk-mgmt
    addresses: [10.0.0.1/24]
    stp: false
    persist: none

- name: Provider bridge with a physical port, kept across reboots by whatever the host uses
  linux_bridge:
    name: br-prov
    ports: [eth1]
    addresses: [172.24.4.1/24, "fd00:24::1/64"]
    mtu: 9000
    stp: true
    persist: auto

- name: Add one more port and leave the others alone
  linux_bridge:
    name: br-prov
    ports: [veth-extra]
    ports_mode: add

- name: Move the host's uplink into a bridge while connected over it (know your way back in)
  linux_bridge:
    name: br-uplink
    ports: [eth0]
    addresses: [192.0.2.2/24]
    force: true

- name: A bridge inside a network namespace
  linux_bridge:
    name: br-int
    netns: qrouter-test
    addresses: [192.168.100.1/24]

- name: Remove a bridge and its networkd files
  linux_bridge:
    name: br-old
    state: absent
    persist: networkd
"""

RETURN = r"""
commands:
  description:
    - The C(ip) commands run, in order; in check mode, the commands that would run. Empty when nothing changed
      at runtime.
  returned: always
  type: list
  elements: str
  sample: ["ip link add name br0 type bridge stp_state 1", "ip link set dev br0 mtu 1400",
           "ip addr add 10.0.0.1/24 dev br0", "ip link set dev br0 up"]
bridge:
  description:
    - The bridge after the task, read back from the kernel; in check mode, the predicted state (options not
      given keep their current values; I(operstate) is the current one, null for a bridge not created yet).
  returned: always
  type: dict
  contains:
    name:
      description: Bridge name.
      type: str
    exists:
      description: Whether the bridge exists. The other keys are returned only when it does.
      type: bool
    mtu:
      description: MTU.
      type: int
    addresses:
      description: Addresses in CIDR form, sorted, without the kernel's IPv6 link-local ones unless requested.
      type: list
      elements: str
    ports:
      description: Port names, sorted.
      type: list
      elements: str
    stp:
      description: Whether STP is on.
      type: bool
    vlan_filtering:
      description: Whether VLAN filtering is on.
      type: bool
    link_state:
      description: Administrative state, C(up) or C(down).
      type: str
    operstate:
      description: Operational state as the kernel reports it (C(UP), C(DOWN), C(UNKNOWN), ...).
      type: str
  sample: {"name": "br0", "exists": true, "mtu": 1400, "addresses": ["10.0.0.1/24"], "ports": ["veth1"],
           "stp": true, "vlan_filtering": false, "link_state": "up", "operstate": "UP"}
persist:
  description: The persistent form used (I(persist), with C(auto) resolved).
  returned: always
  type: str
  sample: networkd
persist_files:
  description: The persistent files that describe the bridge after the task (none after I(state=absent)).
  returned: always
  type: list
  elements: str
  sample: ["/etc/systemd/network/25-br0.netdev", "/etc/systemd/network/25-br0.network"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.linux_bridge import BridgeManager, LinuxBridgeError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True, aliases=["bridge"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            ports=dict(type="list", elements="str"),
            ports_mode=dict(type="str", default="exact", choices=["exact", "add"]),
            addresses=dict(type="list", elements="str"),
            mtu=dict(type="int"),
            stp=dict(type="bool"),
            vlan_filtering=dict(type="bool"),
            link_state=dict(type="str", default="up", choices=["up", "down"]),
            persist=dict(type="str", default="none", choices=["none", "networkd", "ifupdown", "auto"]),
            persist_root=dict(type="path", default="/"),
            netns=dict(type="str"),
            force=dict(type="bool", default=False),
        ),
        required_if=[("ports_mode", "add", ["ports"])],
        supports_check_mode=True,
    )
    try:
        result = BridgeManager(module).run()
    except LinuxBridgeError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
