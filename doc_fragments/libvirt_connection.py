# -*- coding: utf-8 -*-
"""Documentation shared by the libvirt modules (qemu_guest, storage_volume): the connection option
and what reaching libvirt needs. The option itself is module_utils/libvirt_common.py's
``connection_argument_spec()``."""


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  uri:
    description:
      - libvirt connection URI.
    type: str
    default: qemu:///system
requirements:
  - libvirt-python (Debian package python3-libvirt) on the managed host
  - a running libvirtd reachable at O(uri)
"""
