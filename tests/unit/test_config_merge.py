import pytest
from ansible.errors import AnsibleFilterError

from config_merge import deep_merge, to_ini


def test_overrides_merge_per_key_and_keep_the_rest():
    base = {"database": {"connection": "mysql+pymysql://k@c/k", "max_retries": 10}, "token": {"provider": "fernet"}}
    over = {"database": {"max_retries": -1}, "cache": {"enabled": True}}
    assert deep_merge(base, over) == {
        "database": {"connection": "mysql+pymysql://k@c/k", "max_retries": -1},
        "token": {"provider": "fernet"},
        "cache": {"enabled": True},
    }


def test_none_removes_a_default_option():
    assert deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"y": None}}) == {"a": {"x": 1}}


def test_merge_does_not_modify_its_inputs():
    base = {"a": {"x": 1}}
    deep_merge(base, {"a": {"x": 2}})
    assert base == {"a": {"x": 1}}


def test_no_overrides_is_identity():
    assert deep_merge({"a": {"x": 1}}, None) == {"a": {"x": 1}}


def test_merge_refuses_non_dicts():
    with pytest.raises(AnsibleFilterError, match="two dicts"):
        deep_merge({"a": 1}, ["b"])


def test_ini_puts_default_first_and_formats_values():
    text = to_ini({"cache": {"enabled": True, "memcache_servers": ["10.0.0.11:11211", "10.0.0.12:11211"]},
                   "DEFAULT": {"debug": False, "log_dir": "/var/log/keystone"}})
    assert text == ("[DEFAULT]\ndebug = false\nlog_dir = /var/log/keystone\n\n"
                    "[cache]\nenabled = true\nmemcache_servers = 10.0.0.11:11211,10.0.0.12:11211\n")


def test_ini_skips_none_values():
    assert to_ini({"s": {"a": 1, "b": None}}) == "[s]\na = 1\n"


def test_ini_refuses_nested_dicts():
    with pytest.raises(AnsibleFilterError, match="option x in \\[s\\] is a dict"):
        to_ini({"s": {"x": {"y": 1}}})
