"""Unit tests of the keystone_registration module: its pure logic (module_utils/keystone_registration.py),
its argument spec and documentation, and its read/apply glue (library/keystone_registration.py) against
an in-memory stand-in for openstacksdk's identity proxy. Nothing here talks to Keystone; the live test
is tests/integration/playbooks/keystone_registration.yml."""
import copy
import itertools
from types import SimpleNamespace

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

import keystone_registration as module_file
from ansible.module_utils.keystone_registration import (
    INTERFACES, RegistrationError, build_want, have_from_snapshot, outcome, pick, plan, registration_due,
)
from keystone_snapshot import keystone_registration_due

GLANCE = {"name": "glance", "type": "image", "description": "OpenStack Image", "url": "http://10.0.0.11:9292"}
NOVA = {"name": "nova", "type": "compute", "description": "OpenStack Compute", "url": "http://10.0.0.11:8774/v2.1"}
SECRET = "s3cr3t-Passw0rd"


def params(**overrides):
    base = {"user": "glance", "password": SECRET, "domain": "default", "project": "service", "role": "admin",
            "region_name": "RegionOne", "services": [dict(GLANCE)]}
    base.update(overrides)
    return base


def want(**overrides):
    return build_want(params(**overrides))


def endpoints_of(service_id, url, region="RegionOne", prefix="e", enabled=True):
    return [{"id": "%s-%s" % (prefix, interface), "service_id": service_id, "interface": interface,
             "region_id": region, "url": url, "enabled": enabled} for interface in INTERFACES]


def in_place(**overrides):
    """Keystone holding exactly what want() asks for."""
    have = {"user": {"id": "u1", "name": "glance", "enabled": True}, "role_assigned": True,
            "services": [{"id": "s1", "name": "glance", "type": "image", "description": "OpenStack Image",
                          "enabled": True}],
            "endpoints": endpoints_of("s1", GLANCE["url"])}
    have.update(overrides)
    return have


def kinds(result):
    return [action["kind"] for action in result["actions"]]


# --------------------------------------------------------------------------- build_want

def test_build_want_keeps_what_the_plan_needs_and_drops_the_password():
    wanted = want()
    assert wanted == {"user": "glance", "domain": "default", "project": "service", "role": "admin",
                      "region": "RegionOne", "services": [GLANCE]}
    assert SECRET not in repr(wanted)


def test_build_want_description_is_optional():
    wanted = want(services=[{"name": "x", "type": "y", "url": "https://x.example:1/v1"}])
    assert wanted["services"][0]["description"] is None


def test_build_want_accepts_no_services():
    assert want(services=[])["services"] == []
    assert want(services=None)["services"] == []


@pytest.mark.parametrize("overrides,fragment", [
    ({"user": ""}, "user must be a non-empty string"),
    ({"user": None}, "user must be a non-empty string"),
    ({"user": " glance"}, "leading or trailing spaces"),
    ({"password": ""}, "password (of the service user) must be a non-empty string"),
    ({"project": "  "}, "project must be a non-empty string"),
    ({"role": None}, "role must be"),
    ({"domain": ""}, "domain must be"),
    ({"region_name": ""}, "region_name must be"),
    ({"services": "glance"}, "services must be a list"),
    ({"services": ["glance"]}, "services[0] must be a dict"),
    ({"services": [dict(GLANCE, port=9292)]}, "services[0] has unknown keys port"),
    ({"services": [dict(GLANCE, name="")]}, "services[0].name must be a non-empty string"),
    ({"services": [dict(GLANCE, type=None)]}, "services[0] (glance).type must be"),
    ({"services": [dict(GLANCE, url="10.0.0.11:9292")]}, "services[0] (glance).url '10.0.0.11:9292' must be an "
                                                         "absolute http:// or https:// URL"),
    ({"services": [dict(GLANCE, url="ftp://10.0.0.11/")]}, "must be an absolute http:// or https:// URL"),
    ({"services": [dict(GLANCE, url="http://")]}, "must be an absolute http:// or https:// URL"),
    ({"services": [dict(GLANCE, url="http://a b/")]}, "must be an absolute http:// or https:// URL"),
    ({"services": [dict(GLANCE, description=3)]}, "services[0] (glance).description must be a string"),
    ({"services": [GLANCE, dict(GLANCE, type="image2")]}, "services[1] (glance): the service glance is listed twice"),
])
def test_build_want_rejects_with_a_message_naming_the_parameter(overrides, fragment):
    with pytest.raises(RegistrationError) as err:
        want(**overrides)
    assert fragment in str(err.value)
    assert SECRET not in str(err.value)


