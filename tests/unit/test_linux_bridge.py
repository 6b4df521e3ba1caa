"""Unit tests for module_utils/linux_bridge.py: parsing, validation, want/have diffing, commands,
SSH-interface protection and the persistent files.

The JSON samples below are real `ip -j` output captured on a Debian 12 development machine
(iproute2 6.1.0, kernel 6.18) from a network namespace set up by hand, and from the host while a
lab was running. No mocks: the code under test is pure, and the few functions that read files
get real files in pytest's tmp_path.
"""
import gzip
import ipaddress
import os

import pytest

from ansible.module_utils.linux_bridge import (
    Address,
    BridgeState,
    FileChange,
    InterfaceConflictError,
    InterfaceNotFoundError,
    ValidationError,
    build_state,
    build_want,
    check_ports,
    derive_steps,
    detect_persist_form,
    file_diffs,
    ifupdown_files,
    networkd_files,
    parse_addresses,
    parse_cidr,
    parse_links,
    parse_ssh_connection,
    plan_files,
    predict_state,
    render_command,
    resolve_persist,
    route_dev,
    runtime_diff,
    ssh_interfaces,
    ssh_refusal_message,
    ssh_risks,
    vlan_filtering_support,
)

# --------------------------------------------------------------------------- captured data

# ip -n NS -j -d link show: bridge br-a (stp on, mtu 1400) with veth ports p1, p2;
# veth p3 down and free; p2 still holds 10.60.0.1/24 from before it was enslaved.
NS_LINKS = r'''[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":3,"link":"p1","ifname":"p1b","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"22:95:bd:83:5c:46","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":4,"link":"p1b","ifname":"p1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br-a","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"3a:0a:ca:17:9b:7f","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":1,"allmulti":1,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"state":"learning","priority":32,"cost":2,"hairpin":false,"guard":false,"root_block":false,"fastleave":false,"learning":true,"flood":true,"id":"0x8001","no":"0x1","designated_port":32769,"designated_cost":0,"bridge_id":"8000.3a:a:ca:17:9b:7f","root_id":"8000.3a:a:ca:17:9b:7f","hold_timer":0.00,"message_age_timer":0.00,"forward_delay_timer":0.60,"topology_change_ack":0,"config_pending":0,"proxy_arp":false,"proxy_arp_wifi":false,"multicast_router":1,"mcast_flood":true,"bcast_flood":true,"mcast_to_unicast":false,"neigh_suppress":false,"group_fwd_mask":"0","group_fwd_mask_str":"0x0","vlan_tunnel":false,"isolated":false,"locked":false}},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":5,"link":"p2","ifname":"p2b","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"82:d5:60:c6:c8:a4","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":6,"link":"p2b","ifname":"p2","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br-a","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"aa:98:05:90:21:3c","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":1,"allmulti":1,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"state":"learning","priority":32,"cost":2,"hairpin":false,"guard":false,"root_block":false,"fastleave":false,"learning":true,"flood":true,"id":"0x8002","no":"0x2","designated_port":32770,"designated_cost":0,"bridge_id":"8000.3a:a:ca:17:9b:7f","root_id":"8000.3a:a:ca:17:9b:7f","hold_timer":0.00,"message_age_timer":0.00,"forward_delay_timer":0.60,"topology_change_ack":0,"config_pending":0,"proxy_arp":false,"proxy_arp_wifi":false,"multicast_router":1,"mcast_flood":true,"bcast_flood":true,"mcast_to_unicast":false,"neigh_suppress":false,"group_fwd_mask":"0","group_fwd_mask_str":"0x0","vlan_tunnel":false,"isolated":false,"locked":false}},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":13,"ifname":"br-a","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1400,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"3a:0a:ca:17:9b:7f","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500,"hello_time":200,"max_age":2000,"ageing_time":30000,"stp_state":1,"priority":32768,"vlan_filtering":0,"bridge_id":"8000.3a:a:ca:17:9b:7f","root_id":"8000.3a:a:ca:17:9b:7f","root_port":0,"root_path_cost":0,"topology_change":0,"topology_change_detected":0,"hello_timer":0.76,"tcn_timer":0.00,"topology_change_timer":0.00,"gc_timer":270.56,"group_fwd_mask":"0","group_addr":"01:80:c2:00:00:00","mcast_snooping":1,"no_linklocal_learn":0,"mcast_vlan_snooping":0,"mcast_router":1,"mcast_query_use_ifaddr":0,"mcast_querier":0,"mcast_hash_elasticity":16,"mcast_hash_max":4096,"mcast_last_member_cnt":2,"mcast_startup_query_cnt":2,"mcast_last_member_intvl":100,"mcast_membership_intvl":26000,"mcast_querier_intvl":25500,"mcast_query_intvl":12500,"mcast_query_response_intvl":1000,"mcast_startup_query_intvl":3124,"mcast_stats_enabled":0,"mcast_igmp_version":2,"mcast_mld_version":1,"nf_call_iptables":0,"nf_call_ip6tables":0,"nf_call_arptables":0}},"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":14,"link":"p3","ifname":"p3b","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"d6:fb:9b:2e:9e:3a","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":15,"link":"p3b","ifname":"p3","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"d6:9b:45:0f:00:46","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]'''

