"""Unit tests for module_utils/libvirt_common.py, the libvirt plumbing of every libvirt module: the
connection and libvirt's errors, domain lookup, interface addresses, the host's capabilities.

The virtualenv that runs the unit tests has no libvirt binding, which is the "binding missing" case
as it is. The unreachable-libvirt case uses a small stand-in for the binding (the real binding
against a socket that does not exist is exercised by the modules' integration tests:
tests/integration/modules/test_qemu_guest.py and test_storage_volume.py).
"""
import pytest

from ansible.module_utils import libvirt_common
from ansible.module_utils.libvirt_common import (
    DEFAULT_URI, ERR_NO_DOMAIN, LIBVIRT_REQUIREMENT, GuestError, VirtConnectionError, canonical_machine,
    connection_argument_spec, error_code, host_neighbors, interface_addresses, is_libvirt_error, is_local_uri,
    lookup_domain, open_connection, parse_caps, require_binding,
)
from ansible.module_utils.qemu_guest import QemuGuest

URI = "qemu:///system?socket=/nonexistent/libvirt-sock"


class StandInError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code

    def get_error_code(self):
        return self.code


class StandInBinding:
    """What open_connection uses of the binding: libvirtError, registerErrorHandler, open."""
    libvirtError = StandInError

    def __init__(self, conn=None, error=None):
        self.conn = conn
        self.error = error
        self.handlers = []
        self.opened = []

    def registerErrorHandler(self, handler, ctx):
        self.handlers.append(handler)

    def open(self, uri):
        self.opened.append(uri)
        if self.error:
            raise self.error
        return self.conn


class FailingModule:
    params = {"uri": URI}
    check_mode = False

    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


def test_binding_missing_is_named():
    if libvirt_common.HAS_LIBVIRT:
        pytest.skip("this interpreter has the libvirt binding")
    with pytest.raises(VirtConnectionError) as err:
        open_connection(URI)
    assert LIBVIRT_REQUIREMENT in err.value.msg and err.value.uri == URI
    module = FailingModule()
    with pytest.raises(SystemExit):
        require_binding(module)
    assert "libvirt-python (Debian: python3-libvirt)" in module.failed["msg"]
    assert "Failed to import the required Python library" in module.failed["msg"]
    assert module.failed["exception"]


def test_unreachable_libvirt_names_the_uri_and_how_to_start_it(monkeypatch):
    binding = StandInBinding(error=StandInError("Failed to connect socket: No such file or directory", 38))
    monkeypatch.setattr(libvirt_common, "libvirt", binding)
    with pytest.raises(VirtConnectionError) as err:
        open_connection(URI)
    msg = err.value.msg
    assert msg.startswith("cannot connect to libvirt at %s: Failed to connect socket" % URI)
    assert "systemctl start libvirtd" in msg and "virtlogd -d && libvirtd -d" in msg
    assert err.value.uri == URI and binding.opened == [URI]
    assert binding.handlers, "libvirt's own stderr printing is silenced"


def test_connection_is_returned(monkeypatch):
    conn = object()
    monkeypatch.setattr(libvirt_common, "libvirt", StandInBinding(conn=conn))
    assert open_connection() is conn


def test_connection_argument_spec():
    spec = connection_argument_spec()
    assert spec == {"uri": {"type": "str", "default": DEFAULT_URI}} and DEFAULT_URI == "qemu:///system"
    spec["uri"]["default"] = "changed"
    assert connection_argument_spec()["uri"]["default"] == DEFAULT_URI, "each module gets its own copy"


def test_error_helpers(monkeypatch):
    monkeypatch.setattr(libvirt_common, "libvirt", StandInBinding())
    exc = StandInError("no domain", ERR_NO_DOMAIN)
    assert is_libvirt_error(exc) and error_code(exc) == ERR_NO_DOMAIN
    assert not is_libvirt_error(ValueError("x")) and error_code(ValueError("x")) is None


def test_lookup_domain_tells_absent_from_a_libvirt_failure(monkeypatch):
    monkeypatch.setattr(libvirt_common, "libvirt", StandInBinding())

    class Conn:
        def __init__(self, code):
            self.code = code

        def lookupByName(self, name):
            raise StandInError("lookup of %s failed" % name, self.code)

    assert lookup_domain(Conn(ERR_NO_DOMAIN), "g1") is None
    with pytest.raises(GuestError, match="cannot look up domain g1: lookup of g1 failed"):
        lookup_domain(Conn(1), "g1")


