#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module storage_volume: libvirt storage pools and volumes. Logic: module_utils/storage_volume.py."""

DOCUMENTATION = r"""
---
module: storage_volume
short_description: Manage libvirt storage pools (dir, fs) and their volumes
description:
  - Without O(volume) the task manages the storage pool O(pool) - define it from structured options
    (O(pool_type), O(target_path), O(source_device), permissions), build its target, start or stop it,
    set autostart, remove it, or report it with its volumes.
  - With O(volume) the task manages one volume in the (active) pool O(pool) - create it (O(capacity),
    O(format), a qcow2 O(backing_volume)), clone it from another volume (O(clone_from)), upload a local
    file into it (O(upload_src)), grow it, wipe and delete it, or report it.
  - Talks to libvirt through libvirt-python (virStoragePool / virStorageVol, virStream for uploads).
  - An existing pool whose definition differs from the options is redefined in place (same UUID); an
    active pool keeps running with its old definition until it is next started (the task warns).
  - Removing a pool never deletes its volumes or its target directory unless O(delete_volumes=true).
  - Volumes are never shrunk. A volume whose format, backing volume or uploaded content differs is
    replaced only with O(force=true).
  - In check mode nothing is changed; RV(actions) lists what would be done. Diff mode shows the state
    and the options the task sets, before and after.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
options:
  pool:
    description:
      - Name of the storage pool.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - "For a pool (no O(volume)): V(present) = defined (running state left as it is); V(active) = defined
        and started; V(inactive) = defined and stopped; V(absent) = stopped and undefined (see
        O(delete_volumes)); V(info) = only report RV(pool) with its volumes."
      - "For a volume: V(present), V(absent) or V(info). V(absent) on a volume of a pool that does not exist
        succeeds unchanged, with a warning."
    type: str
    choices: [present, active, inactive, absent, info]
    default: present
  pool_type:
    description:
      - Pool type. Defaults to V(dir) when a pool is defined; when set on an existing pool of another type
        the task fails (remove the pool first).
    type: str
    choices: [dir, fs]
  target_path:
    description:
      - Absolute path of the pool's target directory (for V(fs), the mount point). Required to define a pool.
    type: path
  source_device:
    description:
      - Block device (or image file) holding the file system of an V(fs) pool. Required with O(pool_type=fs).
    type: str
  source_format:
    description:
      - File system type of O(source_device).
      - Only with O(pool_type=fs); libvirt uses V(auto) when unset.
    type: str
    choices: [auto, ext2, ext3, ext4, xfs, btrfs, vfat, iso9660, udf]
  target_mode:
    description:
      - Permissions of the target directory, an octal string such as V("0711").
      - "O(target_mode), O(target_owner) and O(target_group) go into the pool definition (used when the
        pool is built) and, when the directory already exists, are applied to it directly: libvirt takes
        a dir pool's permissions from the directory itself when the pool starts, so idempotency compares
        them with the directory."
    type: str
  target_owner:
    description:
      - Numeric owner id of the target directory.
    type: int
  target_group:
    description:
      - Numeric group id of the target directory.
    type: int
  autostart:
    description:
      - Start the pool when libvirtd starts. Unset leaves it as it is.
    type: bool
  build:
    description:
      - Build the pool (create its target directory) when the target directory is missing. This never
        formats a device (no mkfs).
      - The target is checked on the managed host, which is the libvirt host for local URIs.
    type: bool
    default: true
  delete_volumes:
    description:
      - With O(state=absent) on a pool - delete every volume in it and its target directory (libvirt's
        pool delete, an rmdir that keeps files libvirt does not list) before undefining it. An inactive pool
        is started for this if its target exists.
      - When false (the default) the volumes and the target directory stay on disk.
    type: bool
    default: false
  volume:
    description:
      - Name of a volume in O(pool). Makes the task about that volume; the pool must exist and be active.
    type: str
  capacity:
    description:
      - Size of the volume, in bytes or with a binary unit (V(10G), V(512M)); a multiple of 1 KiB.
      - Required to create a volume unless O(clone_from), O(backing_volume) or O(upload_src) gives it.
      - A larger capacity than the existing volume's grows it; a smaller one fails (volumes are never shrunk).
    type: raw
  format:
    description:
      - Volume format. New volumes default to V(raw) (V(qcow2) with O(backing_volume); a clone keeps the
        format of O(clone_from)). When set on an existing volume of another format the task fails unless
        O(force=true).
    type: str
    choices: [raw, qcow2]
  backing_volume:
    description:
      - Name of a volume in the same pool to use as backing store; the new volume is a qcow2 overlay on it.
    type: str
  clone_from:
    description:
      - Name of a volume in the same pool to copy into the new volume. An existing volume is not compared
        with it (a clone's content diverges by design).
    type: str
  upload_src:
    description:
      - Absolute path of a local file on the managed host to upload into the volume (virStorageVolUpload).
        The volume is created with the file's size and O(format) (default V(raw)).
      - Idempotency compares the sha256 of the file with the volume's first bytes of the same length; a
        different content fails unless O(force=true).
    type: path
  wipe:
    description:
      - With O(state=absent) on a volume - wipe its content (libvirt's zero algorithm) before deleting it.
    type: bool
    default: false
  force:
    description:
      - Delete and recreate a volume whose format, backing volume or uploaded content differs. Its current
        content is lost.
    type: bool
    default: false
extends_documentation_fragment:
  - libvirt_connection
notes:
  - Supports check mode and diff mode.
  - Comparing an uploaded volume reads it back with virStorageVolDownload, also in check mode.
seealso:
  - module: ansible.legacy.qemu_image
"""