# ip -n NS -j addr show, same moment: br-a has 10.50.0.2/24 (primary), 10.50.0.3/24 (secondary), fd00:50::1/64.
NS_ADDRS = r'''[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},{"ifindex":3,"link":"p1","ifname":"p1b","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"22:95:bd:83:5c:46","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::2095:bdff:fe83:5c46","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"link":"p1b","ifname":"p1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br-a","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"3a:0a:ca:17:9b:7f","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::380a:caff:fe17:9b7f","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":5,"link":"p2","ifname":"p2b","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"82:d5:60:c6:c8:a4","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet6","local":"fe80::80d5:60ff:fec6:c8a4","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":6,"link":"p2b","ifname":"p2","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br-a","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"aa:98:05:90:21:3c","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.60.0.1","prefixlen":24,"scope":"global","label":"p2","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::a898:5ff:fe90:213c","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":13,"ifname":"br-a","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1400,"qdisc":"noqueue","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"3a:0a:ca:17:9b:7f","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.50.0.2","prefixlen":24,"scope":"global","label":"br-a","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet","local":"10.50.0.3","prefixlen":24,"scope":"global","secondary":true,"label":"br-a","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:50::1","prefixlen":64,"scope":"global","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":14,"link":"p3","ifname":"p3b","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"d6:fb:9b:2e:9e:3a","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]},{"ifindex":15,"link":"p3b","ifname":"p3","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"d6:9b:45:0f:00:46","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]}]'''

# ip -n NS -j route get 10.60.0.9 (while p2 was not yet a port).
NS_ROUTE_P2 = r'''[{"dst":"10.60.0.9","dev":"p2","prefsrc":"10.60.0.1","flags":[],"uid":0,"cache":[]}]'''

# ip -j -d link show ostk-mgmt on the host while a lab ran (no STP, mtu 1500).
HOST_MGMT_LINK = r'''[{"ifindex":5,"ifname":"ostk-mgmt","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"36:31:d1:cf:b9:e1","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500,"hello_time":200,"max_age":2000,"ageing_time":30000,"stp_state":0,"priority":32768,"vlan_filtering":0,"bridge_id":"8000.36:31:d1:cf:b9:e1","root_id":"8000.36:31:d1:cf:b9:e1","root_port":0,"root_path_cost":0,"topology_change":0,"topology_change_detected":0,"hello_timer":0.00,"tcn_timer":0.00,"topology_change_timer":0.00,"gc_timer":55.32,"group_fwd_mask":"0","group_addr":"01:80:c2:00:00:00","mcast_snooping":1,"no_linklocal_learn":0,"mcast_vlan_snooping":0,"mcast_router":1,"mcast_query_use_ifaddr":0,"mcast_querier":0,"mcast_hash_elasticity":16,"mcast_hash_max":4096,"mcast_last_member_cnt":2,"mcast_startup_query_cnt":2,"mcast_last_member_intvl":100,"mcast_membership_intvl":26000,"mcast_querier_intvl":25500,"mcast_query_intvl":12500,"mcast_query_response_intvl":1000,"mcast_startup_query_intvl":3124,"mcast_stats_enabled":0,"mcast_igmp_version":2,"mcast_mld_version":1,"nf_call_iptables":0,"nf_call_ip6tables":0,"nf_call_arptables":0}},"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]'''

# ip -j -d link show vb-controller: systemd-nspawn's veth, a port of ostk-mgmt.
HOST_VB_LINK = r'''[{"ifindex":7,"link_index":2,"ifname":"vb-controller","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"ostk-mgmt","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"36:31:d1:cf:b9:e1","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"promiscuity":1,"allmulti":1,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"state":"forwarding","priority":32,"cost":2,"hairpin":false,"guard":false,"root_block":false,"fastleave":false,"learning":true,"flood":true,"id":"0x8001","no":"0x1","designated_port":32769,"designated_cost":0,"bridge_id":"8000.36:31:d1:cf:b9:e1","root_id":"8000.36:31:d1:cf:b9:e1","hold_timer":0.00,"message_age_timer":0.00,"forward_delay_timer":0.00,"topology_change_ack":0,"config_pending":0,"proxy_arp":false,"proxy_arp_wifi":false,"multicast_router":1,"mcast_flood":true,"bcast_flood":true,"mcast_to_unicast":false,"neigh_suppress":false,"group_fwd_mask":"0","group_fwd_mask_str":"0x0","vlan_tunnel":false,"isolated":false,"locked":false}},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]'''

# ip -j addr show dev ostk-mgmt: 10.0.0.1/24 and the kernel's link-local address.
HOST_MGMT_ADDR = r'''[{"ifindex":5,"ifname":"ostk-mgmt","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"36:31:d1:cf:b9:e1","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":"global","label":"ostk-mgmt","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::9012:fbff:fefa:968d","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]'''