# --------------------------------------------------------------------------- pick

def test_pick_exact_name_or_none():
    found = [{"id": "1", "name": "service"}]
    assert pick("project", "service", found, "domain default", "project") == found[0]
    assert pick("project", "service", [], "domain default", "project") is None


def test_pick_reports_a_name_that_differs_in_case():
    with pytest.raises(RegistrationError) as err:
        pick("user", "glance", [{"id": "1", "name": "Glance"}], "domain default", "user")
    assert "user glance does not exist in domain default but Glance does" in str(err.value)
    assert "set user to Glance" in str(err.value)


def test_pick_refuses_two_of_one_name():
    with pytest.raises(RegistrationError) as err:
        pick("role", "admin", [{"id": "2", "name": "admin"}, {"id": "1", "name": "admin"}], "here", "role")
    assert "2 roles are named admin in here (ids 1, 2)" in str(err.value)


# --------------------------------------------------------------------------- plan

def test_plan_on_an_empty_keystone_creates_everything_in_order():
    result = plan(want(), {"user": None, "role_assigned": False, "services": [], "endpoints": []})
    assert kinds(result) == ["create_user", "assign_role", "create_service",
                             "create_endpoint", "create_endpoint", "create_endpoint"]
    assign = result["actions"][1]
    assert assign["user_id"] is None
    service = result["actions"][2]
    assert (service["name"], service["type"], service["description"], service["service"]) == \
        ("glance", "image", "OpenStack Image", 0)
    endpoints = result["actions"][3:]
    assert [e["interface"] for e in endpoints] == ["public", "internal", "admin"]
    assert all(e["service_id"] is None and e["service"] == 0 and e["region_id"] == "RegionOne"
               and e["url"] == GLANCE["url"] for e in endpoints)
    assert result["before"] == {}
    assert result["after"] == {
        "user glance (domain default)": "enabled",
        "role admin of user glance on project service": "assigned",
        "service glance (image)": "OpenStack Image",
        "endpoint glance (image) public in RegionOne": "http://10.0.0.11:9292",
        "endpoint glance (image) internal in RegionOne": "http://10.0.0.11:9292",
        "endpoint glance (image) admin in RegionOne": "http://10.0.0.11:9292",
    }
    assert [a["text"] for a in result["actions"]][:3] == [
        "create user glance in domain default",
        "give user glance the role admin on project service",
        "create service glance (image)",
    ]
    assert result["warnings"] == []


def test_plan_with_everything_in_place_does_nothing():
    result = plan(want(), in_place())
    assert result["actions"] == []
    assert result["before"] == result["after"]


def test_plan_never_touches_an_existing_users_password():
    result = plan(want(password="another one"), in_place())
    assert result["actions"] == []


def test_plan_enables_a_disabled_user():
    result = plan(want(), in_place(user={"id": "u1", "name": "glance", "enabled": False}))
    assert kinds(result) == ["enable_user"]
    assert result["actions"][0]["user_id"] == "u1"
    assert result["before"]["user glance (domain default)"] == "disabled"
    assert result["after"]["user glance (domain default)"] == "enabled"


def test_plan_assigns_the_role_to_an_existing_user():
    result = plan(want(), in_place(role_assigned=False))
    assert kinds(result) == ["assign_role"]
    assert result["actions"][0]["user_id"] == "u1"
    assert "role admin of user glance on project service" not in result["before"]


def test_plan_updates_a_different_description():
    have = in_place()
    have["services"][0]["description"] = "Glance"
    result = plan(want(), have)
    assert kinds(result) == ["update_service"]
    assert result["actions"][0]["service_id"] == "s1"
    assert result["actions"][0]["description"] == "OpenStack Image"
    assert result["before"]["service glance (image)"] == "Glance"
    assert result["after"]["service glance (image)"] == "OpenStack Image"


def test_plan_keeps_the_description_when_none_is_wanted():
    have = in_place()
    have["services"][0]["description"] = "Glance"
    result = plan(want(services=[dict(GLANCE, description=None)]), have)
    assert result["actions"] == []
    assert result["after"]["service glance (image)"] == "Glance"


