#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module qemu_image: disk images through qemu-img. Logic: module_utils/qemu_image.py."""

DOCUMENTATION = r"""
---
module: qemu_image
short_description: Create, overlay, convert, fetch, resize and inspect disk images with qemu-img
description:
  - Manages one disk image file (raw or qcow2) with C(qemu-img) on the managed host.
  - "With O(state=present) the image is made in one of four ways: an empty image of O(size)
    (create); a qcow2 overlay on O(backing_file) (overlay); a conversion of the local image O(src)
    (convert); or a download of O(url) (fetch), converted when O(format) differs from what was
    downloaded. O(size) on an existing image grows it; shrinking needs O(allow_shrink=true)."
  - Idempotency is decided from C(qemu-img info --output=json) (format, virtual size, backing
    file) and, for O(src) and O(url), from the content (a sha256 match with O(checksum), else
    C(qemu-img compare), which counts a grown tail of zeros as identical).
  - An existing image whose format, backing file or content differs from the request is never
    replaced unless O(force=true); the task fails and says what differs.
  - New images are built at a scratch path next to O(path) and moved into place atomically, so a
    failed task leaves no half-written image and a forced replacement is all-or-nothing.
  - In check mode nothing is changed; RV(commands) lists the commands that would run.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
options:
  path:
    description:
      - Absolute path of the image file. Its directory must exist.
    type: path
    required: true
    aliases: [dest]
  state:
    description:
      - V(present) makes sure the image exists as described.
      - V(absent) removes the image file (nothing else; a backing file stays).
      - V(info) only reads; returns RV(info) and never changes anything.
    type: str
    choices: [present, absent, info]
    default: present
  format:
    description:
      - Format of the image at O(path).
      - When creating from nothing it defaults to V(qcow2); with O(src) or O(url) it defaults to
        the source's format; an overlay is always V(qcow2).
      - When unset, the format of an existing image is not checked (except for overlays).
    type: str
    choices: [raw, qcow2]
  size:
    description:
      - Virtual size, in bytes or with a binary unit (V(10G), V(512M), V(1.5GiB); K, M, G, T, P are
        powers of 1024, as in qemu-img). Must be a multiple of 512 bytes.
      - Required to create an empty image. With O(backing_file) it defaults to the backing file's size.
      - On an existing image (or after a conversion/download) a larger size grows the image; a
        smaller one is refused unless O(allow_shrink=true).
    type: raw
  allow_shrink:
    description:
      - Allow O(size) to shrink an existing image. Data past the new end is lost.
    type: bool
    default: false
  backing_file:
    description:
      - Absolute path of the backing image; makes O(path) a qcow2 overlay on it. It must exist.
    type: path
  backing_format:
    description:
      - Format of O(backing_file). Required with it, so qemu-img never probes the backing file.
    type: str
    choices: [raw, qcow2]
  src:
    description:
      - Absolute path of a local image to convert (or copy) into O(path) with format O(format).
    type: path
  src_format:
    description:
      - Expected format of O(src); the task fails if qemu-img detects another one.
    type: str
    choices: [raw, qcow2]
  url:
    description:
      - URL of an image to download (V(file://), V(http://), V(https://)), fetched with Ansible's
        C(fetch_url). The download is streamed to a scratch file next to O(path), verified against
        O(checksum), then moved into place (or converted if O(format) differs from its format).
      - When O(path) exists and its sha256 equals O(checksum), nothing is downloaded. Otherwise the
        image is downloaded (also in check mode, to a temporary directory) to compare its content.
    type: str
  checksum:
    description:
      - Checksum of the source file, V(sha256:HEX) (or V(sha512:HEX)), for O(src) or O(url).
        A mismatch fails the task before anything is written.
    type: str
  force:
    description:
      - Replace an existing image whose format, backing file or content differs from the request.
        Its current content is lost.
    type: bool
    default: false
  validate_certs:
    description:
      - Validate TLS certificates of V(https://) URLs.
    type: bool
    default: true
  timeout:
    description:
      - Timeout in seconds for the connection of a download.
    type: int
    default: 30
extends_documentation_fragment:
  - files
requirements:
  - qemu-img (Debian package qemu-utils) on the managed host
notes:
  - Supports check mode and diff mode. The diff shows the image's state, and the format, virtual
    size and backing file where the task sets them.
  - In check mode, when nothing exists at O(path) and O(url) is given, the image is not downloaded,
    so a conversion to O(format) or a resize that the real run would add after the download is not
    listed in RV(commands).
  - C(qemu-img info) runs with C(-U) (force-share), so images open in a running guest can be inspected.
seealso:
  - module: ansible.legacy.storage_volume
"""