# ip -j route get 10.0.0.11 (a lab node) on the host.
HOST_ROUTE_MGMT = r'''[{"dst":"10.0.0.11","dev":"ostk-mgmt","prefsrc":"10.0.0.1","flags":[],"uid":0,"cache":[]}]'''

# ip -j -d link show dev eth0: the host's uplink.
HOST_ETH0_LINK = r'''[{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"qdisc":"pfifo_fast","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"02:fc:00:00:00:01","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,"parentbus":"virtio","parentdev":"virtio2"}]'''

# ip -j addr show dev eth0.
HOST_ETH0_ADDR = r'''[{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"qdisc":"pfifo_fast","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:fc:00:00:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24,"broadcast":"192.0.2.255","scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::fc:ff:fe00:1","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]'''

# ip -j route get 192.0.2.1 (the host's gateway).
HOST_ROUTE_ETH0 = r'''[{"dst":"192.0.2.1","dev":"eth0","prefsrc":"192.0.2.2","flags":[],"uid":0,"cache":[]}]'''


# --------------------------------------------------------------------------- helpers

DEFAULTS = dict(name=None, state="present", ports=None, ports_mode="exact", addresses=None, mtu=None,
                stp=None, vlan_filtering=None, link_state="up", persist="none", persist_root="/",
                netns=None, force=False)


def want(**params):
    """A Want from module parameters, with the argument_spec defaults filled in as AnsibleModule does."""
    return build_want({**DEFAULTS, **params})


def commands(steps, netns=None):
    return [" ".join(render_command(s.args, netns)) for s in steps]


@pytest.fixture
def ns():
    links, addrs = parse_links(NS_LINKS), parse_addresses(NS_ADDRS)
    return links, addrs, build_state("br-a", links, addrs)


@pytest.fixture
def host():
    links = parse_links(HOST_ETH0_LINK)
    links.update(parse_links(HOST_MGMT_LINK))
    links.update(parse_links(HOST_VB_LINK))
    addrs = parse_addresses(HOST_ETH0_ADDR)
    addrs.update(parse_addresses(HOST_MGMT_ADDR))
    return links, addrs


# --------------------------------------------------------------------------- parsing

def test_parse_links_reads_bridge_port_and_loopback(ns):
    links, _, _ = ns
    assert sorted(links) == ["br-a", "lo", "p1", "p1b", "p2", "p2b", "p3", "p3b"]
    br = links["br-a"]
    assert (br.kind, br.mtu, br.stp, br.vlan_filtering) == ("bridge", 1400, True, False)
    assert (br.admin_up, br.master) == (True, None)
    assert br.operstate == "DOWN"          # NO-CARRIER: the ports are still in STP listening
    assert (links["p1"].kind, links["p1"].master, links["p1"].admin_up) == ("veth", "br-a", True)
    assert (links["p3"].master, links["p3"].admin_up) == (None, False)
    assert links["p1"].stp is None and links["p1"].vlan_filtering is None
    assert links["lo"].link_type == "loopback"


def test_parse_addresses_keeps_order_and_secondary_flag(ns):
    _, addrs, _ = ns
    assert addrs["br-a"] == [
        Address(ipaddress.ip_interface("10.50.0.2/24"), False),
        Address(ipaddress.ip_interface("10.50.0.3/24"), True),
        Address(ipaddress.ip_interface("fd00:50::1/64"), False),
    ]
    assert addrs["p3"] == []
    assert [a.kernel_link_local for a in addrs["p2"]] == [False, True]


def test_build_state_of_namespace_bridge(ns):
    _, _, have = ns
    assert have.as_dict() == {
        "name": "br-a", "exists": True, "mtu": 1400,
        "addresses": ["10.50.0.2/24", "10.50.0.3/24", "fd00:50::1/64"],
        "ports": ["p1", "p2"], "stp": True, "vlan_filtering": False,
        "link_state": "up", "operstate": "DOWN",
    }


def test_build_state_of_lab_bridge_hides_kernel_link_local(host):
    links, addrs = host
    state = build_state("ostk-mgmt", links, addrs)
    assert state.as_dict() == {
        "name": "ostk-mgmt", "exists": True, "mtu": 1500, "addresses": ["10.0.0.1/24"],
        "ports": ["vb-controller"], "stp": False, "vlan_filtering": False,
        "link_state": "up", "operstate": "UP",
    }
    # Asked for explicitly, a link-local address is shown like any other.
    ll = ipaddress.ip_interface("fe80::9012:fbff:fefa:968d/64")
    assert "fe80::9012:fbff:fefa:968d/64" in state.as_dict(keep=[ll])["addresses"]


def test_build_state_of_missing_bridge(ns):
    links, addrs, _ = ns
    assert build_state("br-none", links, addrs).as_dict() == {"name": "br-none", "exists": False}


def test_build_state_refuses_an_interface_that_is_not_a_bridge(ns):
    links, addrs, _ = ns
    with pytest.raises(InterfaceConflictError, match=r"p2 exists and is a veth .*not a bridge.*Nothing was changed"):
        build_state("p2", links, addrs)


