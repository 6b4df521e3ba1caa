"""roles/openstack_common/action_plugins/openstack_common_files.py: the writes it plans for one
host's part of a service, and what it reports of them (never a secret file's content)."""
import importlib.util
import os

import pytest
from ansible.errors import AnsibleActionFail

from service_contract import changed_units, service_on_host

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN = os.path.join(REPO, "roles", "openstack_common", "action_plugins", "openstack_common_files.py")


def _load():
    spec = importlib.util.spec_from_file_location("openstack_common_files", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


files = _load()

NOVA = {
    "name": "nova",
    "components": [
        {"name": "api", "groups": ["controller"], "packages": ["nova-api"], "services": ["nova-api", "nova-api-metadata"],
         "uwsgi": [{"name": "nova-api", "address": "10.0.0.11", "port": 8774, "ini": "/etc/nova/nova-api-uwsgi.ini"},
                   {"name": "nova-api-metadata", "address": "10.0.0.11", "port": 8775,
                    "ini": "/etc/nova/nova-metadata-uwsgi.ini", "restarts": ["nova-api-metadata"]}]},
        {"name": "compute", "groups": ["compute"], "packages": ["nova-compute"], "services": ["nova-compute"]},
    ],
    "files": [
        {"path": "/etc/nova/nova.conf", "content": {"DEFAULT": {"a": 1}}, "group": "nova"},
        {"path": "/etc/nova/policy.yaml", "template": "policy.yaml.j2", "secret": True, "restarts": ["nova-api"]},
        {"path": "/etc/nova/api-paste.ini", "groups": ["controller"], "lines": [{"regexp": "^x", "line": "x = 1"}]},
    ],
}


def test_the_writes_come_in_order_ini_templates_lines_bindings_then_stop_drop_ins():
    node = service_on_host(NOVA, ["controller"], "nova")
    writes = files.plan(node, "/roles/nova/templates", common_templates="/common")
    assert [(w["kind"], w["item"]["path"]) for w in writes] == [
        ("template", "/etc/nova/nova.conf"),
        ("template", "/etc/nova/policy.yaml"),
        ("lines", "/etc/nova/api-paste.ini"),
        ("template", "/etc/default/nova-api"),
        ("template", "/etc/default/nova-api-metadata"),
        ("content", "/etc/systemd/system/nova-api.service.d/10-ostack-uwsgi-stop.conf"),
        ("content", "/etc/systemd/system/nova-api-metadata.service.d/10-ostack-uwsgi-stop.conf"),
    ]
    ini, policy, lines, binding = writes[0], writes[1], writes[2], writes[3]
    assert ini["args"] == {"src": "/common/ini.j2", "dest": "/etc/nova/nova.conf", "owner": "root", "group": "nova",
                           "mode": "0640"}
    assert ini["vars"]["item"]["content"] == {"DEFAULT": {"a": 1}}
    assert policy["args"]["src"] == "/roles/nova/templates/policy.yaml.j2" and policy["args"]["mode"] == "0644"
    assert lines["args"] == {"path": "/etc/nova/api-paste.ini", "regexp": "^x", "line": "x = 1", "backrefs": False}
    assert binding["args"]["src"] == "/common/uwsgi-default.j2"
    assert binding["vars"]["item"]["port"] == 8774
    # The drop-in is what ini_file wrote before, byte for byte, so deployed nodes stay unchanged.
    assert writes[5]["args"]["content"] == "\n[Service]\nKillSignal=SIGINT\n"
    # Its directory is made first: a fresh node has no drop-in directory for the unit.
    assert writes[5]["directory"] == {"path": "/etc/systemd/system/nova-api.service.d", "state": "directory",
                                      "owner": "root", "group": "root", "mode": "0755"}


def test_ini_files_and_secret_templates_are_secret_the_rest_not():
    node = service_on_host(NOVA, ["controller"], "nova")
    assert [w["secret"] for w in files.plan(node, "/t")] == [True, True, False, False, False, False, False]


def test_a_host_without_the_service_s_components_writes_only_its_own_files():
    node = service_on_host(NOVA, ["compute"], "nova")
    writes = files.plan(node, "/t")
    # No binding, no drop-in, no line edit of the controller's api-paste.ini; policy.yaml names
    # a unit the compute node does not run, so it restarts nothing there.
    assert [(w["item"]["path"], w["item"]["restarts"]) for w in writes] == [
        ("/etc/nova/nova.conf", ["nova-compute"]), ("/etc/nova/policy.yaml", [])]


def test_the_reported_results_name_the_units_to_restart_as_a_loop_s_did():
    node = service_on_host(NOVA, ["controller"], "nova")
    writes = files.plan(node, "/t")
    answers = [{"changed": False}, {"changed": True}, {"changed": False}, {"changed": False}, {"changed": True},
               {"changed": True}, {"changed": False}]
    results = [files.summary(w, a) for w, a in zip(writes, answers)]
    # policy.yaml restarts nova-api; the metadata binding nova-api-metadata; a drop-in nothing.
    assert changed_units(results) == ["nova-api", "nova-api-metadata"]


def test_nothing_of_a_secret_file_s_answer_is_reported():
    node = service_on_host(NOVA, ["controller"], "nova")
    ini, lines = files.plan(node, "/t")[0], files.plan(node, "/t")[2]
    answer = {"changed": True, "failed": True, "msg": "password=hunter2", "diff": {"after": "password=hunter2"},
              "invocation": {"module_args": {"content": "password=hunter2"}}}
    reported = files.summary(ini, answer)
    assert "hunter2" not in repr(reported)
    assert reported["msg"] == "writing /etc/nova/nova.conf failed (its answer is hidden: the file holds secrets)"
    # In diff mode a changed secret file is named, its content still hidden.
    named = files.summary(ini, answer, diff_mode=True)
    assert "hunter2" not in repr(named) and "/etc/nova/nova.conf" in named["diff"]["prepared"]
    assert "diff" not in files.summary(ini, {"changed": False}, diff_mode=True)
    shown = files.summary(lines, {"changed": True, "diff": {"before": "x = 0\n", "after": "x = 1\n"}})
    assert shown["diff"] == {"before": "x = 0\n", "after": "x = 1\n"}
    assert "invocation" not in files.summary(lines, answer)


@pytest.mark.parametrize("node, message", [
    ("nova", "node must be the dict service_on_host returns, got str"),
    ({"ini_files": []}, "node lacks template_files, line_edits, uwsgi; pass service_on_host's result"),
])
def test_a_node_that_is_not_service_on_host_s_answer_is_refused(node, message):
    with pytest.raises(AnsibleActionFail, match=message):
        files.plan(node, "/t")
