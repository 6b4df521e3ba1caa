import pytest
from ansible.errors import AnsibleFilterError

from service_contract import in_unit_order, service_on_host

NEUTRON = {
    "name": "neutron",
    "components": [
        {"name": "server", "groups": ["controller"], "packages": ["neutron-api", "python3-pymysql"],
         "services": ["neutron-api", "neutron-rpc-server"],
         "uwsgi": [{"name": "neutron-server", "address": "10.0.0.11", "port": 9696, "ini": "/etc/x.ini",
                    "processes": 2, "restarts": ["neutron-api"]}],
         "wait": ["http://10.0.0.11:9696/"]},
        {"name": "agents", "groups": ["network"], "packages": ["neutron-l3-agent"], "services": ["neutron-l3-agent"],
         "settle": 15},
        {"name": "lb", "groups": ["controller", "network", "compute"], "packages": ["neutron-linuxbridge-agent"],
         "services": ["neutron-linuxbridge-agent"]},
    ],
    "database": {"name": "neutron", "user": "neutron", "password": "x"},
    "files": [
        {"path": "/etc/neutron/neutron.conf", "content": {"DEFAULT": {"a": 1}}, "group": "neutron"},
        {"path": "/etc/neutron/ml2.ini", "content": {"ml2": {}},
         "restarts": ["neutron-api", "neutron-rpc-server", "neutron-linuxbridge-agent"]},
        {"path": "/etc/neutron/l3_agent.ini", "groups": ["network"], "content": {}, "restarts": ["neutron-l3-agent"]},
    ],
}


def test_a_compute_node_gets_only_its_components_and_files():
    node = service_on_host(NEUTRON, ["compute"], "neutron")
    assert node["packages"] == ["neutron-linuxbridge-agent"]
    assert node["services"] == ["neutron-linuxbridge-agent"]
    assert node["uwsgi"] == [] and node["wait"] == []
    assert [f["path"] for f in node["ini_files"]] == ["/etc/neutron/neutron.conf", "/etc/neutron/ml2.ini"]
    # neutron.conf has no restarts: every unit of the host; ml2: only the readers it runs.
    assert [f["restarts"] for f in node["ini_files"]] == [["neutron-linuxbridge-agent"]] * 2


def test_a_controller_and_network_node_gets_the_union_in_order():
    node = service_on_host(NEUTRON, ["controller", "network"], "neutron")
    assert node["packages"] == ["neutron-api", "python3-pymysql", "neutron-l3-agent", "neutron-linuxbridge-agent"]
    assert node["services"] == ["neutron-api", "neutron-rpc-server", "neutron-l3-agent", "neutron-linuxbridge-agent"]
    assert node["uwsgi"][0]["restarts"] == ["neutron-api"] and node["wait"] == ["http://10.0.0.11:9696/"]
    assert node["settle"] == {"neutron-l3-agent": 15}
    files = {f["path"]: f for f in node["ini_files"]}
    assert files["/etc/neutron/neutron.conf"]["restarts"] == node["services"]
    assert files["/etc/neutron/neutron.conf"]["group"] == "neutron"
    assert files["/etc/neutron/l3_agent.ini"]["restarts"] == ["neutron-l3-agent"]


def test_a_host_outside_every_group_gets_nothing():
    node = service_on_host(NEUTRON, ["storage"], "neutron")
    assert node["packages"] == node["services"] == node["ini_files"] == []


def test_a_uwsgi_binding_restarts_its_own_unit_by_default():
    svc = {"name": "p", "components": [{"name": "api", "groups": ["controller"], "services": ["placement-api"],
                                        "uwsgi": [{"name": "placement-api", "address": "a", "port": 1, "ini": "i"}]}]}
    binding = service_on_host(svc, ["controller"], "placement")["uwsgi"][0]
    assert binding["restarts"] == ["placement-api"] and binding["path"] == "/etc/default/placement-api"


def test_templates_and_line_edits_are_sorted_by_kind():
    svc = {"name": "nova", "components": [{"name": "c", "groups": ["compute"], "services": ["libvirtd", "nova-compute"]}],
           "files": [
               {"path": "/etc/libvirt/qemu.conf", "lines": [{"regexp": "^#?x=", "line": "x = 1"}, {"line": "y = 2"}],
                "restarts": ["libvirtd", "nova-compute"]},
               {"path": "/etc/x.py", "template": "etc/x.py.j2", "secret": True, "mode": "0640"},
               {"path": "/etc/none", "lines": []},
           ]}
    node = service_on_host(svc, ["compute"], "nova")
    assert [(e["path"], e["regexp"], e["line"], e["backrefs"]) for e in node["line_edits"]] == [
        ("/etc/libvirt/qemu.conf", "^#?x=", "x = 1", False), ("/etc/libvirt/qemu.conf", None, "y = 2", False)]
    assert node["template_files"] == [{"path": "/etc/x.py", "template": "etc/x.py.j2", "secret": True, "mode": "0640",
                                       "restarts": ["libvirtd", "nova-compute"]}]