def test_route_dev():
    assert route_dev(NS_ROUTE_P2) == "p2"
    assert route_dev(HOST_ROUTE_ETH0) == "eth0"
    assert route_dev(None) is None
    assert route_dev("[]") is None


# --------------------------------------------------------------------------- validation

def test_valid_parameters_are_normalised():
    w = want(name="br-a", ports=["p1"], addresses=["FD00:50:0::1/64", "10.50.0.2/24"], mtu=1400, stp=True)
    assert [str(a) for a in w.addresses] == ["fd00:50::1/64", "10.50.0.2/24"]
    assert (w.name, w.ports, w.mtu, w.stp, w.vlan_filtering, w.link_state) == ("br-a", ("p1",), 1400, True, None, "up")
    assert w.managed_fields() == ["ports", "addresses", "mtu", "stp", "link_state"]
    assert want(name="br-a", state="absent", mtu=1400).managed_fields() == []


@pytest.mark.parametrize("name, fragment", [
    ("br-0123456789abc", "is 16 characters long; Linux interface names have at most 15"),
    ("br 0", "contains ' '"),
    ("br/0", "contains '/'"),
    ("br:0", "contains ':'"),
    ("brü", "contains 'ü'"),
    ("-br0", "starts with '-'"),
    ("", "name is empty"),
])
def test_invalid_bridge_names(name, fragment):
    with pytest.raises(ValidationError) as exc:
        want(name=name)
    assert fragment in str(exc.value)
    assert str(exc.value).endswith("Nothing was changed.")


def test_fifteen_character_name_is_fine():
    assert want(name="br-0123456789ab").name == "br-0123456789ab"


@pytest.mark.parametrize("text, fragment", [
    ("10.0.0.1", "has no prefix length; write it in CIDR form, e.g. 10.0.0.1/24"),
    ("10.0.0.300/24", "is not a valid IPv4 or IPv6 CIDR"),
    ("10.0.0.1/33", "is not a valid IPv4 or IPv6 CIDR"),
    ("fd00::1/129", "is not a valid IPv4 or IPv6 CIDR"),
    ("br0/24", "is not a valid IPv4 or IPv6 CIDR"),
    ("224.0.0.1/4", "is multicast"),
    ("0.0.0.0/0", "is unspecified"),
])
def test_bad_cidrs(text, fragment):
    with pytest.raises(ValueError, match=None) as exc:
        parse_cidr(text)
    assert fragment in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        want(name="br0", addresses=["10.9.9.9/24", text])
    assert fragment in str(exc.value)


@pytest.mark.parametrize("mtu", [0, 67, 65536, 100000])
def test_mtu_out_of_range(mtu):
    with pytest.raises(ValidationError, match=rf"mtu {mtu} is out of range; a bridge MTU must be between 68 and 65535"):
        want(name="br0", mtu=mtu)


def test_mtu_limits_are_accepted():
    assert want(name="br0", mtu=68).mtu == 68
    assert want(name="br0", mtu=65535).mtu == 65535


def test_small_mtu_with_ipv6_address_is_refused():
    with pytest.raises(ValidationError, match="mtu 1200 is below 1280.*raise mtu to at least 1280"):
        want(name="br0", mtu=1200, addresses=["fd00::1/64"])
    assert want(name="br0", mtu=1200, addresses=["10.0.0.1/24"]).mtu == 1200


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as exc:
        want(name="a-very-long-bridge-name", mtu=10, addresses=["10.0.0.1"], ports=["eth0", "eth0"])
    problems = exc.value.details["problems"]
    assert len(problems) == 4
    assert "characters long" in problems[0]
    assert "ports lists eth0 more than once" in problems[1]
    assert "no prefix length" in problems[2]
    assert "mtu 10 is out of range" in problems[3]


def test_duplicate_and_self_references():
    with pytest.raises(ValidationError, match="addresses lists 10.0.0.1 more than once"):
        want(name="br0", addresses=["10.0.0.1/24", "10.0.0.1/16"])
    with pytest.raises(ValidationError, match=r"ports contains the bridge itself \(br0\)"):
        want(name="br0", ports=["eth1", "br0"])
    with pytest.raises(ValidationError, match="port 'eth 1' contains ' '"):
        want(name="br0", ports=["eth 1"])


def test_persist_root_must_exist_when_persisting(tmp_path):
    with pytest.raises(ValidationError, match="persist_root 'etc' is not an absolute path"):
        want(name="br0", persist="networkd", persist_root="etc")
    with pytest.raises(ValidationError, match="is not an existing directory"):
        want(name="br0", persist="auto", persist_root=str(tmp_path / "missing"))
    assert want(name="br0", persist="none", persist_root="relative").persist == "none"
    assert want(name="br0", persist="ifupdown", persist_root=str(tmp_path)).persist_root == str(tmp_path)


