"""The service contract of roles/openstack_common, as pure functions.

A service role describes its service once, as data (``_<role>_service`` in its
``vars/main.yml``), and openstack_common's phases (install, config, service) act on the
part of it that belongs to the host at hand. ``service_on_host`` checks that dict and
returns that part; ``changed_units`` names the units that read the files that changed,
and ``in_unit_order`` puts them in the order the host starts them. The dict's keys are documented in roles/openstack_common/meta/argument_specs.yml
and in the README ("Where things are configured, and how to add a service").

``service_on_host(service, group_names, role)`` returns::

    {name, packages, services, disabled, wait, settle, uwsgi, ini_files, template_files, line_edits}

- a component belongs to the host when one of its ``groups`` is one of the host's groups;
  ``packages``, ``services``, ``uwsgi`` and ``wait`` are the union of those components';
  ``disabled`` are units the packages ship that the cloud does not run (stopped and
  masked, so they listen nowhere); ``settle`` maps the units of a component that sets it to the seconds a restarted unit
  must stay up (a daemon that fails late, such as an agent that checks its interfaces);
- a file belongs to the host when one of its ``groups`` does (no ``groups``: every host
  that runs a component of the service); its ``restarts`` are the units that read it,
  cut down to the units this host runs (no ``restarts``: every unit of the host);
- a file is one of three kinds: ``content`` (an INI file written whole from
  {section: {option: value}}), ``template`` (one of the role's own templates) or
  ``lines`` (line edits of a file the package owns, [{regexp, line}], or {regexp, line,
  backrefs: true} for an edit that rewrites the line regexp matches, using its groups, and
  leaves the file alone when nothing matches).

A malformed dict raises an error that names the role, the key and what it must be.
"""
from ansible.errors import AnsibleFilterError

_TOP_KEYS = {
    "name": str, "components": list, "files": list, "database": dict, "keystone": dict, "db_sync": dict,
}
_COMPONENT_KEYS = {
    "name": str, "groups": list, "packages": list, "services": list, "uwsgi": list, "wait": list,
    "settle": (int, str), "disabled": list,
}
_FILE_KEYS = {
    "path": str, "groups": list, "content": dict, "template": str, "lines": list, "restarts": list,
    "owner": str, "group": str, "mode": str, "secret": bool,
}
_UWSGI_KEYS = {
    "name": str, "address": str, "port": (int, str), "ini": str, "processes": (int, str),
    "threads": (int, str), "restarts": list,
}
_REQUIRED = {
    "service": ("name", "components"),
    "component": ("name", "groups"),
    "file": ("path",),
    "uwsgi": ("name", "address", "port", "ini"),
}
_TYPE_NAMES = {str: "a string", list: "a list", dict: "a dict", bool: "true or false",
               (int, str): "a number"}


def _fail(role, where, message):
    raise AnsibleFilterError("role %s: openstack_common_service%s %s. Nothing was changed; fix the "
                             "service dict in roles/%s/vars/main.yml (its keys are documented in "
                             "roles/openstack_common/meta/argument_specs.yml)." % (role, where, message, role))


def _check(role, where, value, keys, required):
    if not isinstance(value, dict):
        _fail(role, where, "must be a dict, got %s" % type(value).__name__)
    for key in required:
        if key not in value:
            _fail(role, where, "lacks the key '%s' (%s)" % (key, _TYPE_NAMES[keys[key]]))
    for key, item in value.items():
        if key not in keys:
            _fail(role, where, "has the unknown key '%s'; the keys are: %s" % (key, ", ".join(sorted(keys))))
        want = keys[key]
        # "restarts: nova-compute" means one unit: accept a string where a list of names is asked.
        if want is list and isinstance(item, str) and key in ("restarts", "groups", "packages", "services", "wait"):
            continue
        if not isinstance(item, want) or (want is not bool and isinstance(item, bool)):
            # The value itself is not shown: it could be a password put under the wrong key.
            _fail(role, "%s.%s" % (where, key), "must be %s, got a %s" % (_TYPE_NAMES[want], type(item).__name__))


def _names(value):
    return [value] if isinstance(value, str) else list(value)


def _union(lists):
    out = []
    for names in lists:
        for name in names:
            if name not in out:
                out.append(name)
    return out