def test_plan_leaves_a_disabled_service_alone():
    have = in_place()
    have["services"][0]["enabled"] = False
    assert plan(want(), have)["actions"] == []


def test_plan_updates_endpoints_with_another_url_in_place():
    have = in_place(endpoints=endpoints_of("s1", "http://10.0.0.11:9191"))
    result = plan(want(), have)
    assert kinds(result) == ["update_endpoint"] * 3
    assert [a["endpoint_id"] for a in result["actions"]] == ["e-public", "e-internal", "e-admin"]
    assert all(a["url"] == GLANCE["url"] for a in result["actions"])
    assert result["actions"][0]["text"] == ("update endpoint glance (image) public in RegionOne (id e-public): "
                                            "url http://10.0.0.11:9191 -> http://10.0.0.11:9292")
    assert result["before"]["endpoint glance (image) admin in RegionOne"] == "http://10.0.0.11:9191"
    assert result["after"]["endpoint glance (image) admin in RegionOne"] == GLANCE["url"]


def test_plan_enables_a_disabled_endpoint():
    have = in_place()
    have["endpoints"][1]["enabled"] = False
    result = plan(want(), have)
    assert kinds(result) == ["update_endpoint"]
    assert result["actions"][0]["endpoint_id"] == "e-internal"
    assert result["actions"][0]["text"].endswith(": enable")
    assert result["before"]["endpoint glance (image) internal in RegionOne"] == GLANCE["url"] + " (disabled)"


def test_plan_creates_only_the_missing_endpoint():
    have = in_place()
    del have["endpoints"][2]
    result = plan(want(), have)
    assert kinds(result) == ["create_endpoint"]
    assert result["actions"][0]["interface"] == "admin"
    assert result["actions"][0]["service_id"] == "s1"


def test_plan_ignores_endpoints_of_other_regions_and_services():
    have = in_place(endpoints=endpoints_of("s1", GLANCE["url"], region="RegionTwo", prefix="r2")
                    + endpoints_of("s9", GLANCE["url"], prefix="other"))
    result = plan(want(), have)
    assert kinds(result) == ["create_endpoint"] * 3
    assert all(a["service_id"] == "s1" for a in result["actions"])


def test_plan_matches_services_by_name_and_type_and_warns_about_a_namesake():
    have = in_place(services=[{"id": "s7", "name": "glance", "type": "image-old", "description": "x"}],
                    endpoints=endpoints_of("s7", GLANCE["url"]))
    result = plan(want(), have)
    assert kinds(result) == ["create_service"] + ["create_endpoint"] * 3
    assert result["warnings"] == ["a catalog service named glance exists with another type: image-old (id s7); "
                                  "this task adds one of type image"]


def test_plan_refuses_two_services_of_one_name_and_type():
    have = in_place()
    have["services"].append(dict(have["services"][0], id="s0"))
    with pytest.raises(RegistrationError) as err:
        plan(want(), have)
    assert "2 catalog services are named glance with type image (ids s0, s1)" in str(err.value)
    assert "openstack service delete" in str(err.value)


def test_plan_refuses_two_endpoints_of_one_interface():
    have = in_place()
    have["endpoints"].append(dict(have["endpoints"][0], id="e-dup", url="http://old:1"))
    with pytest.raises(RegistrationError) as err:
        plan(want(), have)
    message = str(err.value)
    assert "the glance (image) service has 2 public endpoints in region RegionOne (ids e-dup, e-public" in message
    assert "openstack endpoint delete" in message


def test_plan_handles_several_services_independently():
    have = in_place()
    result = plan(want(services=[GLANCE, NOVA]), have)
    assert kinds(result) == ["create_service"] + ["create_endpoint"] * 3
    assert result["actions"][0]["service"] == 1
    assert all(a["service"] == 1 for a in result["actions"][1:])


def test_plan_output_never_holds_the_password():
    result = plan(want(), {"user": None, "role_assigned": False, "services": [], "endpoints": []})
    assert SECRET not in repr(result)


def test_plan_does_not_modify_its_inputs():
    wanted, have = want(), in_place(endpoints=endpoints_of("s1", "http://old:1"))
    frozen = copy.deepcopy((wanted, have))
    plan(wanted, have)
    assert (wanted, have) == frozen


# --------------------------------------------------------------------------- outcome

