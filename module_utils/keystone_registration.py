# -*- coding: utf-8 -*-
"""Logic of the ``keystone_registration`` module: a service's Keystone account and catalog
entries, want / have / actions. Pure functions on plain dicts and lists; the module reads
Keystone into those dicts, calls ``plan`` and carries out the actions outside check mode.

Semantics (the ones of the openstack.cloud tasks this replaces):
- The user is looked up by name in its domain; it is created with the password and enabled.
  An existing user's password is never changed (update_password: on_create); a disabled one
  is enabled again.
- The user gets the role on the project (a direct assignment).
- A catalog service is matched by name and type; a different description is updated. Its
  enabled flag is left as it is.
- Each service has one endpoint per interface (public, internal, admin) in the region. An
  existing one with another URL, or disabled, is updated in place (same id), never duplicated.
- Two catalog services of the same name and type, or two endpoints of one service, interface
  and region, are ambiguous: the task fails and names the ids, and changes nothing.

A snapshot (the module with ``snapshot: true``) is what Keystone holds for one domain, project,
role and region, read once: the domain's users, who has the role on the project, the catalog
and the region's endpoints. ``registration_due`` plans a registration against it without a
login of its own, so a run registers only the services whose plan has actions.
"""

from urllib.parse import urlparse

INTERFACES = ("public", "internal", "admin")


class RegistrationError(Exception):
    """A parameter or the state of Keystone stops the task; the message says what to change."""


# --------------------------------------------------------------------------- wants

def _text(value, what):
    if not isinstance(value, str) or not value.strip():
        raise RegistrationError("%s must be a non-empty string, got %r" % (what, value))
    if value != value.strip():
        raise RegistrationError("%s %r has leading or trailing spaces: remove them" % (what, value))
    return value


def _url(value, what):
    _text(value, what)
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
        raise RegistrationError("%s %r must be an absolute http:// or https:// URL such as "
                                "http://10.0.0.11:9292" % (what, value))
    return value


def build_want(params):
    """Validate the module's parameters into the wanted registration. Pure.

    ``params`` holds user, password, domain, project, role, region_name and services (a list of
    {name, type, description, url}). The password is checked but not kept."""
    _text(params.get("password"), "password (of the service user)")
    services = params.get("services")
    if services is None:
        services = []
    if not isinstance(services, list):
        raise RegistrationError("services must be a list of {name, type, description, url}, got %r"
                                % (type(services).__name__,))
    want = {
        "user": _text(params.get("user"), "user"),
        "domain": _text(params.get("domain"), "domain"),
        "project": _text(params.get("project"), "project"),
        "role": _text(params.get("role"), "role"),
        "region": _text(params.get("region_name"), "region_name"),
        "services": [],
    }
    names = {}
    for index, item in enumerate(services):
        where = "services[%d]" % index
        if not isinstance(item, dict):
            raise RegistrationError("%s must be a dict {name, type, description, url}, got %r" % (where, item))
        unknown = sorted(set(item) - {"name", "type", "description", "url"})
        if unknown:
            raise RegistrationError("%s has unknown keys %s: a service is {name, type, description, url}"
                                    % (where, ", ".join(unknown)))
        name = _text(item.get("name"), where + ".name")
        where = "services[%d] (%s)" % (index, name)
        description = item.get("description")
        if description is not None and not isinstance(description, str):
            raise RegistrationError("%s.description must be a string, got %r" % (where, description))
        if name in names:
            raise RegistrationError("%s: the service %s is listed twice (services[%d] too): list each catalog "
                                    "service once" % (where, name, names[name]))
        names[name] = index
        want["services"].append({
            "name": name,
            "type": _text(item.get("type"), where + ".type"),
            "description": description,
            "url": _url(item.get("url"), where + ".url"),
        })
    return want


# --------------------------------------------------------------------------- labels

def user_label(want):
    return "user %s (domain %s)" % (want["user"], want["domain"])


def role_label(want):
    return "role %s of user %s on project %s" % (want["role"], want["user"], want["project"])


def service_label(service):
    return "service %s (%s)" % (service["name"], service["type"])


def endpoint_label(service, interface, region):
    return "endpoint %s (%s) %s in %s" % (service["name"], service["type"], interface, region)


def _endpoint_value(url, enabled):
    return url if enabled else "%s (disabled)" % url


def _enabled(entry):
    """Keystone's ``enabled``; a missing value counts as enabled, as Keystone defaults it."""
    return entry.get("enabled") is not False


def _description_value(description):
    return "" if description is None else description


# --------------------------------------------------------------------------- plan

