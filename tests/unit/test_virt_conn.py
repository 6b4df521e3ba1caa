"""Unit tests for module_utils/virt_conn.py, the connection helper of every libvirt module.

The virtualenv that runs the unit tests has no libvirt binding, which is the "binding missing" case
as it is. The unreachable-libvirt case uses a small stand-in for the binding (the real binding
against a socket that does not exist is exercised by the modules' integration tests:
tests/integration/modules/test_qemu_guest.py and test_storage_volume.py).
"""
import pytest

from ansible.module_utils import virt_conn
from ansible.module_utils.libvirt_common import GuestError, lookup_domain
from ansible.module_utils.qemu_guest import QemuGuest
from ansible.module_utils.virt_conn import (
    ERR_NO_DOMAIN, LIBVIRT_REQUIREMENT, VirtConnectionError, error_code, is_libvirt_error, open_connection,
    require_binding,
)

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
    if virt_conn.HAS_LIBVIRT:
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
    monkeypatch.setattr(virt_conn, "libvirt", binding)
    with pytest.raises(VirtConnectionError) as err:
        open_connection(URI)
    msg = err.value.msg
    assert msg.startswith("cannot connect to libvirt at %s: Failed to connect socket" % URI)
    assert "systemctl start libvirtd" in msg and "virtlogd -d && libvirtd -d" in msg
    assert err.value.uri == URI and binding.opened == [URI]
    assert binding.handlers, "libvirt's own stderr printing is silenced"


def test_connection_is_returned(monkeypatch):
    conn = object()
    monkeypatch.setattr(virt_conn, "libvirt", StandInBinding(conn=conn))
    assert open_connection() is conn


def test_error_helpers(monkeypatch):
    monkeypatch.setattr(virt_conn, "libvirt", StandInBinding())
    exc = StandInError("no domain", ERR_NO_DOMAIN)
    assert is_libvirt_error(exc) and error_code(exc) == ERR_NO_DOMAIN
    assert not is_libvirt_error(ValueError("x")) and error_code(ValueError("x")) is None


def test_lookup_domain_tells_absent_from_a_libvirt_failure(monkeypatch):
    monkeypatch.setattr(virt_conn, "libvirt", StandInBinding())

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
    monkeypatch.setattr(virt_conn, "libvirt", binding)
    guest = QemuGuest(FailingModule())
    with pytest.raises(GuestError) as err:
        guest.open()
    assert "virtlogd -d && libvirtd -d" in err.value.msg and err.value.details == {"uri": URI}
    assert binding.opened == [URI]