def test_qemu_guest_reports_an_unreachable_libvirt_as_its_own_failure(monkeypatch):
    """qemu_guest connects through the shared helper and fails with its message and the uri."""
    binding = StandInBinding(error=StandInError("Failed to connect socket", 38))
    monkeypatch.setattr(libvirt_common, "libvirt", binding)
    guest = QemuGuest(FailingModule())
    with pytest.raises(GuestError) as err:
        guest.open()
    assert "virtlogd -d && libvirtd -d" in err.value.msg and err.value.details == {"uri": URI}
    assert binding.opened == [URI]


# --------------------------------------------------------------------------- capabilities

CAPS = """<capabilities><host><uuid>x</uuid></host>
<guest><os_type>hvm</os_type><arch name='i686'><emulator>/usr/bin/qemu-system-i386</emulator>
<machine>pc-i440fx-7.2</machine><domain type='qemu'/></arch></guest>
<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<machine maxCpus='255'>pc-i440fx-7.2</machine><machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
<machine maxCpus='288'>pc-q35-7.2</machine><machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
<domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"""


def test_parse_caps_and_machine_aliases():
    caps = parse_caps(CAPS)
    assert caps["emulator"] == "/usr/bin/qemu-system-x86_64"
    assert caps["kvm_listed"] is True
    assert canonical_machine(caps, "q35") == "pc-q35-7.2"
    assert canonical_machine(caps, "pc") == "pc-i440fx-7.2"
    assert canonical_machine(caps, "pc-q35-7.2") == "pc-q35-7.2"
    assert parse_caps(CAPS.replace("<domain type='kvm'/>", ""))["kvm_listed"] is False


# --------------------------------------------------------------------------- addresses

ARP = """IP address       HW type     Flags       HW address            Mask     Device
192.168.250.10   0x1         0x2         52:54:00:9f:55:ea     *        ostk-ex0
192.168.250.11   0x1         0x0         52:54:00:00:00:02     *        ostk-ex0
192.0.2.1        0x1         0x2         02:FC:00:00:00:05     *        eth0
"""


def test_host_neighbors_reads_complete_arp_entries(tmp_path):
    path = tmp_path / "arp"
    path.write_text(ARP)
    assert host_neighbors(str(path)) == {"52:54:00:9f:55:ea": ["192.168.250.10"], "02:fc:00:00:00:05": ["192.0.2.1"]}
    assert host_neighbors(str(tmp_path / "missing")) == {}


class NoLibvirtAddresses:
    """A domain whose libvirt address sources all fail, as libvirt 9.0's ARP source does on kernel 6.18
    ("internal error: wrong nlmsg len") and the lease/agent sources do for a guest on a plain bridge."""

    def interfaceAddresses(self, source, flags):
        raise RuntimeError("wrong nlmsg len")


def test_interface_addresses_fall_back_to_the_hosts_arp_table_for_local_guests(tmp_path):
    path = tmp_path / "arp"
    path.write_text(ARP)
    macs = ["52:54:00:9F:55:EA", "52:54:00:00:00:02"]
    local = interface_addresses(NoLibvirtAddresses(), macs, local=True, arp_path=str(path))
    assert local == {"52:54:00:9f:55:ea": [{"addr": "192.168.250.10", "prefix": None, "type": "ipv4",
                                            "source": "host-arp"}],
                     "52:54:00:00:00:02": []}
    remote = interface_addresses(NoLibvirtAddresses(), macs, local=False, arp_path=str(path))
    assert remote == {"52:54:00:9f:55:ea": [], "52:54:00:00:00:02": []}


@pytest.mark.parametrize("uri,local", [
    ("qemu:///system", True), ("qemu:///session", True), ("qemu:///system?socket=/x", True),
    ("qemu+ssh://root@host2/system", False), ("qemu+tcp://10.0.0.31/system", False),
])
def test_is_local_uri(uri, local):
    assert is_local_uri(uri) is local
