#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module keystone_registration: a service's Keystone account and catalog entries in one
login. Logic: module_utils/keystone_registration.py; this file reads and writes Keystone."""

DOCUMENTATION = r"""
---
module: keystone_registration
short_description: Register an OpenStack service with Keystone (account, role, catalog services, endpoints) in one call
description:
  - Makes sure a service's account exists in Keystone with a role on a project, and that each of its
    catalog services exists with one public, one internal and one admin endpoint in a region.
  - Logs in once and reads what it needs (the user in O(domain), its role assignment, the catalog
    services and the region's endpoints) in a handful of API calls, then creates or updates only
    what is missing or different. When everything is in place it changes nothing and reports
    C(changed=false).
  - The user is looked up by name in O(domain). A missing user is created, enabled, with
    O(password); an existing user's password is never changed (as C(update_password=on_create) of
    M(openstack.cloud.identity_user)); a disabled user is enabled again.
  - The user gets O(role) on O(project) (a direct assignment). O(project) and O(role) must exist.
  - A catalog service is matched by name and type; a different description is updated. Its enabled
    flag is left as it is.
  - Each service gets one endpoint per interface (public, internal, admin) in O(region_name) with the
    service's URL. An existing endpoint with another URL, or disabled, is updated in place (it keeps
    its id); endpoints are never duplicated.
  - Two catalog services of the same name and type, or two endpoints of one service, interface and
    region, are ambiguous; the task then fails, names their ids and changes nothing.
  - With O(snapshot=true) it changes nothing and only reads, for O(domain), O(project), O(role) and
    O(region_name), what every registration there would read (the domain's users, the users with
    O(role) on O(project), the catalog services and the region's endpoints) and returns it as
    RV(snapshot). The filter C(keystone_registration_due) plans a registration against it, so a
    run that registers many services can read Keystone once and call this module only for the
    services with something to do.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
options:
  auth:
    description:
      - How to log in to Keystone, as the O(auth) of the openstack.cloud modules with the password
        plugin. The account must be allowed to manage users, role assignments and the catalog
        (an admin).
    type: dict
    required: true
    suboptions:
      auth_url:
        description: Keystone's identity URL, for example V(http://10.0.0.11:5000/v3).
        type: str
        required: true
      username:
        description: The admin's user name.
        type: str
        required: true
      password:
        description: The admin's password. Never shown in the task's result.
        type: str
        required: true
      project_name:
        description: The project to scope the token to (V(admin)).
        type: str
      project_domain_name:
        description: Domain name of O(auth.project_name).
        type: str
      project_domain_id:
        description: Domain id of O(auth.project_name).
        type: str
      user_domain_name:
        description: Domain name of O(auth.username).
        type: str
      user_domain_id:
        description: Domain id of O(auth.username).
        type: str
  region_name:
    description:
      - The region of the endpoints, also the region the API calls use.
    type: str
    required: true
  user:
    description:
      - Name of the service's account. Required unless O(snapshot=true).
    type: str
  password:
    description:
      - Password of the account, set when the account is created and never changed afterwards.
        Never shown in the task's result or diff. Required unless O(snapshot=true).
    type: str
  snapshot:
    description:
      - Only read Keystone and return RV(snapshot); O(user), O(password) and O(services) are not used.
    type: bool
    default: false
  domain:
    description:
      - Name or id of the domain of O(user) and of O(project).
    type: str
    default: default
  project:
    description:
      - Name of the project, in O(domain), on which O(user) gets O(role). It must exist.
    type: str
    required: true
  role:
    description:
      - Name of the (global) role O(user) gets on O(project). It must exist.
    type: str
    required: true
  services:
    description:
      - The catalog services of the account, each with its three endpoints. A service name may
        appear once.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the catalog service (V(glance)).
        type: str
        required: true
      type:
        description: Type of the catalog service (V(image)).
        type: str
        required: true
      description:
        description: Description of the catalog service; when not given, an existing description is kept.
        type: str
      url:
        description: URL of the public, internal and admin endpoints (absolute, V(http://) or V(https://)).
        type: str
        required: true
  validate_certs:
    description:
      - Verify Keystone's TLS certificate when O(auth.auth_url) is V(https://).
    type: bool
    default: true
  ca_cert:
    description:
      - A CA bundle to verify Keystone's TLS certificate with.
    type: path
  timeout:
    description:
      - Seconds to wait for each API call.
    type: int
    default: 30
requirements:
  - openstacksdk on the host that runs the module (usually the Ansible controller, with
    C(delegate_to=localhost))
notes:
  - Supports check mode and diff mode. In check mode nothing is changed and RV(actions) lists what
    would be done; the diff maps each entry the task manages (user, role assignment, catalog
    services, endpoints) to its state before and after.
  - O(password) and O(auth.password) are marked no_log, so neither appears in the result, the diff
    or an error message; the task itself needs no C(no_log) for them.
seealso:
  - module: openstack.cloud.identity_user
  - module: openstack.cloud.role_assignment
  - module: openstack.cloud.catalog_service
  - module: openstack.cloud.endpoint
"""

EXAMPLES = r"""
- name: Register the image service
  keystone_registration:
    auth:
      auth_url: http://10.0.0.11:5000/v3
      username: admin
      password: "{{ keystone_admin_password }}"
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    user: glance
    password: "{{ glance_keystone_password }}"
    project: service
    role: admin
    services:
      - name: glance
        type: image
        description: OpenStack Image
        url: http://10.0.0.11:9292
  delegate_to: localhost
  run_once: true

- name: Read Keystone once for the registrations of a run
  keystone_registration:
    auth: "{{ admin_auth }}"
    region_name: RegionOne
    project: service
    role: admin
    snapshot: true
  register: keystone_snapshot
  delegate_to: localhost
  run_once: true

- name: Register the image service only if the snapshot shows something to do
  keystone_registration:
    auth: "{{ admin_auth }}"
    region_name: RegionOne
    user: glance
    password: "{{ glance_keystone_password }}"
    project: service
    role: admin
    services: [{name: glance, type: image, description: OpenStack Image, url: "http://10.0.0.11:9292"}]
  when: >-
    {'user': 'glance', 'password': glance_keystone_password,
     'services': [{'name': 'glance', 'type': 'image', 'description': 'OpenStack Image', 'url': 'http://10.0.0.11:9292'}]}
    | keystone_registration_due(keystone_snapshot.snapshot, project='service', role='admin', region='RegionOne')
  delegate_to: localhost
  run_once: true

- name: Register a service account without catalog entries
  keystone_registration:
    auth: "{{ admin_auth }}"
    region_name: RegionOne
    user: heat_domain_admin
    password: "{{ heat_domain_admin_password }}"
    domain: heat
    project: service
    role: admin
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
snapshot:
  description:
    - With O(snapshot=true), what Keystone holds for O(domain), O(project), O(role) and O(region_name),
      as the names they were asked for and the entries, without any password.
  returned: when O(snapshot=true)
  type: dict
  sample:
    domain: default
    project: service
    role: admin
    region: RegionOne
    users: [{id: 6b5a0d5c8e8b4e0f9a1c2d3e4f5a6b7c, name: glance, enabled: true}]
    assigned: [6b5a0d5c8e8b4e0f9a1c2d3e4f5a6b7c]
    services: [{id: 0f3a5b6c7d8e9f0a1b2c3d4e5f6a7b8c, name: glance, type: image, description: OpenStack Image, enabled: true}]
    endpoints:
      - {id: 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d, service_id: 0f3a5b6c7d8e9f0a1b2c3d4e5f6a7b8c, interface: public,
         region_id: RegionOne, url: "http://10.0.0.11:9292", enabled: true}
actions:
  description:
    - What was done (in check mode, what would be done), in order, one readable line each. Empty when
      everything was in place.
  returned: always
  type: list
  elements: str
  sample:
    - create user glance in domain default
    - give user glance the role admin on project service
    - "update endpoint glance (image) public in RegionOne (id 3c1e...): url http://10.0.0.11:9191
      -> http://10.0.0.11:9292"
user_id:
  description: Id of the user; null in check mode when it would be created.
  returned: unless O(snapshot=true)
  type: str
  sample: 6b5a0d5c8e8b4e0f9a1c2d3e4f5a6b7c
services:
  description:
    - The catalog services as the task leaves them (in check mode, as it would leave them), with their
      endpoints by interface. An id is null in check mode for what would be created.
  returned: unless O(snapshot=true)
  type: list
  elements: dict
  sample:
    - name: glance
      type: image
      id: 0f3a5b6c7d8e9f0a1b2c3d4e5f6a7b8c
      endpoints:
        public: {id: 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d, url: "http://10.0.0.11:9292"}
        internal: {id: 2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e, url: "http://10.0.0.11:9292"}
        admin: {id: 3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f, url: "http://10.0.0.11:9292"}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.keystone_registration import RegistrationError, build_want, outcome, pick, plan

try:
    import openstack
except ImportError:
    openstack = None
    OPENSTACKSDK_IMPORT_ERROR = traceback.format_exc()
else:
    OPENSTACKSDK_IMPORT_ERROR = None


# The typed argument spec, at module level so unit tests can validate it.
MODULE_ARGS = dict(
    argument_spec=dict(
        auth=dict(type="dict", required=True, options=dict(
            auth_url=dict(type="str", required=True),
            username=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            project_name=dict(type="str"),
            project_domain_name=dict(type="str"),
            project_domain_id=dict(type="str"),
            user_domain_name=dict(type="str"),
            user_domain_id=dict(type="str"),
        )),
        region_name=dict(type="str", required=True),
        user=dict(type="str"),
        password=dict(type="str", no_log=True),
        snapshot=dict(type="bool", default=False),
        domain=dict(type="str", default="default"),
        project=dict(type="str", required=True),
        role=dict(type="str", required=True),
        services=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            type=dict(type="str", required=True),
            description=dict(type="str"),
            url=dict(type="str", required=True),
        )),
        validate_certs=dict(type="bool", default=True),
        ca_cert=dict(type="path"),
        timeout=dict(type="int", default=30),
    ),
    required_if=[("snapshot", False, ("user", "password"))],
)


def connect(params):
    """One authenticated connection; clouds.yaml and OS_* variables are ignored, auth says it all."""
    auth = dict((key, value) for key, value in params["auth"].items() if value is not None)
    kwargs = dict(auth_type="password", auth=auth, region_name=params["region_name"],
                  verify=params["validate_certs"], api_timeout=params["timeout"],
                  app_name="ostack-keystone_registration", load_yaml_config=False, load_envvars=False)
    if params["ca_cert"]:
        kwargs["cacert"] = params["ca_cert"]
    return openstack.connect(**kwargs)


def scope(identity, want):
    """The domain, project and role ``want`` names, as Keystone holds them; RegistrationError if one
    is missing."""
    domain = identity.find_domain(want["domain"])
    if domain is None:
        raise RegistrationError("domain %s does not exist in Keystone: set domain to the name or id of an existing "
                                "domain" % want["domain"])
    where = "domain %s" % want["domain"]
    project = pick("project", want["project"],
                   [dict(id=p.id, name=p.name) for p in identity.projects(domain_id=domain.id, name=want["project"])],
                   where, "project")
    if project is None:
        raise RegistrationError("project %s does not exist in %s: create it first (the keystone role creates the "
                                "service project) or set project" % (want["project"], where))
    role = pick("role", want["role"],
                [dict(id=r.id, name=r.name) for r in identity.roles(name=want["role"]) if not r.domain_id],
                "Keystone's global roles", "role")
    if role is None:
        raise RegistrationError("role %s does not exist in Keystone: create it first or set role" % want["role"])
    return domain, project, role


def _users(identity, domain_id, **query):
    return [dict(id=u.id, name=u.name, enabled=u.is_enabled) for u in identity.users(domain_id=domain_id, **query)]


def _catalog(identity, region):
    """The catalog services and the region's endpoints, as plan() takes them."""
    services = [dict(id=s.id, name=s.name, type=s.type, description=s.description, enabled=s.is_enabled)
                for s in identity.services()]
    endpoints = [dict(id=e.id, service_id=e.service_id, interface=e.interface, region_id=e.region_id,
                      url=e.url, enabled=e.is_enabled)
                 for e in identity.endpoints(region_id=region)]
    return services, endpoints


def read_snapshot(identity, params):
    """What every registration in one domain, project, role and region reads, in one go: the
    domain's users, the ids of the users with the role on the project (direct assignments), the
    catalog and the region's endpoints. The keys are those have_from_snapshot() takes."""
    names = dict(domain=params["domain"], project=params["project"], role=params["role"],
                 region=params["region_name"])
    domain, project, role = scope(identity, names)
    users = _users(identity, domain.id)
    assigned = sorted(set(a.user["id"] for a in identity.role_assignments(scope_project_id=project["id"],
                                                                           role_id=role["id"])
                          if a.user and a.user.get("id")))
    services, endpoints = _catalog(identity, params["region_name"])
    return dict(names, users=users, assigned=assigned, services=services, endpoints=endpoints)


def read(identity, want):
    """What Keystone holds, as the plain dicts plan() takes, and the ids the actions need."""
    domain, project, role = scope(identity, want)
    where = "domain %s" % want["domain"]
    user = pick("user", want["user"], _users(identity, domain.id, name=want["user"]), where, "user")
    assigned = False
    if user is not None:
        assigned = any(True for _ in identity.role_assignments(user_id=user["id"], scope_project_id=project["id"],
                                                               role_id=role["id"]))
    have = dict(user=user, role_assigned=assigned, services=[], endpoints=[])
    if want["services"]:
        have["services"], have["endpoints"] = _catalog(identity, want["region"])
    return have, dict(domain_id=domain.id, project_id=project["id"], role_id=role["id"])


def apply(identity, actions, password, ids, done):
    """Carry out the planned actions in order; ``done`` collects the texts of those that succeeded.
    Returns the ids of what was created, as outcome() takes them:
    {"user": id, "services": {index: id}, "endpoints": {(index, interface): id}}."""
    created = {"user": None, "services": {}, "endpoints": {}}
    for action in actions:
        kind = action["kind"]
        if kind == "create_user":
            created["user"] = identity.create_user(name=action["name"], password=password,
                                                   domain_id=ids["domain_id"], is_enabled=True).id
        elif kind == "enable_user":
            identity.update_user(action["user_id"], is_enabled=True)
        elif kind == "assign_role":
            identity.assign_project_role_to_user(ids["project_id"], action["user_id"] or created["user"],
                                                 ids["role_id"])
        elif kind == "create_service":
            attrs = dict(name=action["name"], type=action["type"])
            if action["description"] is not None:
                attrs["description"] = action["description"]
            created["services"][action["service"]] = identity.create_service(**attrs).id
        elif kind == "update_service":
            identity.update_service(action["service_id"], description=action["description"])
        elif kind == "create_endpoint":
            service_id = action["service_id"] or created["services"][action["service"]]
            created["endpoints"][(action["service"], action["interface"])] = identity.create_endpoint(
                service_id=service_id, interface=action["interface"], region_id=action["region_id"],
                url=action["url"], is_enabled=True).id
        elif kind == "update_endpoint":
            identity.update_endpoint(action["endpoint_id"], url=action["url"], is_enabled=True)
        else:  # pragma: no cover - plan() makes only the kinds above
            raise RegistrationError("unknown action %r" % kind)
        done.append(action["text"])
    return created


def main():
    module = AnsibleModule(supports_check_mode=True, **MODULE_ARGS)
    if openstack is None:
        module.fail_json(msg=missing_required_lib("openstacksdk"), exception=OPENSTACKSDK_IMPORT_ERROR)
    auth_url = module.params["auth"]["auth_url"]
    if module.params["snapshot"]:
        try:
            snapshot = read_snapshot(connect(module.params).identity, module.params)
        except RegistrationError as exc:
            module.fail_json(msg=str(exc))
        except Exception as exc:  # as below
            module.fail_json(msg="reading Keystone at %s failed: %s: %s (check auth, region_name and that Keystone "
                                 "is up)" % (auth_url, type(exc).__name__, exc), exception=traceback.format_exc())
        module.exit_json(changed=False, actions=[], snapshot=snapshot)
    try:
        want = build_want(module.params)
    except RegistrationError as exc:
        module.fail_json(msg=str(exc))

    try:
        conn = connect(module.params)
        have, ids = read(conn.identity, want)
        result = plan(want, have)
    except RegistrationError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # openstacksdk and keystoneauth raise many kinds; fail_json masks the passwords
        module.fail_json(msg="reading Keystone at %s failed: %s: %s (check auth, region_name and that Keystone is "
                             "up)" % (auth_url, type(exc).__name__, exc), exception=traceback.format_exc())

    for warning in result["warnings"]:
        module.warn(warning)
    done = []
    created = {"user": None, "services": {}, "endpoints": {}}
    if result["actions"] and not module.check_mode:
        try:
            created = apply(conn.identity, result["actions"], module.params["password"], ids, done)
        except Exception as exc:
            module.fail_json(msg="Keystone at %s: %s failed: %s: %s" % (auth_url, result["actions"][len(done)]["text"],
                                                                       type(exc).__name__, exc),
                             changed=bool(done), done=done, exception=traceback.format_exc())
    user_id, services = outcome(want, have, created)
    output = dict(changed=bool(result["actions"]), actions=[a["text"] for a in result["actions"]],
                  user_id=user_id, services=services)
    if module._diff:
        output["diff"] = dict(before=result["before"], after=result["after"])
    module.exit_json(**output)


if __name__ == "__main__":
    main()
