#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module cloud_init_seed: NoCloud seed ISOs. Logic: module_utils/cloud_init_seed.py."""

DOCUMENTATION = r"""
---
module: cloud_init_seed
short_description: Build a cloud-init NoCloud seed ISO (volume id cidata) that changes only when its content does
description:
  - Writes an ISO 9660 image with volume id C(cidata) holding C(user-data), C(meta-data) and, when given,
    C(network-config) and C(vendor-data), as cloud-init's NoCloud data source reads it from an attached
    cdrom or disk.
  - The seed is identified by the sha256 of its rendered inputs, never by the ISO bytes (which carry
    timestamps). That hash is stored in the ISO's application identifier, so an existing seed is
    recognised by reading its volume descriptor, whichever tool built it.
  - With O(directory) and O(name) the file is content-named, C(DIRECTORY/NAME-<sha256[:12]>.iso); new
    content makes a new file and an unchanged input keeps the same path. With O(dest) the path is fixed
    and the file is rebuilt only when the recorded hash differs from the inputs' hash.
  - The seed is a regular file meant to stay for the guest's lifetime (it persists across guest restarts).
  - Built with the python module pycdlib when it imports on the managed host (Debian python3-pycdlib), else
    with C(genisoimage) (or C(mkisofs)/C(xorrisofs)). The ISO is built at a scratch path next to the target and
    moved into place atomically.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
options:
  dest:
    description:
      - Fixed absolute path of the seed ISO. Its directory must exist.
      - Mutually exclusive with O(directory) and O(name).
    type: path
  directory:
    description:
      - Directory for a content-named seed, C(DIRECTORY/NAME-<sha256[:12]>.iso). Must exist.
    type: path
  name:
    description:
      - Base name of a content-named seed (letters, digits, C(_), C(.), C(+), C(-)). Also the default
        instance-id and hostname when O(meta_data) is not given.
    type: str
  user_data:
    description:
      - Content of C(user-data). A string is written as given (for example a C(#cloud-config) document or
        a shell script); a dict is written as a C(#cloud-config) document (in JSON form, which is YAML).
      - Not given means an empty C(#cloud-config).
    type: raw
  meta_data:
    description:
      - Content of C(meta-data), a string or a dict. Not given means C(instance-id) and C(local-hostname)
        both set to O(name) (which is then required).
      - cloud-init runs its per-instance steps again when C(instance-id) changes.
    type: raw
  network_config:
    description:
      - Content of C(network-config) (network config version 1 or 2), a string or a dict. Not written when
        not given.
    type: raw
  vendor_data:
    description:
      - Content of C(vendor-data), a string or a dict. Not written when not given.
    type: raw
  state:
    description:
      - V(present) makes sure the seed exists with this content.
      - V(absent) removes O(dest), or with O(directory) and O(name) every content-named seed of that name
        (the inputs are then not needed).
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - With O(directory) and O(name), remove the other content-named seeds of the same name
        (C(NAME-<12 hex>.iso)) once the current one is in place.
    type: bool
    default: false
  builder:
    description:
      - How to build the ISO. V(auto) uses pycdlib when it imports, else genisoimage.
    type: str
    choices: [auto, pycdlib, genisoimage]
    default: auto
extends_documentation_fragment:
  - files
requirements:
  - python3-pycdlib or genisoimage on the managed host
notes:
  - Supports check mode and diff mode (path, whether it exists, the recorded and the wanted input hash).
  - Dicts are serialised as JSON with sorted keys, so the same dict always gives the same seed.
seealso:
  - module: ansible.legacy.qemu_guest
  - name: cloud-init NoCloud data source
    description: How cloud-init finds and reads a seed.
    link: https://cloudinit.readthedocs.io/en/latest/reference/datasources/nocloud.html
"""

EXAMPLES = r"""
- name: Content-named seed for a guest, old seeds of that guest removed
  cloud_init_seed:
    directory: /var/lib/libvirt/images
    name: web1-seed
    meta_data:
      instance-id: web1-0001
      local-hostname: web1
    user_data:
      users:
        - name: debian
          ssh_authorized_keys:
            - "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
          sudo: ALL=(ALL) NOPASSWD:ALL
    network_config:
      version: 2
      ethernets:
        primary:
          match: {name: "e*"}
          addresses: [192.168.250.20/24]
    prune: true
    mode: "0644"
  register: web1_seed

- name: Seed at a fixed path with a shell-script user-data
  cloud_init_seed:
    dest: /srv/seeds/installer.iso
    meta_data: "instance-id: installer-1\n"
    user_data: |
      #!/bin/sh
      echo hello > /root/hello

- name: Remove every seed named web1-seed
  cloud_init_seed:
    directory: /var/lib/libvirt/images
    name: web1-seed
    state: absent
"""

RETURN = r"""
path:
  description: Path of the seed ISO (with O(state=absent) and O(directory), not returned).
  returned: when O(state=present) or O(dest) is given
  type: str
  sample: /var/lib/libvirt/images/web1-seed-3f2a9c1d0b4e.iso
sha256:
  description: sha256 of the rendered inputs; its first 12 digits name a content-named seed.
  returned: when O(state=present)
  type: str
  sample: 3f2a9c1d0b4e7d1e5a0c9b8f6e2d4c1a0b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c
files:
  description: Files in the seed.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [meta-data, network-config, user-data]
builder:
  description: What built the ISO in this run.
  returned: when the ISO was built
  type: str
  sample: pycdlib
pruned:
  description: Older content-named seeds removed (or, in check mode, that would be removed).
  returned: when O(state=present)
  type: list
  elements: str
  sample: [/var/lib/libvirt/images/web1-seed-0a1b2c3d4e5f.iso]
removed:
  description: Seed files removed by O(state=absent) (in check mode, that would be removed).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [/var/lib/libvirt/images/web1-seed-3f2a9c1d0b4e.iso]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cloud_init_seed import SeedError, run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path"),
            directory=dict(type="path"),
            name=dict(type="str"),
            user_data=dict(type="raw"),
            meta_data=dict(type="raw"),
            network_config=dict(type="raw"),
            vendor_data=dict(type="raw"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            prune=dict(type="bool", default=False),
            builder=dict(type="str", default="auto", choices=["auto", "pycdlib", "genisoimage"]),
        ),
        mutually_exclusive=[("dest", "directory"), ("dest", "name")],
        required_one_of=[("dest", "directory")],
        required_together=[("directory", "name")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except SeedError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except OSError as exc:
        module.fail_json(msg="cannot write the seed: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
