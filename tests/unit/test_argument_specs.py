"""Every role's input contract: roles/<role>/meta/argument_specs.yml, entry point main, documents and
types exactly the public variables of roles/<role>/defaults/main.yml (the <role>_* ones).

Ansible checks the spec at the start of the role (a validate_argument_spec task it inserts, tagged
always), so a default added without an option goes unchecked, and an option without a default
documents a variable the role does not have. Pure data checks here (PyYAML), plus Ansible's own
argument spec validator in-process: no playbook runs."""
import json
import os
import re
import warnings

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES_DIR = os.path.join(REPO, "roles")

# Roles whose spec is written and checked elsewhere.
SKIPPED = {"openstack_common"}  # its entry points are the service contract's phases (test_service_contract.py)

# Public defaults deliberately left out of the spec, with the reason. Each must still be a default of
# the role and must not be an option: when the reason goes away, put the option in and remove it here.
NOT_VALIDATED = {
    "horizon": {
        "horizon_url": "an output for other plays, built from _horizon_webroot, which vars/Debian.yml defines "
                       "only after the inserted validation task has run (it would fail as undefined)",
    },
}

# Options whose value is a credential: a validation failure must not be able to print it.
SECRET_NAME = re.compile(r"(_password|_secret|_secret_key|_auth)$")

ROLES = sorted(d for d in os.listdir(ROLES_DIR)
               if os.path.isdir(os.path.join(ROLES_DIR, d)) and d not in SKIPPED)


def _load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _defaults(role):
    path = os.path.join(ROLES_DIR, role, "defaults", "main.yml")
    return (_load(path) or {}) if os.path.exists(path) else {}


def _public_defaults(role):
    """The role's public variables: defaults named <role>_*; others are reported, not counted."""
    defaults = _defaults(role)
    unprefixed = sorted(k for k in defaults if not k.startswith(role + "_"))
    if unprefixed:
        warnings.warn(f"roles/{role}/defaults/main.yml: {unprefixed} lack the role prefix '{role}_' "
                      "and are not checked against the argument spec")
    return {k: v for k, v in defaults.items() if k.startswith(role + "_")}


def _spec_path(role):
    return os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")


def _main_spec(role):
    path = _spec_path(role)
    assert os.path.exists(path), f"role {role}: no meta/argument_specs.yml"
    data = _load(path) or {}
    main = (data.get("argument_specs") or {}).get("main")
    assert main, f"role {role}: meta/argument_specs.yml has no argument_specs.main entry point"
    return main


def _options(role):
    return _main_spec(role).get("options") or {}


def _options_for_collection(role):
    """Options for parametrizing; {} for a missing or broken spec (its own test names the problem)."""
    try:
        return _options(role)
    except (AssertionError, OSError, yaml.YAMLError):
        return {}


def _is_template(value):
    text = json.dumps(value)
    return "{{" in text or "{%" in text


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_main_argument_spec(role):
    main = _main_spec(role)
    assert main.get("short_description"), f"role {role}: argument_specs.main has no short_description"
    assert isinstance(main.get("options"), dict), f"role {role}: argument_specs.main has no options"


@pytest.mark.parametrize("role", ROLES)
def test_spec_options_are_exactly_the_public_defaults(role):
    public = set(_public_defaults(role)) - set(NOT_VALIDATED.get(role, {}))
    options = set(_options(role))
    undocumented = sorted(public - options)
    stray = sorted(options - public)
    assert not undocumented, (f"role {role}: defaults/main.yml sets {undocumented} with no option in "
                              "meta/argument_specs.yml (main): add them to the spec")
    assert not stray, (f"role {role}: meta/argument_specs.yml (main) has options {stray} that "
                       "defaults/main.yml does not set: remove them or add the defaults")


