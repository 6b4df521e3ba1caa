"""testinfra checks of Keystone on a throwaway controller (mkeystone, 10.0.0.66)."""
import json
import os

import yaml

ADDR = "10.0.0.66"
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


def secrets():
    with open(os.path.join(EPHEMERAL, "secrets.yml")) as f:
        return yaml.safe_load(f)


def auth_args(user, project, password):
    return (f"--os-auth-url http://{ADDR}:5000/v3/ --os-identity-api-version 3 --os-username {user} "
            f"--os-project-name {project} --os-user-domain-name Default --os-project-domain-name Default "
            f"--os-password '{password}'")


def test_keystone_runs_under_debian_uwsgi_on_the_mgmt_address_only(host):
    assert host.package("keystone").is_installed
    svc = host.service("keystone")
    assert svc.is_running and svc.is_enabled
    assert host.socket(f"tcp://{ADDR}:5000").is_listening
    assert not host.socket("tcp://0.0.0.0:5000").is_listening
    assert host.process.filter(comm="uwsgi_python311")


def test_keystone_stops_on_sigint_without_systemd_killing_it(host):
    # The service contract's drop-in (openstack_common config.yml): with Debian's SIGTERM every
    # stop waited out TimeoutStopSec and ended "Failed with result 'timeout'" after a SIGKILL.
    assert host.run("systemctl show -p KillSignal --value keystone").stdout.strip() == "2"
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    host.run("sleep 5")                 # not while the app still imports (a stop then still hangs)
    assert host.run("systemctl stop keystone").rc == 0
    log = host.run(f"journalctl -u keystone --since '{since}' --no-pager").stdout
    assert "stop-sigterm" not in log and "Failed with result" not in log, log
    assert host.run("systemctl start keystone").rc == 0
    answer = host.run("python3 -c 'import time, urllib.request\n"
                      "for _ in range(60):\n"
                      "    try:\n"
                      f"        urllib.request.urlopen(\"http://{ADDR}:5000/v3\", timeout=5); break\n"
                      "    except OSError: time.sleep(1)\n"
                      "else: raise SystemExit(1)'")
    assert answer.rc == 0, answer.stderr


def test_config_uses_fernet_mysql_and_memcached(host):
    conf = host.file("/etc/keystone/keystone.conf")
    assert conf.mode == 0o640 and conf.group == "keystone"
    text = conf.content_string
    assert "provider = fernet" in text
    assert f"@{ADDR}/keystone" in text and "mysql+pymysql://keystone:" in text
    assert f"memcache_servers = {ADDR}:11211" in text


def test_key_repositories_belong_to_keystone(host):
    for repo in ("/etc/keystone/fernet-keys", "/etc/keystone/credential-keys"):
        d = host.file(repo)
        assert d.is_directory and d.user == "keystone" and d.mode == 0o700
        assert host.file(f"{repo}/0").exists


def test_admin_and_demo_get_tokens_and_the_catalog_has_identity(host):
    s = secrets()
    out = host.check_output("openstack %s token issue -f json" % auth_args("admin", "admin", s["keystone_admin_password"]))
    assert json.loads(out)["project_id"]
    out = host.check_output("openstack %s token issue -f json" % auth_args("demo", "demo", s["keystone_demo_password"]))
    assert json.loads(out)["project_id"]
    eps = json.loads(host.check_output(
        "openstack %s endpoint list -f json" % auth_args("admin", "admin", s["keystone_admin_password"])))
    assert {e["Interface"] for e in eps if e["Service Type"] == "identity"} == {"public", "internal", "admin"}


def test_demo_has_only_member_on_demo(host):
    s = secrets()
    out = json.loads(host.check_output(
        "openstack %s role assignment list --user demo --names -f json"
        % auth_args("admin", "admin", s["keystone_admin_password"])))
    assert [(a["Role"], a["Project"]) for a in out] == [("member", "demo@Default")]


def test_operator_files_are_private(host):
    for name in ("admin-openrc", "demo-openrc", "clouds.yaml"):
        path = os.path.join(EPHEMERAL, "operator", name)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600", path