def test_netns_name_is_checked():
    with pytest.raises(ValidationError, match="netns 'a/b' is not a network namespace name"):
        want(name="br0", netns="a/b")
    assert want(name="br0", netns="ostk-t1").netns == "ostk-t1"


def test_ports_must_exist_and_be_able_to_be_ports(ns):
    links, _, _ = ns
    with pytest.raises(InterfaceNotFoundError) as exc:
        check_ports(want(name="br-a", ports=["p1", "nope0", "nope1"]), links, "ostk-t1")
    assert str(exc.value).startswith("port interface(s) nope0, nope1 do not exist in network namespace ostk-t1")
    assert exc.value.details["missing"] == ["nope0", "nope1"]
    with pytest.raises(InterfaceConflictError, match="port br-a is itself a bridge"):
        check_ports(want(name="br-b", ports=["br-a"]), links)
    with pytest.raises(InterfaceConflictError, match="port lo is a loopback interface"):
        check_ports(want(name="br-b", ports=["lo"]), links)
    check_ports(want(name="br-a", ports=["p1", "p3"]), links)
    check_ports(want(name="br-a", state="absent", ports=["nope0"]), links)


# --------------------------------------------------------------------------- want vs have -> commands

def test_matching_bridge_needs_no_command(ns):
    links, _, have = ns
    w = want(name="br-a", ports=["p2", "p1"], addresses=["10.50.0.2/24", "10.50.0.3/24", "fd00:50::1/64"],
             mtu=1400, stp=True, vlan_filtering=False)
    assert derive_steps(w, have, links) == []
    assert derive_steps(want(name="br-a"), have, links) == []


def test_create_with_everything_in_a_namespace(ns):
    links, addrs, _ = ns
    w = want(name="br-new", netns="ostk-x", ports=["p3"], addresses=["10.80.0.1/24", "fd00:80::1/64"],
             mtu=9000, stp=True, vlan_filtering=True)
    have = build_state("br-new", links, addrs)
    assert commands(derive_steps(w, have, links), "ostk-x") == [
        "ip -n ostk-x link add name br-new type bridge stp_state 1 vlan_filtering 1",
        "ip -n ostk-x link set dev p3 master br-new",
        "ip -n ostk-x link set dev p3 up",
        "ip -n ostk-x link set dev br-new mtu 9000",
        "ip -n ostk-x addr add 10.80.0.1/24 dev br-new",
        "ip -n ostk-x addr add fd00:80::1/64 dev br-new",
        "ip -n ostk-x link set dev br-new up",
    ]


def test_create_plain_bridge_down(ns):
    links, addrs, _ = ns
    have = build_state("br-new", links, addrs)
    assert commands(derive_steps(want(name="br-new", link_state="down", stp=False), have, links)) == [
        "ip link add name br-new type bridge"]


def test_in_place_changes(ns):
    links, _, have = ns
    w = want(name="br-a", ports=["p1", "p3"], mtu=1500, stp=False, addresses=["10.50.0.2/24", "10.70.0.1/24"])
    assert commands(derive_steps(w, have, links)) == [
        "ip link set dev br-a type bridge stp_state 0",
        "ip link set dev p2 nomaster",
        "ip link set dev p3 master br-a",
        "ip link set dev p3 up",
        "ip link set dev br-a mtu 1500",
        "ip addr del 10.50.0.3/24 dev br-a",
        "ip addr del fd00:50::1/64 dev br-a",
        "ip addr add 10.70.0.1/24 dev br-a",
    ]


def test_deleting_a_primary_re_adds_its_wanted_secondaries(ns):
    links, _, have = ns
    w = want(name="br-a", addresses=["10.50.0.3/24", "fd00:50::1/64"])
    assert commands(derive_steps(w, have, links)) == [
        "ip addr del 10.50.0.3/24 dev br-a",
        "ip addr del 10.50.0.2/24 dev br-a",
        "ip addr add 10.50.0.3/24 dev br-a",
    ]


def test_deleting_primary_and_secondary_deletes_the_secondary_first(ns):
    links, _, have = ns
    assert commands(derive_steps(want(name="br-a", addresses=[]), have, links)) == [
        "ip addr del 10.50.0.3/24 dev br-a",
        "ip addr del 10.50.0.2/24 dev br-a",
        "ip addr del fd00:50::1/64 dev br-a",
    ]


def test_ports_add_mode_keeps_other_ports(ns):
    links, _, have = ns
    assert commands(derive_steps(want(name="br-a", ports=["p3"], ports_mode="add"), have, links)) == [
        "ip link set dev p3 master br-a", "ip link set dev p3 up"]
    assert derive_steps(want(name="br-a", ports=["p2"], ports_mode="add"), have, links) == []


def test_empty_exact_ports_detaches_all(ns):
    links, _, have = ns
    assert commands(derive_steps(want(name="br-a", ports=[]), have, links)) == [
        "ip link set dev p1 nomaster", "ip link set dev p2 nomaster"]