def pick(kind, name, found, where, option):
    """The entry of ``found`` named exactly ``name``, or None. Pure.

    ``found`` are dicts with id and name, as Keystone's name filter returned them: that filter
    may ignore case (MySQL), so a different-case match is reported rather than taken for
    absent (creating it would fail on Keystone's unique name). ``option`` is the parameter to
    change."""
    exact = [e for e in found if e.get("name") == name]
    if len(exact) > 1:
        raise RegistrationError("%d %ss are named %s in %s (ids %s): Keystone names are unique there, check the "
                                "identity backend" % (len(exact), kind, name, where,
                                                       ", ".join(sorted(e["id"] for e in exact))))
    if exact:
        return exact[0]
    other = sorted(e.get("name") or "" for e in found if (e.get("name") or "").lower() == name.lower())
    if other:
        raise RegistrationError("%s %s does not exist in %s but %s does (Keystone compares names regardless of "
                                "case): set %s to %s or rename the %s" % (kind, name, where, ", ".join(other),
                                                                        option, other[0], kind))
    return None


def match_service(want_service, services):
    """The catalog service of ``want_service``'s name and type, or None. Pure.

    Raises RegistrationError when several match."""
    found = [s for s in services if s.get("name") == want_service["name"] and s.get("type") == want_service["type"]]
    if len(found) > 1:
        raise RegistrationError(
            "%d catalog services are named %s with type %s (ids %s): delete all but one (openstack service "
            "delete ID; its endpoints go with it), then run again"
            % (len(found), want_service["name"], want_service["type"], ", ".join(sorted(s["id"] for s in found))))
    return found[0] if found else None


def match_endpoints(service, want_service, region, endpoints):
    """{interface: the endpoint of ``service`` for it in ``region``, or None}. Pure.

    Raises RegistrationError when an interface has several."""
    matched = {}
    for interface in INTERFACES:
        found = []
        if service is not None:
            found = [e for e in endpoints if e.get("service_id") == service["id"]
                     and e.get("interface") == interface and e.get("region_id") == region]
        if len(found) > 1:
            raise RegistrationError(
                "the %s (%s) service has %d %s endpoints in region %s (ids %s, URLs %s): delete all but one "
                "(openstack endpoint delete ID), then run again"
                % (want_service["name"], want_service["type"], len(found), interface, region,
                   ", ".join(e["id"] for e in sorted(found, key=lambda e: e["id"])),
                   ", ".join(e.get("url") or "" for e in sorted(found, key=lambda e: e["id"]))))
        matched[interface] = found[0] if found else None
    return matched