def test_outcome_takes_ids_from_keystone_and_from_what_was_created():
    have = in_place()
    del have["endpoints"][2]
    created = {"user": None, "services": {1: "s2"},
               "endpoints": {(0, "admin"): "new-admin", (1, "public"): "n-p", (1, "internal"): "n-i",
                             (1, "admin"): "n-a"}}
    user_id, services = outcome(want(services=[GLANCE, NOVA]), have, created)
    assert user_id == "u1"
    assert services[0] == {"name": "glance", "type": "image", "id": "s1", "endpoints": {
        "public": {"id": "e-public", "url": GLANCE["url"]},
        "internal": {"id": "e-internal", "url": GLANCE["url"]},
        "admin": {"id": "new-admin", "url": GLANCE["url"]}}}
    assert services[1]["id"] == "s2"
    assert services[1]["endpoints"]["admin"] == {"id": "n-a", "url": NOVA["url"]}


def test_outcome_in_check_mode_has_no_ids_for_what_would_be_created():
    user_id, services = outcome(want(), {"user": None, "services": [], "endpoints": []},
                                {"user": None, "services": {}, "endpoints": {}})
    assert user_id is None
    assert services[0]["id"] is None
    assert services[0]["endpoints"]["public"] == {"id": None, "url": GLANCE["url"]}


# --------------------------------------------------------------------------- argument spec and docs

def test_documentation_matches_argument_spec(documentation_matches_argument_spec):
    assert {"actions", "user_id", "services"} <= set(documentation_matches_argument_spec(module_file))


def _validate(**overrides):
    values = {"auth": {"auth_url": "http://10.0.0.11:5000/v3", "username": "admin", "password": "adminpw",
                       "project_name": "admin"},
              "region_name": "RegionOne", "user": "glance", "password": SECRET, "project": "service",
              "role": "admin", "services": [dict(GLANCE)]}
    values.update(overrides)
    spec = module_file.MODULE_ARGS["argument_spec"]
    return ArgumentSpecValidator(spec).validate(values)


def test_argument_spec_accepts_the_roles_input_and_masks_both_passwords():
    result = _validate()
    assert result.error_messages == []
    assert {SECRET, "adminpw"} <= result._no_log_values
    # Only the passwords: the other auth values (admin, Default) stay readable in the output.
    assert "admin" not in result._no_log_values
    assert result.validated_parameters["domain"] == "default"


@pytest.mark.parametrize("overrides,fragment", [
    ({"services": [dict(GLANCE, port=1)]}, "port"),
    ({"services": [{"name": "glance", "type": "image"}]}, "url"),
    ({"auth": {"auth_url": "http://x/v3", "username": "admin"}}, "password"),
    ({"auth": {"auth_url": "http://x/v3", "username": "admin", "password": "p", "token": "t"}}, "token"),
])
def test_argument_spec_rejects_a_bad_service_or_auth(overrides, fragment):
    result = _validate(**overrides)
    assert result.error_messages
    assert fragment in " ".join(result.error_messages)


# --------------------------------------------------------------------------- read and apply (module glue)

