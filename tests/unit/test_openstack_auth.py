"""filter_plugins/openstack_auth.py: a password auth dict as a token auth dict."""
from openstack_auth import token_auth

PASSWORD_AUTH = {"auth_url": "http://10.0.0.11:5000/v3", "username": "admin", "password": "s3cret",
                 "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}


def test_the_project_scope_and_the_token_and_no_user_or_password():
    assert token_auth(PASSWORD_AUTH, "gAAAA") == {
        "auth_url": "http://10.0.0.11:5000/v3", "project_name": "admin", "project_domain_name": "Default",
        "token": "gAAAA"}


def test_ids_are_kept_as_given_and_the_input_is_not_changed():
    auth = {"auth_url": "u", "project_id": "p1", "project_domain_id": "d1", "user_id": "x", "password": "y"}
    assert token_auth(auth, "") == {"auth_url": "u", "project_id": "p1", "project_domain_id": "d1", "token": ""}
    assert auth["password"] == "y" and "token" not in auth
