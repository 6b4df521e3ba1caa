"""keystone_registration_due: whether a service's Keystone registration has anything to do,
planned against one snapshot of Keystone (library/keystone_registration.py with snapshot: true)
instead of a login and reads of its own. The plan is the module's own
(module_utils/keystone_registration.py), loaded from this repository.

    {{ openstack_common_ks | keystone_registration_due(snapshot, project='service', role='admin',
                                                       region='RegionOne', domain='default') }}

``openstack_common_ks`` is {user, password, services}, as the service contract's ``keystone``
key holds it. True when the plan has actions, and whenever the snapshot cannot tell (missing,
read for another domain, project, role or region) or the input is in error: the module then
runs, and plans and reports for itself.
"""
import importlib.util
import os

from ansible.errors import AnsibleFilterError

_LOGIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "module_utils",
                      "keystone_registration.py")
_spec = importlib.util.spec_from_file_location("ostack_keystone_registration_logic", _LOGIC)
_logic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_logic)


def keystone_registration_due(registration, snapshot, project, role, region, domain="default"):
    if not isinstance(registration, dict):
        raise AnsibleFilterError("keystone_registration_due expects the service's keystone dict {user, password, "
                                 "services}, got %s" % type(registration).__name__)
    params = dict(user=registration.get("user"), password=registration.get("password"),
                  services=registration.get("services") or [], domain=domain, project=project, role=role,
                  region_name=region)
    return _logic.registration_due(params, snapshot)


class FilterModule:
    def filters(self):
        return {"keystone_registration_due": keystone_registration_due}
