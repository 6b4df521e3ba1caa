"""testinfra checks of the chrony role on a time server and a time client."""
import time


def test_chrony_installed_and_running(host):
    assert host.package("chrony").is_installed
    svc = host.service("chrony")
    assert svc.is_running
    assert svc.is_enabled


def test_chronyd_does_not_touch_the_shared_clock(host):
    # nspawn nodes share the host's kernel clock: the scenario sets chrony_control_clock=false.
    assert '-x"' in host.file("/etc/default/chrony").content_string
    procs = host.process.filter(comm="chronyd")
    assert procs, "chronyd is not running"
    assert all(" -x" in p.args for p in procs), [p.args for p in procs]


def test_server_serves_only_the_management_network(host):
    if host.backend.get_hostname() != "mchrony-srv":
        return
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "allow 10.0.0.0/24" in conf
    assert "local stratum 10" in conf
    assert host.socket("udp://10.0.0.51:123").is_listening
    assert not host.socket("udp://0.0.0.0:123").is_listening


def test_client_syncs_from_the_server(host):
    if host.backend.get_hostname() != "mchrony-cli":
        return
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "server 10.0.0.51 iburst" in conf
    assert not host.socket("udp://0.0.0.0:123").is_listening
    deadline = time.time() + 90
    out = ""
    while time.time() < deadline:
        out = host.check_output("chronyc -n tracking")
        if "(10.0.0.51)" in out and "Not synchronised" not in out:
            break
        time.sleep(3)
    assert "(10.0.0.51)" in out, out
