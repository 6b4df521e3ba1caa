#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: does KVM really run guests on this host? Logic: module_utils/kvm_probe.py."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: kvm_probe
short_description: Decide between KVM and TCG by running a tiny guest under both
description:
  - Answers whether hardware virtualisation works on the managed host, for choosing Nova's or a guest's
    C(virt_type). A listed C(/dev/kvm) or C(<domain type='kvm'/>) in libvirt's capabilities is not
    enough, since nested or paravirtualised KVM can accept a guest and then hang it.
  - Without a usable C(/dev/kvm) the answer is C(qemu) at once. Otherwise it boots the same 246-byte probe
    payload as M(ansible.legacy.qemu_guest) with O(ansible.legacy.qemu_guest#module:virt_type=auto)
    under TCG and under KVM with the host's QEMU, and answers C(kvm) only if the KVM run finishes and
    is not slower than the TCG run.
  - The verdict is cached per host in O(cache), keyed by kernel release, QEMU version, emulator and CPU
    model, so later runs take no time. The module never changes anything but that cache file, and
    does not write it in check mode.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
requirements:
  - qemu-system-x86 (the emulator) and coreutils C(timeout) on the managed host
options:
  emulator:
    description:
      - Path or name of the QEMU system emulator. Default C(qemu-system-x86_64) from the PATH.
    type: str
  cpu:
    description:
      - CPU model for the KVM run, e.g. V(host) (what Nova's C(host-passthrough) uses). Default QEMU's.
    type: str
  cache:
    description:
      - File that keeps the verdict.
    type: path
    default: /var/cache/qemu_guest/kvm-probe.json
notes:
  - In check mode a missing emulator is reported as C(virt_type=qemu) with the reason, not as a failure,
    because a real run would install it first.
"""

EXAMPLES = r"""
- name: Decide nova-compute's virt_type
  kvm_probe:
    cpu: host
  register: probe

- name: Use it
  ansible.builtin.debug:
    msg: "virt_type={{ probe.virt_type }} ({{ probe.reason }})"
"""

RETURN = r"""
virt_type:
  description: V(kvm) when KVM really runs guests here, else V(qemu).
  returned: always
  type: str
  sample: qemu
usable:
  description: Whether KVM is usable.
  returned: always
  type: bool
reason:
  description: Why, in one sentence.
  returned: always
  type: str
  sample: "a KVM probe guest did not finish within 3s (the same payload under TCG took 0.41s): KVM is not usable here"
probe:
  description: The probe's runs (C(kvm), C(tcg)), its cache key and whether the verdict came from the cache.
  returned: when the probe ran or was cached
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kvm_probe import PROBE_CACHE, KvmProbeError, run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            emulator=dict(type="str"),
            cpu=dict(type="str"),
            cache=dict(type="path", default=PROBE_CACHE),
        ),
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except KvmProbeError as exc:
        module.fail_json(msg=exc.msg)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
