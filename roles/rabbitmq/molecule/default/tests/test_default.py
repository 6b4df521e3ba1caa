"""testinfra checks of the rabbitmq role: AMQP on the management address only, the
openstack account logs in with its generated password, guest is gone."""
import os

import pytest
import yaml

MGMT = "10.0.0.64"

# AMQP 0-9-1 connection handshake up to Connection.Tune: PLAIN login as USER/PASSWORD.
# Prints TUNE (logged in), CLOSE <code> (refused) or EOF (the broker hung up).
HANDSHAKE = r"""
import socket, struct, sys
user, password, address = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.create_connection((address, 5672), timeout=10)
s.sendall(b"AMQP\x00\x00\x09\x01")

def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

def read_method():
    kind, channel, size = struct.unpack(">BHI", read_exact(7))
    payload = read_exact(size)
    assert read_exact(1) == b"\xce"
    return struct.unpack(">HH", payload[:4]), payload

def shortstr(b):
    return bytes([len(b)]) + b

def longstr(b):
    return struct.pack(">I", len(b)) + b

try:
    method, _ = read_method()
    assert method == (10, 10), method  # Connection.Start
    response = b"\x00" + user.encode() + b"\x00" + password.encode()
    # Client properties: ask for an explicit Connection.Close (403) on a failed login.
    caps = shortstr(b"authentication_failure_close") + b"t\x01"
    props = shortstr(b"capabilities") + b"F" + struct.pack(">I", len(caps)) + caps
    payload = (struct.pack(">HH", 10, 11) + struct.pack(">I", len(props)) + props + shortstr(b"PLAIN")
               + longstr(response) + shortstr(b"en_US"))
    s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")
    method, payload = read_method()
    if method == (10, 30):
        print("TUNE")
    elif method == (10, 50):
        print("CLOSE", struct.unpack(">H", payload[4:6])[0])
    else:
        print("METHOD", method)
except (EOFError, ConnectionResetError):
    print("EOF")
"""


@pytest.fixture(scope="module")
def password():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "secrets.yml")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["rabbitmq_openstack_password"]


def _login(host, user, secret, address=MGMT):
    return host.check_output("python3 -c %s %s %s %s", HANDSHAKE, user, secret, address)


def test_package_installed_service_running_enabled(host):
    assert host.package("rabbitmq-server").is_installed
    svc = host.service("rabbitmq-server")
    assert svc.is_running
    assert svc.is_enabled


def test_config_file(host):
    conf = host.file("/etc/rabbitmq/rabbitmq.conf")
    assert conf.mode == 0o644
    lines = conf.content_string.splitlines()
    assert "listeners.tcp.1 = %s:5672" % MGMT in lines
    assert "heartbeat = 30" in lines  # rabbitmq_conf_overrides from the scenario
    assert not [line for line in lines if line.startswith("listeners.tcp.") and MGMT not in line]


def test_amqp_listens_only_on_the_management_address(host):
    assert host.socket("tcp://%s:5672" % MGMT).is_listening
    assert not host.socket("tcp://0.0.0.0:5672").is_listening
    assert not host.socket("tcp://127.0.0.1:5672").is_listening
    assert not host.socket("tcp://:::5672").is_listening
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":5672")]
    assert listening == ["tcp://%s:5672" % MGMT], listening


def test_epmd_listens_on_loopback_and_the_management_address_through_its_socket(host):
    assert host.service("epmd.socket").is_running
    listening = sorted(s for s in host.socket.get_listening_sockets() if s.endswith(":4369"))
    assert listening == ["tcp://%s:4369" % MGMT, "tcp://127.0.0.1:4369"], listening
    assert "FreeBind=true" in host.file("/etc/systemd/system/epmd.socket.d/ostack.conf").content_string


def test_broker_runs_with_the_rendered_config(host):
    env = host.check_output("rabbitmqctl -q environment")
    assert "{heartbeat,30}" in env.replace(" ", ""), env


def test_openstack_user_present_and_guest_gone(host):
    users = host.check_output("rabbitmqctl -q list_users --formatter json")
    names = {u["user"] for u in yaml.safe_load(users)}
    assert "openstack" in names
    assert "guest" not in names


def test_openstack_user_permissions(host):
    perms = yaml.safe_load(host.check_output("rabbitmqctl -q list_permissions -p / --formatter json"))
    mine = [p for p in perms if p["user"] == "openstack"]
    assert mine == [{"user": "openstack", "configure": ".*", "write": ".*", "read": ".*"}], perms


def test_authenticate_user(host, password):
    assert host.run("rabbitmqctl -q authenticate_user openstack %s", password).rc == 0
    assert host.run("rabbitmqctl -q authenticate_user openstack %s", password + "x").rc != 0


def test_amqp_login_as_openstack(host, password):
    assert _login(host, "openstack", password) == "TUNE"


def test_amqp_login_refused_with_a_wrong_password_or_as_guest(host, password):
    # 403 is ACCESS_REFUSED.
    assert _login(host, "openstack", password + "x") == "CLOSE 403"
    assert _login(host, "guest", "guest") == "CLOSE 403"


def test_amqp_refused_on_loopback(host):
    res = host.run("python3 -c %s openstack x 127.0.0.1", HANDSHAKE)
    assert res.rc != 0 and "ConnectionRefusedError" in res.stderr, res.stderr
