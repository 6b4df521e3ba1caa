"""Token logins for openstack.cloud modules.

``token_auth(auth, token)`` turns an openstack.cloud password ``auth`` dict into the one a
task passes with ``auth_type: token``: the project scope of ``auth`` (its ``auth_url``,
``project_name``/``project_id`` and ``project_domain_name``/``project_domain_id``, those it
has) and ``token``. The user and password are left out. Used by openstack_common's admin
login (roles/openstack_common/vars/main.yml) and cloud_bootstrap's two
(roles/cloud_bootstrap/vars/main.yml).
"""

SCOPE_KEYS = ("auth_url", "project_name", "project_id", "project_domain_name", "project_domain_id")


def token_auth(auth, token):
    scoped = {key: value for key, value in auth.items() if key in SCOPE_KEYS}
    scoped["token"] = token
    return scoped


class FilterModule:
    def filters(self):
        return {"token_auth": token_auth}
