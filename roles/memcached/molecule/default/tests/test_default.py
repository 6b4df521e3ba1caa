"""testinfra checks of the memcached role: running, on the management address only."""
MGMT = "10.0.0.65"

# Send one memcached text command over TCP and print the answer up to END (or the error).
PROBE = """python3 - <<'PY'
import socket, sys
try:
    s = socket.create_connection(("%s", 11211), timeout=5)
except OSError as exc:
    print("REFUSED", type(exc).__name__, exc)
    sys.exit(0)
s.sendall(b"%s\\r\\n")
data = b""
while not data.endswith(b"END\\r\\n") and not data.endswith(b"STORED\\r\\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode())
PY"""


def _ask(host, address, command):
    return host.check_output(PROBE % (address, command))


def test_memcached_installed_running_enabled(host):
    assert host.package("memcached").is_installed
    svc = host.service("memcached")
    assert svc.is_running
    assert svc.is_enabled


def test_config_listens_on_the_management_address(host):
    conf = host.file("/etc/memcached.conf")
    assert conf.mode == 0o644
    lines = conf.content_string.splitlines()
    assert "-l %s" % MGMT in lines
    assert "-p 11211" in lines
    assert "-U 0" in lines
    assert "-c 4096" in lines
    assert "-t 2" in lines  # memcached_extra_options from the scenario
    assert "-l 127.0.0.1" not in lines
    procs = host.process.filter(comm="memcached")
    assert len(procs) == 1, [p.args for p in procs]
    assert "-l %s" % MGMT in procs[0].args and procs[0].user == "memcache", procs[0].args


def test_listens_only_on_the_management_address(host):
    assert host.socket("tcp://%s:11211" % MGMT).is_listening
    assert not host.socket("tcp://0.0.0.0:11211").is_listening
    assert not host.socket("tcp://127.0.0.1:11211").is_listening
    assert not host.socket("tcp://:::11211").is_listening
    assert not host.socket("udp://%s:11211" % MGMT).is_listening
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":11211")]
    assert listening == ["tcp://%s:11211" % MGMT], listening


def test_answers_stats_and_stores_on_the_management_address(host):
    out = _ask(host, MGMT, "stats")
    assert "STAT pid " in out and out.rstrip().endswith("END"), out
    assert "STAT max_connections 4096" in out, out
    assert "STAT threads 2" in out, out
    assert _ask(host, MGMT, "set molecule-probe 0 60 2\\r\\nok").strip() == "STORED"
    assert "VALUE molecule-probe 0 2" in _ask(host, MGMT, "get molecule-probe")


def test_refuses_on_loopback(host):
    assert _ask(host, "127.0.0.1", "stats").startswith("REFUSED ConnectionRefusedError")
