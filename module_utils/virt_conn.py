# -*- coding: utf-8 -*-
"""Opening a libvirt connection from a module, with errors that say what to do.

Shared by the suite's libvirt modules. The python binding is optional at import time so a module
can report it with ``missing_required_lib(LIBVIRT_REQUIREMENT)`` instead of a traceback.
"""

import traceback

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


class VirtConnectionError(Exception):
    """libvirt could not be reached at the given URI."""


def _silence(_ctx, _err):
    """libvirt prints every error to stderr by default; the modules report them themselves."""


def error_code(exc):
    """The libvirt error code of a ``libvirt.libvirtError`` (None for anything else)."""
    getter = getattr(exc, "get_error_code", None)
    return getter() if getter else None


def is_libvirt_error(exc):
    return libvirt is not None and isinstance(exc, libvirt.libvirtError)


def open_connection(uri=DEFAULT_URI):
    """A read-write ``virConnect`` to ``uri``; ``VirtConnectionError`` naming the URI otherwise."""
    if libvirt is None:
        raise VirtConnectionError("the python libvirt binding is missing: install %s" % LIBVIRT_REQUIREMENT)
    libvirt.registerErrorHandler(_silence, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise VirtConnectionError(
            "cannot connect to libvirt at %s: %s. Start libvirtd on that host (with systemd: "
            "'systemctl start libvirtd'; without systemd: 'virtlogd -d && libvirtd -d'), or set uri to a "
            "libvirt that is running" % (uri, exc))
    if conn is None:  # pragma: no cover - older bindings returned None instead of raising
        raise VirtConnectionError("cannot connect to libvirt at %s; start libvirtd or fix uri" % uri)
    return conn