def test_mtu_is_set_again_after_port_changes(ns):
    links, _, have = ns
    assert commands(derive_steps(want(name="br-a", ports=["p1"], mtu=1400), have, links)) == [
        "ip link set dev p2 nomaster", "ip link set dev br-a mtu 1400"]
    assert derive_steps(want(name="br-a", ports=["p1", "p2"], mtu=1400), have, links) == []


def test_link_state_and_absent(ns):
    links, addrs, have = ns
    assert commands(derive_steps(want(name="br-a", link_state="down"), have, links)) == ["ip link set dev br-a down"]
    down = BridgeState(**{**have.__dict__, "admin_up": False})
    assert commands(derive_steps(want(name="br-a"), down, links)) == ["ip link set dev br-a up"]
    assert commands(derive_steps(want(name="br-a", state="absent", mtu=9000), have, links)) == ["ip link del dev br-a"]
    assert derive_steps(want(name="br-gone", state="absent"), build_state("br-gone", links, addrs), links) == []


def test_vlan_filtering_toggle(ns):
    links, _, have = ns
    assert commands(derive_steps(want(name="br-a", vlan_filtering=True), have, links)) == [
        "ip link set dev br-a type bridge vlan_filtering 1"]
    filtering = BridgeState(**{**have.__dict__, "vlan_filtering": True})
    assert commands(derive_steps(want(name="br-a", vlan_filtering=False), filtering, links)) == [
        "ip link set dev br-a type bridge vlan_filtering 0"]
    assert derive_steps(want(name="br-a", vlan_filtering=False), have, links) == []


def test_kernel_link_local_addresses_are_left_alone(host):
    links, addrs = host
    have = build_state("ostk-mgmt", links, addrs)
    assert derive_steps(want(name="ostk-mgmt", addresses=["10.0.0.1/24"]), have, links) == []
    assert commands(derive_steps(want(name="ostk-mgmt", addresses=[]), have, links)) == [
        "ip addr del 10.0.0.1/24 dev ostk-mgmt"]
    listed = want(name="ostk-mgmt", addresses=["10.0.0.1/24", "fe80::9012:fbff:fefa:968d/64"])
    assert derive_steps(listed, have, links) == []


def test_lab_usage_on_a_lab_bridge_with_nspawn_port_is_a_no_op(host):
    """The lab playbook's call: ports are not managed, so nspawn's veth stays."""
    links, addrs = host
    have = build_state("ostk-mgmt", links, addrs)
    w = want(name="ostk-mgmt", addresses=["10.0.0.1/24"], stp=False, mtu=1500, persist="none")
    assert derive_steps(w, have, links) == []


def test_predicted_state_matches_the_commands(ns):
    links, addrs, have = ns
    w = want(name="br-a", ports=["p1", "p3"], mtu=1500, stp=False, addresses=["10.50.0.2/24", "10.70.0.1/24"])
    assert predict_state(w, have, links).as_dict() == {
        "name": "br-a", "exists": True, "mtu": 1500, "addresses": ["10.50.0.2/24", "10.70.0.1/24"],
        "ports": ["p1", "p3"], "stp": False, "vlan_filtering": False, "link_state": "up", "operstate": "DOWN"}
    new = predict_state(want(name="br-n", ports=["p3"]), build_state("br-n", links, addrs), links)
    assert new.as_dict() == {
        "name": "br-n", "exists": True, "mtu": 1500, "addresses": [], "ports": ["p3"], "stp": False,
        "vlan_filtering": False, "link_state": "up", "operstate": None}
    assert predict_state(want(name="br-a", state="absent"), have, links).as_dict() == {"name": "br-a", "exists": False}
    added = predict_state(want(name="br-a", ports=["p3"], ports_mode="add"), have, links)
    assert added.ports == ["p1", "p2", "p3"] and added.mtu == 1400


def test_runtime_diff_shows_only_the_fields_set(ns):
    links, _, have = ns
    w = want(name="br-a", mtu=1500, netns="ostk-t1")
    diff = runtime_diff(w, have, predict_state(w, have, links))
    assert diff == {
        "before_header": "bridge br-a (netns ostk-t1)", "after_header": "bridge br-a (netns ostk-t1)",
        "before": {"state": "present", "mtu": 1400, "link_state": "up"},
        "after": {"state": "present", "mtu": 1500, "link_state": "up"},
    }
    gone = want(name="br-a", state="absent")
    diff = runtime_diff(gone, have, predict_state(gone, have, links))
    assert (diff["before"], diff["after"]) == ({"state": "present"}, {"state": "absent"})


# --------------------------------------------------------------------------- SSH protection