def test_a_line_edit_with_backrefs_keeps_the_flag():
    svc = {"name": "neutron", "components": [{"name": "a", "groups": ["compute"], "services": ["agent"]}],
           "files": [{"path": "/x.py", "lines": [{"regexp": r"^(\s+)old$", "line": r"\1new", "backrefs": True}]}]}
    edit = service_on_host(svc, ["compute"], "neutron")["line_edits"][0]
    assert edit["backrefs"] is True and edit["restarts"] == ["agent"]


@pytest.mark.parametrize("svc, words", [
    ("notadict", ["role glance", "must be a dict"]),
    ({"name": "g"}, ["lacks the key 'components'", "a list"]),
    ({"name": "g", "components": [], "config": []}, ["unknown key 'config'", "files"]),
    ({"name": "g", "components": "api"}, ["openstack_common_service.components", "must be a list"]),
    ({"name": "g", "components": [{"name": "api"}]}, [".components[0]", "lacks the key 'groups'"]),
    ({"name": "g", "components": [{"name": "api", "groups": ["c"], "uwsgi": [{"name": "x"}]}]},
     [".components[0].uwsgi[0]", "lacks the key 'address'"]),
    ({"name": "g", "components": [], "files": [{"path": "/etc/g.conf"}]},
     ["files[0] (/etc/g.conf)", "exactly one of content"]),
    ({"name": "g", "components": [], "files": [{"path": "/etc/g.conf", "content": {}, "template": "t"}]},
     ["content, template"]),
    ({"name": "g", "components": [], "files": [{"path": "/etc/g.conf", "content": "x = 1"}]},
     ["files[0] (/etc/g.conf).content", "must be a dict"]),
    ({"name": "g", "components": [{"name": "a", "groups": ["c"]}], "files": [{"path": "/p", "lines": ["x"]}]},
     [".lines[0]", "{regexp, line}"]),
    ({"name": "g", "components": [{"name": "a", "groups": ["c"]}], "files": [{"path": "/p", "lines": [
        {"line": "x", "backrefs": True}]}]}, [".lines[0]", "backrefs"]),
    ({"name": "g", "components": [{"name": "a", "groups": ["c"]}], "files": [{"path": "/p", "lines": [
        {"regexp": "x", "line": "x", "backrefs": "yes"}]}]}, [".lines[0]", "true|false"]),
])
def test_a_malformed_dict_names_the_role_the_key_and_what_it_must_be(svc, words):
    with pytest.raises(AnsibleFilterError) as err:
        service_on_host(svc, ["c"], "glance")
    message = str(err.value)
    assert "role glance" in message and "roles/glance/vars/main.yml" in message and "Nothing was changed" in message
    for word in words:
        assert word in message, (word, message)


def test_a_boolean_is_not_a_number():
    svc = {"name": "g", "components": [{"name": "a", "groups": ["c"],
                                        "uwsgi": [{"name": "x", "address": "a", "port": True, "ini": "i"}]}]}
    with pytest.raises(AnsibleFilterError, match="port must be a number"):
        service_on_host(svc, ["c"], "g")


def test_units_restart_in_the_hosts_start_order_once_each():
    assert in_unit_order(["nova-compute", "libvirtd", "nova-compute"], ["libvirtd", "nova-compute"]) == [
        "libvirtd", "nova-compute"]
    assert in_unit_order(["apache2", "x"], ["x"]) == ["x", "apache2"]
    assert in_unit_order("keystone", []) == ["keystone"]


def test_the_documented_contract_and_the_check_agree():
    import os
    import yaml
    import service_contract
    spec_path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "roles", "openstack_common", "meta", "argument_specs.yml")
    with open(spec_path) as f:
        specs = yaml.safe_load(f)["argument_specs"]
    assert {"install", "config", "service", "stop"} <= set(specs)
    for phase in ("install", "config", "service"):
        documented = specs[phase]["options"]["openstack_common_service"]["options"]
        assert set(documented) == set(service_contract._TOP_KEYS), phase
        assert {k for k, v in documented.items() if v.get("required")} == set(service_contract._REQUIRED["service"])


def test_a_value_under_the_wrong_key_is_not_echoed():
    svc = {"name": "g", "components": [], "database": "s3cr3t-password"}
    with pytest.raises(AnsibleFilterError) as err:
        service_on_host(svc, ["c"], "g")
    assert "must be a dict, got a str" in str(err.value) and "s3cr3t" not in str(err.value)


def test_disabled_units_belong_to_the_host_of_their_component_unless_another_runs_them():
    svc = {"name": "nova", "components": [
        {"name": "api", "groups": ["controller"], "services": ["nova-novncproxy"],
         "disabled": ["nova-spicehtml5proxy", "nova-serialproxy"]},
        {"name": "serial", "groups": ["serial"], "services": ["nova-serialproxy"]}]}
    assert service_on_host(svc, ["controller"], "nova")["disabled"] == ["nova-spicehtml5proxy", "nova-serialproxy"]
    # a host that runs a unit never masks it, whatever another component says
    assert service_on_host(svc, ["controller", "serial"], "nova")["disabled"] == ["nova-spicehtml5proxy"]
    assert service_on_host(svc, ["compute"], "nova")["disabled"] == []