def plan(want, have):
    """What to do to reach ``want`` from ``have``. Pure.

    ``have`` is what Keystone holds, as plain dicts:
      user:          {id, name, enabled} of the user of that name in the domain, or None
      role_assigned: whether the user has the role on the project (False without a user)
      services:      [{id, name, type, description, enabled}], the catalog services
      endpoints:     [{id, service_id, interface, region_id, url, enabled}], the endpoints

    Returns {actions, before, after, warnings}: ``actions`` is the ordered list of steps, each a
    dict with ``kind``, the ids and values the step needs and a readable ``text``; ``before`` and
    ``after`` map a readable label of each entry the task manages to its value (absent entries
    are left out of ``before``); ``warnings`` are strings. A user or service created by an earlier
    action is referred to with ``user_id`` None and ``service`` (its index in want's services)."""
    actions = []
    before = {}
    after = {}
    warnings = []

    user = have.get("user")
    label = user_label(want)
    after[label] = "enabled"
    if user is None:
        actions.append({"kind": "create_user", "name": want["user"],
                        "text": "create user %s in domain %s" % (want["user"], want["domain"])})
    else:
        before[label] = "enabled" if _enabled(user) else "disabled"
        if not _enabled(user):
            actions.append({"kind": "enable_user", "user_id": user["id"],
                            "text": "enable user %s (id %s)" % (want["user"], user["id"])})

    label = role_label(want)
    after[label] = "assigned"
    if user is not None and have.get("role_assigned"):
        before[label] = "assigned"
    else:
        actions.append({"kind": "assign_role", "user_id": user["id"] if user is not None else None,
                        "text": "give user %s the role %s on project %s" % (want["user"], want["role"],
                                                                          want["project"])})

    services = have.get("services") or []
    endpoints = have.get("endpoints") or []
    region = want["region"]
    for index, wanted in enumerate(want["services"]):
        service = match_service(wanted, services)
        matched = match_endpoints(service, wanted, region, endpoints)
        label = service_label(wanted)
        if service is None:
            others = sorted("%s (id %s)" % (s.get("type"), s["id"])
                            for s in services if s.get("name") == wanted["name"])
            if others:
                warnings.append("a catalog service named %s exists with another type: %s; this task adds one "
                                "of type %s" % (wanted["name"], ", ".join(others), wanted["type"]))
            actions.append({"kind": "create_service", "service": index, "name": wanted["name"],
                            "type": wanted["type"], "description": wanted["description"],
                            "text": "create %s" % label})
            after[label] = _description_value(wanted["description"])
        else:
            before[label] = _description_value(service.get("description"))
            if wanted["description"] is not None and service.get("description") != wanted["description"]:
                actions.append({"kind": "update_service", "service_id": service["id"],
                                "description": wanted["description"],
                                "text": "update %s (id %s): description %r -> %r"
                                        % (label, service["id"], service.get("description"),
                                           wanted["description"])})
                after[label] = wanted["description"]
            else:
                after[label] = before[label]

        for interface in INTERFACES:
            label = endpoint_label(wanted, interface, region)
            after[label] = wanted["url"]
            endpoint = matched[interface]
            if endpoint is None:
                actions.append({"kind": "create_endpoint", "service": index,
                                "service_id": service["id"] if service is not None else None,
                                "interface": interface, "region_id": region, "url": wanted["url"],
                                "text": "create %s: %s" % (label, wanted["url"])})
                continue
            enabled = _enabled(endpoint)
            before[label] = _endpoint_value(endpoint.get("url"), enabled)
            if endpoint.get("url") != wanted["url"] or not enabled:
                changes = []
                if endpoint.get("url") != wanted["url"]:
                    changes.append("url %s -> %s" % (endpoint.get("url"), wanted["url"]))
                if not enabled:
                    changes.append("enable")
                actions.append({"kind": "update_endpoint", "endpoint_id": endpoint["id"], "url": wanted["url"],
                                "text": "update %s (id %s): %s" % (label, endpoint["id"], ", ".join(changes))})
    return {"actions": actions, "before": before, "after": after, "warnings": warnings}


def outcome(want, have, created):
    """(user id, services with their endpoints by interface) after the actions, from what was read
    (``have``, as for plan()) and the ids of what they created: {"user": id, "services": {index: id},
    "endpoints": {(index, interface): id}} (empty in check mode, so created entries have id None). Pure."""
    services = []
    for index, wanted in enumerate(want["services"]):
        service = match_service(wanted, have.get("services") or [])
        matched = match_endpoints(service, wanted, want["region"], have.get("endpoints") or [])
        endpoints = {}
        for interface in INTERFACES:
            endpoint = matched[interface]
            endpoint_id = endpoint["id"] if endpoint else created["endpoints"].get((index, interface))
            endpoints[interface] = {"id": endpoint_id, "url": wanted["url"]}
        services.append({"name": wanted["name"], "type": wanted["type"],
                         "id": service["id"] if service else created["services"].get(index),
                         "endpoints": endpoints})
    user = have.get("user")
    return (user["id"] if user else created["user"]), services


# --------------------------------------------------------------------------- snapshot

def have_from_snapshot(want, snapshot):
    """``have`` as plan() takes it, for ``want``, from a snapshot; None when the snapshot was read
    for another domain, project, role or region than ``want`` names (it cannot tell then). Pure.

    ``snapshot`` is {domain, project, role, region (as the snapshot was asked for), users:
    [{id, name, enabled}] of the domain, assigned: [ids of the users with the role on the
    project], services, endpoints (of the region)}. Raises RegistrationError as pick() does."""
    if not isinstance(snapshot, dict):
        return None
    if any(snapshot.get(key) != want[key] for key in ("domain", "project", "role", "region")):
        return None
    user = pick("user", want["user"], snapshot.get("users") or [], "domain %s" % want["domain"], "user")
    return dict(user=user,
                role_assigned=user is not None and user["id"] in (snapshot.get("assigned") or []),
                services=list(snapshot.get("services") or []) if want["services"] else [],
                endpoints=list(snapshot.get("endpoints") or []) if want["services"] else [])


def registration_due(params, snapshot):
    """Whether a registration with the module's ``params`` has anything to do, judged from a
    snapshot. Pure. True when the plan has actions, and also whenever the snapshot cannot
    tell (none, another domain, project, role or region) or the parameters or Keystone's
    state are in error: the module then runs and reports it."""
    try:
        want = build_want(params)
        have = have_from_snapshot(want, snapshot)
        if have is None:
            return True
        return bool(plan(want, have)["actions"])
    except RegistrationError:
        return True
