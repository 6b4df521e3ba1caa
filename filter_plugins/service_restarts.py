"""Which services to restart after a loop of config writes.

``changed_units(results, default_units, key='restarts')`` takes the ``results`` of a
registered loop task whose items are dicts (the config files of openstack_common's
service.yml) and returns, in order and without repeats, the units named by the
``key`` of every item that changed. An item without that key names its
``fallback_key`` if given (a uwsgi binding restarts the unit of its own name), otherwise
``default_units`` (every service of the role on this node, the safe choice for a file
they all read). A string instead of a list names one unit.
"""
from ansible.errors import AnsibleFilterError


def _as_list(value, what):
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise AnsibleFilterError("changed_units: %s must be a unit name or a list of them, got %s"
                             % (what, type(value).__name__))


def changed_units(results, default_units=None, key="restarts", fallback_key=None):
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError("changed_units expects the 'results' list of a registered loop, got %s"
                                 % type(results).__name__)
    defaults = _as_list(default_units or [], "default_units")
    units = []
    for result in results:
        if not isinstance(result, dict) or not result.get("changed"):
            continue
        item = result.get("item")
        if isinstance(item, dict) and key in item:
            named = _as_list(item[key], "%s of %s" % (key, item.get("path", item.get("name", "an item"))))
        elif fallback_key and isinstance(item, dict) and fallback_key in item:
            named = _as_list(item[fallback_key], fallback_key)
        else:
            named = defaults
        for unit in named:
            if unit not in units:
                units.append(unit)
    return units


class FilterModule:
    def filters(self):
        return {"changed_units": changed_units}
