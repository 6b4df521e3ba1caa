import pytest
from ansible.errors import AnsibleFilterError

from service_contract import changed_units

ALL = ["neutron-api", "neutron-rpc-server", "neutron-linuxbridge-agent"]


def _r(changed, **item):
    return {"changed": changed, "item": item}


def test_only_changed_items_name_units():
    results = [
        _r(False, path="/etc/neutron/neutron.conf"),
        _r(True, path="/etc/neutron/plugins/ml2/linuxbridge_agent.ini", restarts=["neutron-linuxbridge-agent"]),
        _r(False, path="/etc/neutron/l3_agent.ini", restarts=["neutron-l3-agent"]),
    ]
    assert changed_units(results, ALL) == ["neutron-linuxbridge-agent"]


def test_an_item_without_restarts_names_every_service():
    assert changed_units([_r(True, path="/etc/neutron/neutron.conf")], ALL) == ALL


def test_units_come_once_in_first_seen_order():
    results = [
        _r(True, path="a", restarts=["nova-api", "nova-conductor"]),
        _r(True, path="b", restarts=["nova-conductor", "nova-api", "nova-scheduler"]),
    ]
    assert changed_units(results, []) == ["nova-api", "nova-conductor", "nova-scheduler"]


def test_nothing_changed_restarts_nothing():
    assert changed_units([_r(False, path="a"), _r(False, path="b", restarts=["x"])], ALL) == []



def test_a_string_names_one_unit():
    assert changed_units([_r(True, path="/etc/default/neutron-server", restarts="neutron-api")], ALL) == ["neutron-api"]


def test_an_empty_restarts_list_restarts_nothing():
    assert changed_units([_r(True, path="/etc/default/nova-consoleproxy", restarts=[])], ALL) == []


def test_skipped_results_without_changed_are_ignored():
    assert changed_units([{"skipped": True, "item": {"path": "a"}}], ALL) == []


@pytest.mark.parametrize("bad", [None, "results", {"results": []}])
def test_not_a_results_list_is_a_clear_error(bad):
    with pytest.raises(AnsibleFilterError, match="results"):
        changed_units(bad, ALL)


def test_a_bad_restarts_value_names_the_file():
    with pytest.raises(AnsibleFilterError, match="restarts of /etc/x.conf"):
        changed_units([_r(True, path="/etc/x.conf", restarts=3)], ALL)