EXAMPLES = r"""
- name: Create an empty 20 GiB qcow2 disk
  qemu_image:
    path: /var/lib/libvirt/images/data.qcow2
    format: qcow2
    size: 20G
    mode: "0640"

- name: Create an overlay on a base image
  qemu_image:
    path: /var/lib/libvirt/images/vm1.qcow2
    backing_file: /var/lib/libvirt/images/base.qcow2
    backing_format: qcow2

- name: Convert a raw image to qcow2
  qemu_image:
    src: /srv/images/debian.raw
    src_format: raw
    path: /var/lib/libvirt/images/debian.qcow2
    format: qcow2

- name: Fetch an image, verify it, store it as qcow2 and grow it to 10 GiB
  qemu_image:
    url: http://127.0.0.1:8080/debian.raw
    checksum: sha256:0b6e0f22e0cf1ac09d0e4b3ddf8e1b76a9f0e2d5e0b3e7b2a5a4c9c17f5c4e0a
    path: /var/lib/libvirt/images/debian.qcow2
    format: qcow2
    size: 10G

- name: Grow an existing image
  qemu_image:
    path: /var/lib/libvirt/images/data.qcow2
    size: 40G

- name: Shrink an image (data past the new end is lost)
  qemu_image:
    path: /var/lib/libvirt/images/data.qcow2
    size: 10G
    allow_shrink: true

- name: Read an image's qemu-img info
  qemu_image:
    path: /var/lib/libvirt/images/vm1.qcow2
    state: info
  register: vm1_disk

- name: Remove an image
  qemu_image:
    path: /var/lib/libvirt/images/vm1.qcow2
    state: absent
"""

RETURN = r"""
path:
  description: The image path.
  returned: always
  type: str
  sample: /var/lib/libvirt/images/vm1.qcow2
commands:
  description:
    - What was run (or, in check mode, would run), in order. qemu-img commands are printed as
      command lines; file operations as C(fetch URL -> FILE), C(verify sha256:HEX FILE),
      C(mv -f -- SCRATCH PATH) and C(rm -f -- PATH).
  returned: always
  type: list
  elements: str
  sample: ["qemu-img create -q -f qcow2 /var/lib/libvirt/images/.data.qcow2.qemu_image-tmp 21474836480",
           "mv -f -- /var/lib/libvirt/images/.data.qcow2.qemu_image-tmp /var/lib/libvirt/images/data.qcow2"]
exists:
  description: Whether an image is at O(path) after the task (in check mode, before it).
  returned: when O(state) is V(present) or V(info)
  type: bool
  sample: true
info:
  description: Parsed C(qemu-img info --output=json) of the image after the task (in check mode, before it);
    empty when there is no image.
  returned: when O(state) is V(present) or V(info)
  type: dict
  sample:
    format: qcow2
    virtual-size: 21474836480
    actual-size: 200704
    filename: /var/lib/libvirt/images/data.qcow2
format:
  description: Format of the image.
  returned: when an image exists
  type: str
  sample: qcow2
virtual_size:
  description: Virtual size in bytes.
  returned: when an image exists
  type: int
  sample: 21474836480
backing_file:
  description: Absolute path of the backing file, or null.
  returned: when an image exists
  type: str
  sample: /var/lib/libvirt/images/base.qcow2
backing_format:
  description: Format of the backing file, or null.
  returned: when an image exists
  type: str
  sample: qcow2
differences:
  description: What differed from the request when O(force=true) replaced an existing image.
  returned: when O(state) is V(present) or V(absent)
  type: list
  elements: str
  sample: ["format is raw, wanted qcow2"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url
from ansible.module_utils.qemu_image import FORMATS, QemuImageError, QemuImageManager, CommandError


# The typed argument spec and its rules, at module level so unit tests can validate them.
MODULE_ARGS = dict(
    argument_spec=dict(
        path=dict(type="path", required=True, aliases=["dest"]),
        state=dict(type="str", default="present", choices=["present", "absent", "info"]),
        format=dict(type="str", choices=list(FORMATS)),
        size=dict(type="raw"),
        allow_shrink=dict(type="bool", default=False),
        backing_file=dict(type="path"),
        backing_format=dict(type="str", choices=list(FORMATS)),
        src=dict(type="path"),
        src_format=dict(type="str", choices=list(FORMATS)),
        url=dict(type="str"),
        checksum=dict(type="str"),
        force=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=30),
    ),
    required_if=[
        ("state", "present", ("size", "src", "url", "backing_file"), True),
    ],
    required_together=[("backing_file", "backing_format")],
    required_by={"src_format": "src"},
    mutually_exclusive=[("src", "url", "backing_file"), ("checksum", "backing_file")],
    add_file_common_args=True,
)


def main():
    module = AnsibleModule(supports_check_mode=True, **MODULE_ARGS)
    manager = QemuImageManager(module, fetch_url=fetch_url)
    try:
        result = manager.execute(module.params)
    except CommandError as exc:
        module.fail_json(msg=str(exc), cmd=exc.argv, rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr)
    except QemuImageError as exc:
        module.fail_json(msg=str(exc))

    diff = result.pop("diff", None)
    if module.params["state"] == "present" and os.path.exists(result["path"]):
        file_args = module.load_file_common_arguments(module.params)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"], diff=diff)
    if module._diff and diff is not None:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
