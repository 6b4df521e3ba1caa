# -*- coding: utf-8 -*-
"""The one way the suite's libvirt modules (qemu_guest, storage_volume) reach libvirt.

- ``require_binding(module)``: fails the task with ``missing_required_lib`` when the python
  binding is not installed for the managed host's interpreter. The binding is optional at import
  time, so this is a clear message rather than a traceback, and unit tests import this file
  without it.
- ``open_connection(uri)``: a read-write connection, or ``VirtConnectionError`` naming the URI and
  saying how to get libvirtd running.
- ``error_code`` / ``is_libvirt_error`` and libvirt's error numbers (stable ABI values, so pure code
  can compare them without the binding).
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import libvirt
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None

LIBVIRT_REQUIREMENT = "libvirt-python (Debian: python3-libvirt)"
DEFAULT_URI = "qemu:///system"

ERR_NO_DOMAIN = 42           # VIR_ERR_NO_DOMAIN
ERR_NO_NETWORK = 43          # VIR_ERR_NO_NETWORK
ERR_NO_STORAGE_POOL = 49     # VIR_ERR_NO_STORAGE_POOL
ERR_NO_STORAGE_VOL = 50      # VIR_ERR_NO_STORAGE_VOL


class VirtConnectionError(Exception):
    """libvirt could not be reached at the given URI (or the binding is missing)."""

    def __init__(self, msg, uri=None):
        super().__init__(msg)
        self.msg = msg
        self.uri = uri


def _silence(_ctx, _err):
    """libvirt prints every error to stderr by default; the modules report them themselves."""


def error_code(exc):
    """The libvirt error code of a ``libvirt.libvirtError`` (None for anything else)."""
    getter = getattr(exc, "get_error_code", None)
    return getter() if getter else None


def is_libvirt_error(exc):
    return libvirt is not None and isinstance(exc, libvirt.libvirtError)


def require_binding(module):
    """Fail the task, naming the package to install, when the python libvirt binding is missing."""
    if not HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib(LIBVIRT_REQUIREMENT), exception=LIBVIRT_IMPORT_ERROR)


def open_connection(uri=DEFAULT_URI):
    """A read-write ``virConnect`` to ``uri``; ``VirtConnectionError`` naming the URI otherwise."""
    if libvirt is None:
        raise VirtConnectionError("the python libvirt binding is missing: install %s" % LIBVIRT_REQUIREMENT, uri)
    libvirt.registerErrorHandler(_silence, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise VirtConnectionError(
            "cannot connect to libvirt at %s: %s. Start libvirtd on the managed host (with systemd: "
            "'systemctl start libvirtd'; without systemd: 'virtlogd -d && libvirtd -d'), or set uri to a "
            "libvirt that is running" % (uri, exc), uri)
    if conn is None:  # pragma: no cover - older bindings returned None instead of raising
        raise VirtConnectionError("cannot connect to libvirt at %s; start libvirtd or fix uri" % uri, uri)
    return conn
