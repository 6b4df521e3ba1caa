"""Config rendering helpers shared by every role: one template per config file renders a
dict of sections, with the operator's overrides merged in.

- ``deep_merge(base, overrides)``: recursive dict merge; an override value of ``None``
  removes the key (so an operator can drop a default option).
- ``to_ini(sections)``: an INI document (oslo.config style) from {section: {key: value}};
  lists become comma-separated, booleans ``true``/``false``; sections and keys keep
  their order, DEFAULT first.
"""
from ansible.errors import AnsibleFilterError


def deep_merge(base, overrides=None):
    if overrides is None:
        overrides = {}
    if not isinstance(base, dict) or not isinstance(overrides, dict):
        raise AnsibleFilterError("deep_merge expects two dicts, got %s and %s"
                                 % (type(base).__name__, type(overrides).__name__))
    merged = dict(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _ini_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_ini_value(v) for v in value)
    return str(value)


def to_ini(sections):
    if not isinstance(sections, dict):
        raise AnsibleFilterError("to_ini expects a dict of sections, got %s" % type(sections).__name__)
    names = list(sections)
    if "DEFAULT" in names:
        names.remove("DEFAULT")
        names.insert(0, "DEFAULT")
    out = []
    for name in names:
        options = sections[name]
        if not isinstance(options, dict):
            raise AnsibleFilterError("section [%s] must be a dict of options, got %r" % (name, options))
        out.append("[%s]" % name)
        for key, value in options.items():
            if value is None:
                continue
            if isinstance(value, dict):
                raise AnsibleFilterError("option %s in [%s] is a dict; INI options are scalars or lists"
                                         % (key, name))
            out.append("%s = %s" % (key, _ini_value(value)))
        out.append("")
    return "\n".join(out)


class FilterModule:
    def filters(self):
        return {"deep_merge": deep_merge, "to_ini": to_ini}