def test_parse_ssh_connection():
    assert parse_ssh_connection("192.0.2.1 51234 192.0.2.2 22") == (
        ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2"))
    assert parse_ssh_connection("::ffff:192.0.2.1 51234 ::ffff:192.0.2.2 22") == (
        ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2"))
    assert parse_ssh_connection("fe80::1%eth0 5 fe80::2%eth0 22") == (
        ipaddress.ip_address("fe80::1"), ipaddress.ip_address("fe80::2"))
    for value in (None, "", "garbage", "192.0.2.1 5 192.0.2.2", "x 5 192.0.2.2 22"):
        assert parse_ssh_connection(value) is None


def test_ssh_interface_is_the_uplink(host):
    links, addrs = host
    client, server = parse_ssh_connection("192.0.2.1 51234 192.0.2.2 22")
    assert ssh_interfaces(client, server, addrs, HOST_ROUTE_ETH0, links) == {
        "eth0": "it holds the SSH server address 192.0.2.2 and the route back to the SSH client 192.0.2.1 "
                "leaves through it"}


def test_ssh_over_a_bridge_protects_its_ports(host):
    links, addrs = host
    client, server = parse_ssh_connection("10.0.0.11 40000 10.0.0.1 22")
    carriers = ssh_interfaces(client, server, addrs, HOST_ROUTE_MGMT, links)
    assert sorted(carriers) == ["ostk-mgmt", "vb-controller"]
    assert carriers["vb-controller"] == "it is a port of ostk-mgmt, which carries the SSH connection"


def test_ssh_server_address_not_local_and_no_route(ns):
    links, addrs, _ = ns
    client, server = parse_ssh_connection("10.99.0.2 40000 10.99.0.1 22")
    assert ssh_interfaces(client, server, addrs, None, links) == {}


def test_enslaving_the_ssh_interface_is_a_risk(host):
    links, addrs = host
    client, server = parse_ssh_connection("192.0.2.1 51234 192.0.2.2 22")
    carriers = ssh_interfaces(client, server, addrs, HOST_ROUTE_ETH0, links)
    w = want(name="br-up", ports=["eth0"], addresses=["192.0.2.2/24"])
    risks = ssh_risks(derive_steps(w, build_state("br-up", links, addrs), links), "br-up", carriers)
    assert len(risks) == 1
    assert risks[0].startswith("enslave eth0 to bridge br-up")
    message = ssh_refusal_message(risks, "192.0.2.1 51234 192.0.2.2 22")
    assert "SSH_CONNECTION='192.0.2.1 51234 192.0.2.2 22'" in message
    assert "force: true" in message and message.endswith("Nothing was changed.")
    # Another bridge, other ports: no risk.
    other = want(name="br-lab", ports=["vb-controller"])
    assert ssh_risks(derive_steps(other, build_state("br-lab", links, addrs), links), "br-lab", carriers) == []


def test_changes_to_the_bridge_carrying_ssh(host):
    links, addrs = host
    client, server = parse_ssh_connection("10.0.0.11 40000 10.0.0.1 22")
    carriers = ssh_interfaces(client, server, addrs, HOST_ROUTE_MGMT, links)
    have = build_state("ostk-mgmt", links, addrs)

    def risks(**params):
        return ssh_risks(derive_steps(want(name="ostk-mgmt", **params), have, links), "ostk-mgmt", carriers)

    assert [r.split(" (")[0] for r in risks(addresses=["10.0.0.2/24"])] == [
        "remove address 10.0.0.1/24 from ostk-mgmt"]
    assert risks(addresses=["10.0.0.1/24", "10.0.0.2/24"]) == []       # adding is harmless
    assert risks(mtu=1400) == []
    assert [r.split(" (")[0] for r in risks(ports=[])] == ["detach vb-controller from bridge ostk-mgmt"]
    assert [r.split(" (")[0] for r in risks(link_state="down")] == ["set ostk-mgmt down"]
    assert [r.split(" (")[0] for r in risks(stp=True)] == ["change STP on ostk-mgmt"]
    assert [r.split(" (")[0] for r in risks(state="absent")] == ["delete bridge ostk-mgmt"]


# --------------------------------------------------------------------------- persistent form

FULL = dict(name="br0", ports=["eth1", "eth2"], addresses=["10.0.0.1/24", "fd00::1/64"], mtu=9000,
            stp=True, vlan_filtering=False)


def test_networkd_files():
    files = networkd_files(want(**FULL))
    header = "# Managed by Ansible (linux_bridge module); local changes will be overwritten.\n"
    assert files == {
        "etc/systemd/network/25-br0.netdev": header + (
            "[NetDev]\nName=br0\nKind=bridge\n\n[Bridge]\nSTP=yes\nVLANFiltering=no\n"),
        "etc/systemd/network/25-br0.network": header + (
            "[Match]\nName=br0\n\n[Link]\nMTUBytes=9000\n\n[Network]\nConfigureWithoutCarrier=yes\n"
            "Address=10.0.0.1/24\nAddress=fd00::1/64\n"),
        "etc/systemd/network/25-br0-ports.network": header + (
            "[Match]\nName=eth1 eth2\n\n[Network]\nBridge=br0\n"),
    }


def test_networkd_files_minimal_down_and_absent():
    files = networkd_files(want(name="br0", link_state="down"))
    assert files["etc/systemd/network/25-br0.netdev"].endswith("[NetDev]\nName=br0\nKind=bridge\n")
    assert files["etc/systemd/network/25-br0.network"].endswith(
        "[Match]\nName=br0\n\n[Link]\nActivationPolicy=down\n\n[Network]\nConfigureWithoutCarrier=yes\n")
    assert files["etc/systemd/network/25-br0-ports.network"] is None
    assert set(networkd_files(want(name="br0", state="absent")).values()) == {None}


def test_ifupdown_file():
    files = ifupdown_files(want(**FULL))
    assert files == {"etc/network/interfaces.d/br0": (
        "# Managed by Ansible (linux_bridge module); local changes will be overwritten.\n"
        "auto br0\n"
        "iface br0 inet static\n"
        "    address 10.0.0.1/24\n"
        "    bridge_ports eth1 eth2\n"
        "    bridge_stp on\n"
        "    bridge_vlan_aware no\n"
        "    mtu 9000\n"
        "\n"
        "iface br0 inet6 static\n"
        "    address fd00::1/64\n"
        "    bridge_ports eth1 eth2\n")}


def test_ifupdown_file_without_addresses_or_ports_and_absent():
    text = ifupdown_files(want(name="br0", link_state="down"))["etc/network/interfaces.d/br0"]
    assert text.splitlines()[1:] == ["iface br0 inet manual", "    bridge_ports none"]
    assert ifupdown_files(want(name="br0", state="absent")) == {"etc/network/interfaces.d/br0": None}


def test_detect_persist_form(tmp_path):
    assert detect_persist_form(str(tmp_path), networkd_running=False) == "none"
    assert detect_persist_form(str(tmp_path), networkd_running=True) == "networkd"
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/ifup").write_text("")
    assert detect_persist_form(str(tmp_path), networkd_running=False) == "ifupdown"
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "systemd-networkd.service").symlink_to("/lib/systemd/system/systemd-networkd.service")
    assert detect_persist_form(str(tmp_path), networkd_running=False) == "networkd"
    (wants / "systemd-networkd.service").unlink()
    (tmp_path / "etc/systemd/network").mkdir(parents=True)
    (tmp_path / "etc/systemd/network/99-default.link").write_text("")
    assert detect_persist_form(str(tmp_path), networkd_running=False) == "ifupdown"
    (tmp_path / "etc/systemd/network/10-eth0.network").write_text("[Match]\nName=eth0\n")
    assert detect_persist_form(str(tmp_path), networkd_running=False) == "networkd"
    assert resolve_persist("ifupdown", str(tmp_path)) == "ifupdown"
    assert resolve_persist("auto", str(tmp_path), networkd_running=False) == "networkd"


def test_plan_files_compares_with_what_is_on_disk(tmp_path):
    w = want(persist="networkd", persist_root=str(tmp_path), **FULL)
    first = plan_files(w, "networkd")
    assert [fc.path for fc in first] == [str(tmp_path / "etc/systemd/network" / n) for n in (
        "25-br0.netdev", "25-br0.network", "25-br0-ports.network")]
    assert all(fc.before is None and fc.changed for fc in first)
    for fc in first:
        os.makedirs(os.path.dirname(fc.path), exist_ok=True)
        with open(fc.path, "w") as handle:
            handle.write(fc.after)
    assert not any(fc.changed for fc in plan_files(w, "networkd"))

    smaller = want(persist="networkd", persist_root=str(tmp_path), **{**FULL, "mtu": 1500})
    changed = [fc for fc in plan_files(smaller, "networkd") if fc.changed]
    assert [os.path.basename(fc.path) for fc in changed] == ["25-br0.network"]
    assert "MTUBytes=9000" in changed[0].before and "MTUBytes=1500" in changed[0].after
    [diff] = file_diffs(changed)
    assert diff["before_header"] == diff["after_header"] == changed[0].path

    gone = plan_files(want(name="br0", state="absent", persist="networkd", persist_root=str(tmp_path)), "networkd")
    assert all(fc.after is None and fc.changed for fc in gone)
    assert file_diffs(gone)[0]["after_header"].endswith(" (removed)")
    assert plan_files(w, "none") == []


def test_file_change_without_change():
    assert not FileChange("/x", None, None).changed
    assert file_diffs([FileChange("/x", "a\n", "a\n")]) == []
    assert file_diffs([FileChange("/x", None, "a\n")])[0]["before_header"] == "/x (absent)"


# --------------------------------------------------------------------------- kernel features

def test_vlan_filtering_support_from_kernel_config(tmp_path):
    on = tmp_path / "config-on"
    on.write_text("CONFIG_BRIDGE=y\nCONFIG_BRIDGE_VLAN_FILTERING=y\n")
    off = tmp_path / "config.gz"
    with gzip.open(off, "wt") as handle:
        handle.write("CONFIG_BRIDGE=y\n# CONFIG_BRIDGE_VLAN_FILTERING is not set\n")
    missing = str(tmp_path / "nothing")
    assert vlan_filtering_support([missing, str(on)]) == (True, str(on))
    assert vlan_filtering_support([str(off), str(on)]) == (False, str(off))
    assert vlan_filtering_support([missing]) == (None, None)