@pytest.mark.parametrize("role", sorted(NOT_VALIDATED))
def test_exemptions_are_still_needed(role):
    defaults, options = _defaults(role), _options(role)
    for name in NOT_VALIDATED[role]:
        assert name in defaults, f"role {role}: {name} is exempted here but is no longer a default; drop the exemption"
        assert name not in options, f"role {role}: {name} is now in the spec; drop its exemption here"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_typed_and_described(role):
    for name, option in _options(role).items():
        where = f"role {role}, option {name}"
        assert option.get("type"), f"{where}: no type"
        assert option.get("description"), f"{where}: no description"
        if option["type"] == "list":
            assert option.get("elements"), f"{where}: a list without elements"
        if name.endswith("_overrides"):
            assert option["type"] == "dict", f"{where}: overrides are a dict, so a string is refused"
        # The spec becomes the args of the task Ansible inserts, and task args are templated.
        assert not _is_template(option), f"{where}: Jinja in the spec would be templated by the validation task"


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_match_defaults_main(role):
    """A literal default is repeated in the spec (for ansible-doc), equal to defaults/main.yml; a
    templated one is left out (the spec would show the template, not the value)."""
    defaults = _public_defaults(role)
    for name, option in _options(role).items():
        if name not in defaults:
            continue  # reported by test_spec_options_are_exactly_the_public_defaults
        value = defaults[name]
        where = f"role {role}, option {name}"
        if _is_template(value) or value is None:
            assert "default" not in option, f"{where}: the default is templated (or null) in defaults/main.yml; omit it here"
        else:
            assert "default" in option, f"{where}: give the spec the default of defaults/main.yml, {value!r}"
            assert option["default"] == value, (f"{where}: the spec's default {option['default']!r} differs "
                                                f"from defaults/main.yml's {value!r}")


@pytest.mark.parametrize("role", ROLES)
def test_credentials_are_no_log(role):
    defaults = _public_defaults(role)
    for name, option in _options(role).items():
        secret = SECRET_NAME.search(name) or "ostack_secrets" in json.dumps(defaults.get(name))
        if secret:
            assert option.get("no_log") is True, f"role {role}, option {name}: a credential needs no_log: true"


# --- the spec as Ansible reads it --------------------------------------------------------------

def _validator(role):
    arg_spec = pytest.importorskip("ansible.module_utils.common.arg_spec")
    return arg_spec.ArgumentSpecValidator(_options(role))


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_pass_ansible_validation(role):
    """The defaults that need no templating validate against the spec as they are (the templated ones
    are checked by a run: the validation task templates them first)."""
    literal = {k: v for k, v in _public_defaults(role).items() if k in _options(role) and not _is_template(v)}
    result = _validator(role).validate(literal, validate_role_argument_spec=True)
    assert not result.error_messages, f"role {role}: {result.error_messages}"


OVERRIDES = [(role, name) for role in ROLES for name in sorted(_options_for_collection(role))
             if name.endswith("_overrides")]


@pytest.mark.parametrize("role,name", OVERRIDES)
def test_a_string_for_overrides_is_refused_by_name(role, name):
    result = _validator(role).validate({name: "notadict"}, validate_role_argument_spec=True)
    assert result.error_messages, f"role {role}: {name}='notadict' passed validation"
    assert any(name in msg and "dict" in msg for msg in result.error_messages), result.error_messages


NO_LOG = [(role, name) for role in ROLES for name, option in sorted(_options_for_collection(role).items())
          if option.get("no_log")]


@pytest.mark.parametrize("role,name", NO_LOG)
def test_a_refused_credential_is_not_printed(role, name):
    """Ansible's validate_argument_spec prints its messages as they are (no no_log masking): a credential
    of the wrong shape must be refused, or accepted, without its value in any message."""
    marker = "s3cr3t-marker"
    option = _options(role)[name]
    wrong = {"str": [marker], "dict": marker}.get(option["type"], {"k": marker})
    result = _validator(role).validate({name: wrong}, validate_role_argument_spec=True)
    assert marker not in " ".join(result.error_messages), result.error_messages
