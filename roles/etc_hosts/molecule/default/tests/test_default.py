"""testinfra checks of the etc_hosts role on two nodes that must resolve each other."""
import re

NODES = {"mhosts-a": "10.0.0.61", "mhosts-b": "10.0.0.62"}
BEGIN = "# BEGIN ostack cloud nodes (managed by Ansible, role etc_hosts)"
END = "# END ostack cloud nodes (managed by Ansible, role etc_hosts)"


def _hosts(host):
    return host.file("/etc/hosts").content_string


def test_every_node_resolves_by_name(host):
    for name, address in NODES.items():
        out = host.check_output("getent ahostsv4 %s", name)
        assert {line.split()[0] for line in out.splitlines()} == {address}, out


def test_own_name_resolves_to_the_management_address(host):
    me = host.backend.get_hostname()
    assert host.check_output("hostname") == me
    assert host.check_output("getent hosts %s", me).split()[0] == NODES[me]


def test_loopback_lines_are_kept_and_127_0_1_1_is_gone(host):
    content = _hosts(host)
    assert re.search(r"^127\.0\.0\.1\s+localhost$", content, re.M), content
    assert re.search(r"^::1\s+localhost ip6-localhost ip6-loopback$", content, re.M), content
    assert re.search(r"^ff02::2\s+ip6-allrouters$", content, re.M), content
    assert not re.search(r"^127\.0\.1\.1\s", content, re.M), content
    assert host.check_output("getent ahostsv4 localhost").split()[0] == "127.0.0.1"


def test_one_managed_block_with_every_node(host):
    content = _hosts(host)
    assert content.count(BEGIN) == 1 and content.count(END) == 1, content
    block = content.split(BEGIN)[1].split(END)[0]
    entries = [line.split() for line in block.splitlines() if line and not line.startswith("#")]
    assert entries == [[address, name] for name, address in NODES.items()], block
    assert host.file("/etc/hosts").mode == 0o644


def test_the_other_node_answers_by_name(host):
    me = host.backend.get_hostname()
    other = next(name for name in NODES if name != me)
    # TCP to the other node's sshd, by name only: resolution and the route both work.
    host.check_output(
        "python3 -c \"import socket; socket.create_connection(('%s', 22), timeout=5).close()\"", other)
