import pytest
from ansible.errors import AnsibleFilterError

import lab_network as ln


def test_cidr_host_picks_the_nth_address():
    assert ln.cidr_host("10.0.0.0/24", 1) == "10.0.0.1"
    assert ln.cidr_host("10.0.0.0/24", 31) == "10.0.0.31"
    assert ln.cidr_host("172.24.4.7/24", 1) == "172.24.4.1"


@pytest.mark.parametrize("index", [0, 255, 300, -1])
def test_cidr_host_refuses_addresses_outside_the_network(index):
    with pytest.raises(AnsibleFilterError, match="outside 10.0.0.0/24"):
        ln.cidr_host("10.0.0.0/24", index)


def test_bad_cidr_is_named_in_the_error():
    with pytest.raises(AnsibleFilterError, match="'10.0.0.0/33' is not a network"):
        ln.cidr_prefix("10.0.0.0/33")


def test_cidr_prefix():
    assert ln.cidr_prefix("172.24.4.0/24") == 24


# A real `ip -j route show table all` excerpt from a lab host (trimmed).
ROUTES = [
    {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0", "flags": []},
    {"dst": "192.0.2.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "192.0.2.2"},
    {"dst": "10.0.0.0/24", "dev": "ostk-mgmt", "protocol": "kernel", "scope": "link", "prefsrc": "10.0.0.1"},
    {"type": "local", "dst": "10.0.0.1", "table": "local", "dev": "ostk-mgmt"},
]


def test_default_route_and_own_bridge_never_clash():
    assert ln.route_clashes(ROUTES, "10.0.0.0/24", ["ostk-mgmt", "ostk-prov"]) == []


def test_route_on_another_device_clashes():
    routes = ROUTES + [{"dst": "10.0.0.0/16", "dev": "wg0"}]
    assert ln.route_clashes(routes, "10.0.0.0/24", ["ostk-mgmt"]) == [{"dst": "10.0.0.0/16", "dev": "wg0"}]


def test_host_route_inside_the_network_clashes():
    assert ln.route_clashes([{"dst": "172.24.4.9", "dev": "tun0"}], "172.24.4.0/24") == \
        [{"dst": "172.24.4.9/32", "dev": "tun0"}]


def test_disjoint_and_other_family_routes_do_not_clash():
    routes = [{"dst": "10.1.0.0/24", "dev": "x"}, {"dst": "fd00::/64", "dev": "y"}, {"dst": "garbage", "dev": "z"}]
    assert ln.route_clashes(routes, "10.0.0.0/24") == []


def test_lab_node_list_default_shape():
    nodes = ln.lab_node_list("10.0.0.0/24")
    assert nodes == [
        {"name": "controller", "address": "10.0.0.11", "role": "controller", "provider": True},
        {"name": "compute1", "address": "10.0.0.31", "role": "compute", "provider": False},
    ]


def test_lab_node_list_grows_with_compute_count():
    nodes = ln.lab_node_list("10.0.0.0/24", compute_count=3)
    assert [n["name"] for n in nodes] == ["controller", "compute1", "compute2", "compute3"]
    assert nodes[-1]["address"] == "10.0.0.33"


def test_lab_node_list_refuses_zero_computes():
    with pytest.raises(AnsibleFilterError, match="at least 1 compute"):
        ln.lab_node_list("10.0.0.0/24", compute_count=0)


def test_lab_node_list_refuses_colliding_addresses():
    with pytest.raises(AnsibleFilterError, match="collide"):
        ln.lab_node_list("10.0.0.0/24", controller_index=32, compute_count=2)


@pytest.mark.parametrize("value,ok", [("10.0.0.11", True), ("10.0.0.256", False), ("fd00::1", False),
                                      ("controller", False), (None, False), ("10.0.0.0/24", False)])
def test_is_ipv4(value, ok):
    assert ln.is_ipv4(value) is ok


def test_in_cidr():
    assert ln.in_cidr("10.0.0.31", "10.0.0.0/24")
    assert not ln.in_cidr("10.0.1.31", "10.0.0.0/24")
    assert not ln.in_cidr("not-an-address", "10.0.0.0/24")


def test_filters_are_registered():
    assert set(ln.FilterModule().filters()) == {"cidr_host", "cidr_prefix", "route_clashes", "lab_node_list",
                                                "is_ipv4", "in_cidr"}