EXAMPLES = r"""
- name: A running dir pool that starts with libvirtd
  storage_volume:
    pool: images
    pool_type: dir
    target_path: /var/lib/libvirt/images
    target_mode: "0711"
    state: active
    autostart: true

- name: An fs pool on a block device (defined only; mounted when started)
  storage_volume:
    pool: scratch
    pool_type: fs
    source_device: /dev/vdb1
    source_format: ext4
    target_path: /srv/scratch
    state: present

- name: A 20 GiB qcow2 volume
  storage_volume:
    pool: images
    volume: data.qcow2
    capacity: 20G
    format: qcow2

- name: Upload a base image into the pool
  storage_volume:
    pool: images
    volume: base.qcow2
    upload_src: /srv/images/debian.qcow2
    format: qcow2

- name: An overlay on the base image
  storage_volume:
    pool: images
    volume: vm1.qcow2
    backing_volume: base.qcow2
    capacity: 10G

- name: A full copy of the base image
  storage_volume:
    pool: images
    volume: golden.qcow2
    clone_from: base.qcow2

- name: Wipe and delete a volume
  storage_volume:
    pool: images
    volume: data.qcow2
    state: absent
    wipe: true

- name: List the pool's volumes
  storage_volume:
    pool: images
    state: info
  register: images_pool

- name: Remove the pool, keeping its files
  storage_volume:
    pool: images
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), one line per libvirt operation.
  returned: always
  type: list
  elements: str
  sample:
    - define dir pool images with target /var/lib/libvirt/images
    - build pool images (create /var/lib/libvirt/images)
    - start pool images
    - set autostart of pool images on
pool:
  description: The pool after the task (in check mode, before it). C(volumes) lists them while the pool is active.
  returned: when O(volume) is not set
  type: dict
  sample:
    name: images
    exists: true
    uuid: 6c3b8a56-3d4c-4ac6-9e4e-0d0b1f7c3f11
    state: active
    autostart: true
    persistent: true
    type: dir
    target_path: /var/lib/libvirt/images
    source_device: null
    source_format: null
    target_mode: "0711"
    target_owner: 0
    target_group: 0
    capacity: 270553174016
    allocation: 26536620032
    available: 244016553984
    volumes:
      - {name: data.qcow2, path: /var/lib/libvirt/images/data.qcow2, format: qcow2, capacity: 21474836480,
         allocation: 200704, backing_path: null, backing_format: null}
volume:
  description: The volume after the task (in check mode, before it); C(exists) false when there is none.
  returned: when O(volume) is set
  type: dict
  sample:
    name: vm1.qcow2
    exists: true
    path: /var/lib/libvirt/images/vm1.qcow2
    format: qcow2
    capacity: 10737418240
    allocation: 200704
    backing_path: /var/lib/libvirt/images/base.qcow2
    backing_format: qcow2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.storage_volume import (FS_FORMATS, POOL_STATES, POOL_TYPES, VOLUME_FORMATS, StorageError,
                                                 StorageManager)
from ansible.module_utils.libvirt_common import VirtConnectionError, connection_argument_spec, require_binding


# The typed argument spec and its rules, at module level so unit tests can validate them.
MODULE_ARGS = dict(
    argument_spec=dict(
        connection_argument_spec(),
        pool=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=list(POOL_STATES)),
        pool_type=dict(type="str", choices=list(POOL_TYPES)),
        target_path=dict(type="path"),
        source_device=dict(type="str"),
        source_format=dict(type="str", choices=list(FS_FORMATS)),
        target_mode=dict(type="str"),
        target_owner=dict(type="int"),
        target_group=dict(type="int"),
        autostart=dict(type="bool"),
        build=dict(type="bool", default=True),
        delete_volumes=dict(type="bool", default=False),
        volume=dict(type="str"),
        capacity=dict(type="raw"),
        format=dict(type="str", choices=list(VOLUME_FORMATS)),
        backing_volume=dict(type="str"),
        clone_from=dict(type="str"),
        upload_src=dict(type="path"),
        wipe=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    ),
    required_if=[
        ("pool_type", "fs", ("source_device",)),
        ("wipe", True, ("volume",)),
    ],
    required_by={
        "capacity": "volume",
        "format": "volume",
        "backing_volume": "volume",
        "clone_from": "volume",
        "upload_src": "volume",
    },
    mutually_exclusive=[
        ("clone_from", "backing_volume", "upload_src"),
        ("capacity", "upload_src"),
        ("volume", "delete_volumes"),
        ("volume", "autostart"),
        ("volume", "pool_type"),
        ("volume", "target_path"),
        ("volume", "source_device"),
    ],
)


def main():
    module = AnsibleModule(supports_check_mode=True, **MODULE_ARGS)
    require_binding(module)
    try:
        result = StorageManager(module).execute(module.params)
    except (StorageError, VirtConnectionError) as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings", []):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