def service_on_host(service, group_names, role="(unknown)"):
    _check(role, "", service, _TOP_KEYS, _REQUIRED["service"])
    mine = set(group_names or [])
    components = []
    for i, comp in enumerate(service["components"]):
        where = ".components[%d]" % i
        _check(role, where, comp, _COMPONENT_KEYS, _REQUIRED["component"])
        for j, binding in enumerate(comp.get("uwsgi", [])):
            _check(role, "%s.uwsgi[%d]" % (where, j), binding, _UWSGI_KEYS, _REQUIRED["uwsgi"])
        if mine & set(_names(comp["groups"])):
            components.append(comp)

    services = _union(_names(c.get("services", [])) for c in components)
    uwsgi = []
    for comp in components:
        for binding in comp.get("uwsgi", []):
            uwsgi.append(dict(binding, path="/etc/default/%s" % binding["name"],
                              restarts=_names(binding.get("restarts", [binding["name"]]))))

    ini_files, template_files, line_edits = [], [], []
    for i, item in enumerate(service.get("files", [])):
        where = ".files[%d] (%s)" % (i, item.get("path", "no path") if isinstance(item, dict) else "?")
        _check(role, where, item, _FILE_KEYS, _REQUIRED["file"])
        kinds = [k for k in ("content", "template", "lines") if k in item]
        if len(kinds) != 1:
            _fail(role, where, "needs exactly one of content (INI sections), template (a template of the "
                  "role) or lines (line edits of a packaged file); it has %s" % (", ".join(kinds) or "none"))
        if "groups" in item:
            if not mine & set(_names(item["groups"])):
                continue
        elif not components:
            continue
        readers = services if "restarts" not in item else [u for u in _names(item["restarts"]) if u in services]
        common = {"path": item["path"], "restarts": readers}
        for key in ("owner", "group", "mode"):
            if key in item:
                common[key] = item[key]
        if "content" in item:
            ini_files.append(dict(common, content=item["content"]))
        elif "template" in item:
            template_files.append(dict(common, template=item["template"], secret=item.get("secret", False)))
        else:
            for j, edit in enumerate(item["lines"]):
                if not isinstance(edit, dict) or set(edit) - {"regexp", "line", "backrefs"} or "line" not in edit \
                        or ("backrefs" in edit and ("regexp" not in edit or not isinstance(edit["backrefs"], bool))):
                    _fail(role, "%s.lines[%d]" % (where, j), "must be {regexp, line} or {regexp, line, backrefs: "
                          "true|false}, got %s" % (
                              "keys " + ", ".join(sorted(edit)) if isinstance(edit, dict) else "a " + type(edit).__name__))
                line_edits.append(dict(common, regexp=edit.get("regexp"), line=edit["line"],
                                       backrefs=edit.get("backrefs", False)))

    return {
        "name": service["name"],
        "packages": _union(_names(c.get("packages", [])) for c in components),
        "services": services,
        "disabled": [u for u in _union(_names(c.get("disabled", [])) for c in components) if u not in services],
        "wait": _union(_names(c.get("wait", [])) for c in components),
        "settle": {u: int(c["settle"]) for c in components if "settle" in c for u in _names(c.get("services", []))},
        "uwsgi": uwsgi,
        "ini_files": ini_files,
        "template_files": template_files,
        "line_edits": line_edits,
    }


def changed_units(results, default_units=None):
    """The units to restart after a loop of file writes: ``results`` is the ``results`` list of
    a registered loop whose items are files ({path, restarts}); every item that changed names
    its ``restarts`` (a string is one unit), or ``default_units`` if it has none. In order,
    without repeats."""
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError("changed_units expects the 'results' list of a registered loop, got %s"
                                 % type(results).__name__)
    defaults = _names(default_units or [])
    units = []
    for result in results:
        if not isinstance(result, dict) or not result.get("changed"):
            continue
        item = result.get("item")
        named = defaults
        if isinstance(item, dict) and "restarts" in item:
            named = item["restarts"]
            if not isinstance(named, (str, list, tuple)):
                raise AnsibleFilterError("changed_units: restarts of %s must be a unit name or a list of them, got %s"
                                         % (item.get("path", item.get("name", "an item")), type(named).__name__))
        units = _union([units, _names(named)])
    return units


def in_unit_order(units, services):
    """``units`` without repeats, those of ``services`` first and in its order (the order the
    host starts them: libvirtd before nova-compute), any others after, as given."""
    units = _union([_names(units)])
    known = [u for u in _names(services) if u in units]
    return known + [u for u in units if u not in known]


class FilterModule:
    def filters(self):
        return {"service_on_host": service_on_host, "changed_units": changed_units, "in_unit_order": in_unit_order}