class FakeIdentity(object):
    """In-memory stand-in for the few calls of openstacksdk's identity proxy the module makes."""

    def __init__(self):
        self.ids = ("id%d" % n for n in itertools.count(1))
        self.domains = [SimpleNamespace(id="default", name="Default")]
        self.projects_ = [SimpleNamespace(id="p1", name="service", domain_id="default")]
        self.roles_ = [SimpleNamespace(id="r1", name="admin", domain_id=None),
                       SimpleNamespace(id="r2", name="admin", domain_id="other")]
        self.users_ = []
        self.assignments = set()
        self.services_ = []
        self.endpoints_ = []
        self.writes = []

    def find_domain(self, name_or_id):
        return next((d for d in self.domains if name_or_id in (d.id, d.name)), None)

    def projects(self, domain_id, name):
        return [p for p in self.projects_ if p.domain_id == domain_id and p.name == name]

    def roles(self, name):
        return [r for r in self.roles_ if r.name == name]

    def users(self, domain_id, name=None):
        return [u for u in self.users_ if u.domain_id == domain_id and name in (None, u.name)]

    def role_assignments(self, scope_project_id, role_id, user_id=None):
        return [SimpleNamespace(user={"id": u}) for (u, p, r) in sorted(self.assignments)
                if (p, r) == (scope_project_id, role_id) and user_id in (None, u)]

    def services(self):
        return list(self.services_)

    def endpoints(self, region_id):
        return [e for e in self.endpoints_ if e.region_id == region_id]

    def create_user(self, name, password, domain_id, is_enabled):
        user = SimpleNamespace(id=next(self.ids), name=name, password=password, domain_id=domain_id,
                               is_enabled=is_enabled)
        self.users_.append(user)
        self.writes.append("create_user")
        return user

    def update_user(self, user_id, is_enabled):
        next(u for u in self.users_ if u.id == user_id).is_enabled = is_enabled
        self.writes.append("update_user")

    def assign_project_role_to_user(self, project, user, role):
        self.assignments.add((user, project, role))
        self.writes.append("assign")

    def create_service(self, name, type, description=None):
        service = SimpleNamespace(id=next(self.ids), name=name, type=type, description=description,
                                  is_enabled=True)
        self.services_.append(service)
        self.writes.append("create_service")
        return service

    def update_service(self, service_id, description):
        next(s for s in self.services_ if s.id == service_id).description = description
        self.writes.append("update_service")

    def create_endpoint(self, service_id, interface, region_id, url, is_enabled):
        endpoint = SimpleNamespace(id=next(self.ids), service_id=service_id, interface=interface,
                                   region_id=region_id, url=url, is_enabled=is_enabled)
        self.endpoints_.append(endpoint)
        self.writes.append("create_endpoint")
        return endpoint

    def update_endpoint(self, endpoint_id, url, is_enabled):
        endpoint = next(e for e in self.endpoints_ if e.id == endpoint_id)
        endpoint.url, endpoint.is_enabled = url, is_enabled
        self.writes.append("update_endpoint")


def run(identity, wanted, password=SECRET):
    have, ids = module_file.read(identity, wanted)
    result = plan(wanted, have)
    done = []
    created = module_file.apply(identity, result["actions"], password, ids, done)
    return result, done, outcome(wanted, have, created)


def test_read_and_apply_register_once_and_then_change_nothing():
    identity = FakeIdentity()
    wanted = want(services=[GLANCE, NOVA])
    result, done, (user_id, services) = run(identity, wanted)
    assert done == [a["text"] for a in result["actions"]]
    assert identity.writes == ["create_user", "assign", "create_service"] + ["create_endpoint"] * 3 \
        + ["create_service"] + ["create_endpoint"] * 3
    user = identity.users_[0]
    assert (user.id, user.password, user.domain_id, user.is_enabled) == (user_id, SECRET, "default", True)
    assert identity.assignments == {(user_id, "p1", "r1")}
    assert [s["id"] for s in services] == [s.id for s in identity.services_]
    nova_id = identity.services_[1].id
    assert sorted((e.interface, e.url) for e in identity.endpoints_ if e.service_id == nova_id) == \
        sorted((i, NOVA["url"]) for i in INTERFACES)
    assert services[1]["endpoints"]["admin"]["id"] in [e.id for e in identity.endpoints_]

    identity.writes = []
    again, done, (same_user, same_services) = run(identity, wanted, password="changed")
    assert again["actions"] == [] and identity.writes == []
    assert identity.users_[0].password == SECRET
    assert (same_user, same_services) == (user_id, services)


def test_read_and_apply_update_endpoints_in_place():
    identity = FakeIdentity()
    run(identity, want())
    ids = sorted(e.id for e in identity.endpoints_)
    moved = dict(GLANCE, url="http://10.0.0.12:9292")
    result, _, _ = run(identity, want(services=[moved]))
    assert kinds(result) == ["update_endpoint"] * 3
    assert sorted(e.id for e in identity.endpoints_) == ids
    assert {e.url for e in identity.endpoints_} == {moved["url"]}


def test_read_fails_clearly_without_the_project_role_or_domain():
    identity = FakeIdentity()
    identity.projects_ = []
    with pytest.raises(RegistrationError) as err:
        module_file.read(identity, want())
    assert "project service does not exist in domain default" in str(err.value)
    identity = FakeIdentity()
    identity.roles_ = identity.roles_[1:]
    with pytest.raises(RegistrationError) as err:
        module_file.read(identity, want())
    assert "role admin does not exist in Keystone" in str(err.value)
    with pytest.raises(RegistrationError) as err:
        module_file.read(FakeIdentity(), want(domain="nope"))
    assert "domain nope does not exist" in str(err.value)


