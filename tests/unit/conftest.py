"""Fixtures for the unit tests of the custom modules."""
import importlib.util
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_FRAGMENTS = os.path.join(REPO, "doc_fragments")


def _fragment_options(name):
    """The options of the repo's doc fragment ``name`` (doc_fragments/NAME.py); {} for Ansible's own."""
    path = os.path.join(DOC_FRAGMENTS, name + ".py")
    if not os.path.exists(path):
        return {}
    spec = importlib.util.spec_from_file_location("doc_fragment_" + name, path)
    fragment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fragment)
    return yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION).get("options", {})


@pytest.fixture
def documentation_matches_argument_spec():
    """Check a module's DOCUMENTATION (with the repo's doc fragments) against its MODULE_ARGS: the same
    options, each with the same type, default, choices, required and aliases; EXAMPLES must parse.
    Returns the parsed RETURN."""

    def check(module_file):
        doc = yaml.safe_load(module_file.DOCUMENTATION)
        options = {}
        for name in doc.get("extends_documentation_fragment", []):
            options.update(_fragment_options(name))
        options.update(doc["options"])
        spec = module_file.MODULE_ARGS["argument_spec"]
        assert set(options) == set(spec)
        for name, option in spec.items():
            documented = options[name]
            assert documented["type"] == option["type"], name
            assert documented.get("default") == option.get("default"), name
            assert documented.get("choices") == option.get("choices"), name
            assert documented.get("required", False) == option.get("required", False), name
            assert documented.get("aliases") == option.get("aliases"), name
        yaml.safe_load(module_file.EXAMPLES)
        return yaml.safe_load(module_file.RETURN)

    return check
