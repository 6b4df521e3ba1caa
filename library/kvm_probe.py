#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: does KVM really run guests on this host? The probe lives in module_utils/qemu_guest.py."""
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
    payload as M(qemu_guest) with O(virt_type=auto) under TCG and under KVM with the host's QEMU, and
    answers C(kvm) only if the KVM run finishes and is not slower than the TCG run.
  - The verdict is cached per host in O(cache), keyed by kernel release, QEMU version, emulator and CPU
    model, so later runs take no time. The module never changes anything but that cache file, and
    does not write it in check mode.
version_added: "1.0.0"
author:
  - OpenStack lab suite maintainers
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.qemu_guest import KvmProbe, probe_key


def main():
    module = AnsibleModule(
        argument_spec=dict(
            emulator=dict(type="str"),
            cpu=dict(type="str"),
            cache=dict(type="path", default="/var/cache/qemu_guest/kvm-probe.json"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not (os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)):
        module.exit_json(changed=False, virt_type="qemu", usable=False,
                         reason="/dev/kvm is missing or not readable and writable")
    emulator = p["emulator"] or "qemu-system-x86_64"
    path = module.get_bin_path(emulator) if "/" not in emulator else (emulator if os.access(emulator, os.X_OK) else None)
    if not path:
        msg = ("QEMU emulator %r not found: install qemu-system-x86 (Debian) or set emulator to its path" % emulator)
        if module.check_mode:
            module.exit_json(changed=False, virt_type="qemu", usable=False, reason=msg + " (check mode)")
        module.fail_json(msg=msg)
    rc, out, err = module.run_command([path, "--version"])
    if rc != 0:
        module.fail_json(msg="%s --version failed (exit %s): %s; fix the QEMU installation" % (path, rc, (err or out).strip()))
    version = (out.splitlines() or ["unknown"])[0].strip()
    key = probe_key(os.uname().release, version, path, p["cpu"])
    result = KvmProbe(module.run_command, p["cache"], write_cache=not module.check_mode).check(key, path, p["cpu"])
    module.exit_json(changed=False, virt_type="kvm" if result["usable"] else "qemu", usable=result["usable"],
                     reason=result["reason"], probe=result)


if __name__ == "__main__":
    main()