def test_read_skips_the_catalog_when_there_are_no_services():
    identity = FakeIdentity()
    identity.services = identity.endpoints = None  # would fail if called
    have, _ = module_file.read(identity, want(services=[]))
    assert have["services"] == [] and have["endpoints"] == []


# --------------------------------------------------------------------------- snapshot

def snapshot_of(identity, **overrides):
    return module_file.read_snapshot(identity, params(**overrides))


def test_argument_spec_needs_user_and_password_unless_snapshot():
    spec = module_file.MODULE_ARGS["argument_spec"]
    required_if = module_file.MODULE_ARGS["required_if"]
    base = {"auth": {"auth_url": "http://10.0.0.11:5000/v3", "username": "admin", "password": "adminpw"},
            "region_name": "RegionOne", "project": "service", "role": "admin"}
    missing = ArgumentSpecValidator(spec, required_if=required_if).validate(dict(base))
    assert "user" in " ".join(missing.error_messages) and "password" in " ".join(missing.error_messages)
    ok = ArgumentSpecValidator(spec, required_if=required_if).validate(dict(base, snapshot=True))
    assert ok.error_messages == []


def test_a_snapshot_plans_as_the_modules_own_read_does():
    identity = FakeIdentity()
    wanted = want(services=[GLANCE, NOVA])
    assert registration_due(params(services=[GLANCE, NOVA]), snapshot_of(identity))
    run(identity, wanted)
    snap = snapshot_of(identity)
    assert snap["assigned"] == [identity.users_[0].id] and len(snap["endpoints"]) == 6
    # The same plan from the snapshot as from the module's targeted read, so nothing is due.
    have, _ = module_file.read(identity, wanted)
    assert have_from_snapshot(wanted, snap) == have
    assert not registration_due(params(services=[GLANCE, NOVA]), snap)
    assert not registration_due(params(services=[GLANCE]), snap)
    # Another service, another URL, a disabled user or endpoint, a lost assignment: due.
    assert registration_due(params(user="nova"), snap)
    assert registration_due(params(services=[dict(GLANCE, url="http://10.0.0.12:9292")]), snap)
    identity.users_[0].is_enabled = False
    assert registration_due(params(), snapshot_of(identity))
    identity.users_[0].is_enabled = True
    identity.endpoints_[0].is_enabled = False
    assert registration_due(params(), snapshot_of(identity))
    identity.endpoints_[0].is_enabled = True
    identity.assignments.clear()
    assert registration_due(params(), snapshot_of(identity))


def test_a_snapshot_of_another_scope_or_none_cannot_tell_so_the_module_runs():
    identity = FakeIdentity()
    run(identity, want())
    snap = snapshot_of(identity)
    assert not registration_due(params(), snap)
    for other in ({"domain": "heat"}, {"project": "admin"}, {"role": "member"}, {"region_name": "RegionTwo"}):
        assert have_from_snapshot(want(**other), snap) is None
        assert registration_due(params(**other), snap)
    assert registration_due(params(), None)
    assert registration_due(params(), {"skipped": True})


def test_bad_input_or_an_ambiguous_keystone_is_left_to_the_module_to_report():
    identity = FakeIdentity()
    run(identity, want())
    snap = snapshot_of(identity)
    assert registration_due(params(password=""), snap)
    assert registration_due(params(user="Glance"), snap)      # Keystone holds glance: pick() refuses
    snap["services"].append(dict(snap["services"][0], id="dup"))
    assert registration_due(params(), snap)


def test_a_snapshot_holds_no_password():
    identity = FakeIdentity()
    run(identity, want())
    assert SECRET not in repr(snapshot_of(identity))


def test_the_filter_takes_the_service_contracts_keystone_dict():
    identity = FakeIdentity()
    run(identity, want())
    snap = snapshot_of(identity)
    ks = {"user": "glance", "password": SECRET, "services": [dict(GLANCE)]}
    assert not keystone_registration_due(ks, snap, project="service", role="admin", region="RegionOne")
    assert keystone_registration_due(dict(ks, user="placement"), snap, project="service", role="admin",
                                     region="RegionOne")
    assert keystone_registration_due(ks, snap, project="service", role="admin", region="RegionOne", domain="heat")
    with pytest.raises(Exception, match="keystone dict"):
        keystone_registration_due(None, snap, project="service", role="admin", region="RegionOne")
