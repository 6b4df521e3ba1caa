#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module qemu_guest: libvirt QEMU/KVM guests. Logic: module_utils/qemu_guest.py (+ domain_xml.py,
kvm_probe.py, libvirt_common.py)."""

DOCUMENTATION = r"""
---
module: qemu_guest
short_description: Define, update, start, stop and remove libvirt QEMU/KVM guests from structured options
description:
  - Manages one libvirt domain on the managed host. The guest is described by structured options (memory,
    vCPUs, disks, NICs, firmware, ...), which the module compiles to domain XML; the raw O(xml) option is an
    escape hatch for anything else.
  - "Existing guests are updated in place: the options given are applied to the guest's persistent
    configuration (everything else in it is kept, including what libvirt filled in), and on a running guest
    disks and NICs are also attached, detached or switched live where QEMU allows it. Options that are not
    given are not managed on an existing guest; a new guest gets the defaults documented below."
  - Changes are decided from the fields the user set only, so libvirt's own defaults never count as a
    difference, and the diff shows only those fields.
  - O(virt_type=auto) does not trust libvirt's capabilities (which list C(kvm) whenever C(/dev/kvm) exists);
    it boots a 246-byte probe payload under KVM and under TCG with the host's QEMU and uses KVM only if the
    KVM run finishes and is not slower than TCG. The verdict is cached per host in O(kvm_probe_cache), keyed
    by kernel release, QEMU version, emulator and CPU model.
  - State transitions wait for the guest to reach the state, up to O(timeout) seconds.
  - Everything is checked before anything is changed (bridges, libvirt networks, disk files and their backing
    files, pools and volumes, kernel and initrd, names and sizes), and a failure never removes or stops
    anything that the task did not ask to remove or stop.
version_added: "1.0.0"
author:
  - ostack maintainers (@ostack)
requirements:
  - qemu-img (Debian package qemu-utils) to detect disk formats and check backing files
  - python3-pycdlib or genisoimage, for O(cloud_init) with inline data
options:
  name:
    description:
      - Name of the guest. 1 to 64 letters, digits, C(_), C(.), C(+) or C(-), starting with a letter or digit.
      - Required unless O(xml) carries a C(<name>).
    type: str
  state:
    description:
      - V(present) makes sure the guest is defined as described and does not change whether it runs.
      - V(running) also starts it (or resumes a paused guest).
      - V(paused) also pauses it (a stopped guest is started paused).
      - V(shutdown) asks the guest to power off with the ACPI power button and waits up to O(timeout); when
        it does not, the task fails and leaves it running, unless O(force_after_timeout=true) powers it off.
      - V(destroyed) powers the guest off at once (like pulling the plug).
      - V(absent) powers it off and undefines it, with its UEFI NVRAM file, managed save image and snapshot
        metadata; a guest that does not exist is not a change. Disks are kept unless O(remove_storage=true).
    type: str
    choices: [present, running, paused, shutdown, destroyed, absent]
    default: present
  xml:
    description:
      - A complete libvirt domain XML document, used as it is instead of the structured options (mutually
        exclusive with them).
      - An existing guest is redefined only when its configuration lacks something this XML says (elements,
        attributes and text it names; memory units and machine aliases are normalised), so what libvirt adds
        does not count as a difference. Its UUID is kept.
    type: str
  memory:
    description:
      - Memory size. A number is MiB; a string may carry a binary unit, V(512M), V(2G), V(1.5GiB). At least 16 MiB.
      - New guests get V(1G).
    type: raw
  vcpus:
    description:
      - Number of virtual CPUs (1 to 512). New guests get V(1).
    type: int
  virt_type:
    description:
      - V(kvm) (hardware acceleration), V(qemu) (TCG emulation), or V(auto) (KVM only if the probe described
        above shows that it really runs guests here, else V(qemu)).
      - New guests get V(auto). Not given on an existing guest means its type is kept.
    type: str
    choices: [auto, kvm, qemu]
  cpu_mode:
    description:
      - CPU model mode. V(auto) is V(host-passthrough) under KVM and V(maximum) (every feature TCG can
        emulate) under QEMU. V(custom) needs O(cpu_model).
      - New guests get V(auto). When an existing guest moves to V(qemu) with V(host-passthrough), which TCG
        cannot provide, it becomes V(maximum).
    type: str
    choices: [auto, host-passthrough, host-model, maximum, custom]
  cpu_model:
    description: Named CPU model for O(cpu_mode=custom), for example V(qemu64) or V(Skylake-Server).
    type: str
  machine:
    description:
      - Machine type, an alias such as V(pc) or V(q35) or a versioned name such as V(pc-q35-7.2); must be one
        QEMU supports. Compared by its canonical name. libvirt's default (V(pc)) when not given.
    type: str
  firmware:
    description:
      - V(bios) (SeaBIOS) or V(uefi) (OVMF, without secure boot, picked by libvirt from QEMU's firmware
        descriptors). New guests get V(bios). The UEFI NVRAM file is removed with O(state=absent).
    type: str
    choices: [bios, uefi]
  disks:
    description:
      - The guest's disks (without the O(cloud_init) seed, which is handled on its own). When given, this is the
        exact set; disks of the guest that are not listed are removed from it (their files are kept).
      - Disks are matched to the guest's disks by source (path, or pool and volume), so reordering is not a change.
      - Each file, its backing chain, and each pool and volume must exist.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of an image file (or an ISO for a cdrom).
        type: path
      pool:
        description: libvirt storage pool of a volume (with O(disks[].volume)). The pool must be active.
        type: str
      volume:
        description: Volume name in O(disks[].pool).
        type: str
      device:
        description: V(disk) or V(cdrom) (a cdrom is read-only). New disks get V(disk).
        type: str
        choices: [disk, cdrom]
      bus:
        description:
          - Bus. New disks get V(virtio), new cdroms V(sata) on q35 machines and V(ide) otherwise.
        type: str
        choices: [virtio, sata, scsi, ide, usb]
      format:
        description:
          - Image format. Detected with C(qemu-img info) (or from the volume) when not given; a given format
            that differs from the detected one fails the task (it would corrupt the image).
        type: str
        choices: [raw, qcow2]
      readonly:
        description: Attach read-only.
        type: bool
      boot_order:
        description: Boot priority (1 first). Any disk with a boot order replaces the C(<os><boot>) setting.
        type: int
      target:
        description: Device name in the guest, such as V(vda). Assigned from the bus when not given.
        type: str
  interfaces:
    description:
      - The guest's NICs; when given, the exact set (NICs that are not listed are removed).
      - Matched to the guest's NICs by MAC where a MAC is given, else by position.
    type: list
    elements: dict
    aliases: [nics]
    suboptions:
      bridge:
        description: A Linux bridge on the managed host (C(/sys/class/net/BRIDGE/bridge) must exist).
        type: str
      network:
        description: A libvirt network (it must exist; for V(running) and V(paused) it must be active).
        type: str
      model:
        description: NIC model. New NICs get V(virtio).
        type: str
        choices: [virtio, e1000, e1000e, rtl8139]
      mac:
        description: MAC address. libvirt generates one when not given; RV(macs) returns it.
        type: str
  serial_console:
    description: A serial port on a pty with a console on it (C(virsh console NAME)). New guests get V(true).
    type: bool
  graphics:
    description: V(none), or V(vnc) listening on 127.0.0.1 on an automatic port. New guests get V(none).
    type: str
    choices: [none, vnc]
  rng:
    description: A virtio RNG fed from the host's C(/dev/urandom). New guests get V(true).
    type: bool
  kernel:
    description: Absolute path of a kernel on the host to boot directly; V('') removes it.
    type: path
  initrd:
    description: Absolute path of an initrd for O(kernel); V('') removes it.
    type: path
  cmdline:
    description: Kernel command line for O(kernel); V('') removes it.
    type: str
  cloud_init:
    description:
      - A cloud-init NoCloud seed, attached as a read-only cdrom.
      - Either O(cloud_init.seed), an existing ISO (for example from the cloud_init_seed module), or inline data
        that the module turns into a content-named seed C(SEED_DIR/NAME-seed-<sha256[:12]>.iso) with the same
        code as the cloud_init_seed module. Changed data makes a new seed, swapped into the guest (live on a
        running guest); older seeds of the guest that no guest uses are removed.
    type: dict
    suboptions:
      seed:
        description: Path of an existing seed ISO.
        type: path
      user_data:
        description: C(user-data), a string or a dict (written as C(#cloud-config)).
        type: raw
      meta_data:
        description: C(meta-data), a string or a dict. Default C(instance-id) and C(local-hostname) both C(NAME-seed).
        type: raw
      network_config:
        description: C(network-config), a string or a dict.
        type: raw
      seed_dir:
        description:
          - Directory for a generated seed. Default the directory of the first file disk, else
            C(/var/lib/libvirt/images).
        type: path
      bus:
        description: Bus of the seed cdrom. Default V(sata) on q35 machines, else V(ide).
        type: str
        choices: [sata, scsi, ide]
  autostart:
    description: Start the guest when libvirtd starts. Not managed when not given.
    type: bool
  timeout:
    description: Seconds to wait for a state transition (start, pause, resume, power off, ACPI shutdown).
    type: int
    default: 120
  force_after_timeout:
    description: With O(state=shutdown), power the guest off when it has not shut down after O(timeout).
    type: bool
    default: false
  detach_timeout:
    description:
      - Seconds to wait for a running guest to release a detached disk or NIC (hot-unplug needs the guest's
        cooperation). What is not released by then is still removed from the configuration, and
        RV(restart_required) is V(true).
    type: int
    default: 10
  remove_storage:
    description:
      - With O(state=absent), also delete the guest's writable disks (files, or volumes through libvirt)
        and the seed ISO the module generated for it. Read-only disks, cdroms, given seeds and backing files
        are kept.
      - Disks listed in O(disks) are deleted too, so a run after an interrupted removal finishes the job.
    type: bool
    default: false
  kvm_probe_cache:
    description: File where the KVM probe's verdict is cached (not written in check mode).
    type: path
    default: /var/cache/qemu_guest/kvm-probe.json
notes:
  - Supports check mode (nothing is defined, started, stopped, built or written; the result, including RV(xml) and
    RV(restart_required), is what the real run would produce) and diff mode (the guest's state, and the fields
    the task sets, before and after).
  - Check mode checks the host as it is, so it fails on a disk file, seed, kernel, initrd or bridge that does not
    exist yet, just as a real run would. A playbook whose earlier tasks make them can look for them in check mode
    and report the guest as a change instead of running this task while any is missing; the repository's
    C(playbooks/examples/guest-on-bridge.yml) does so.
  - O(cloud_init) with inline data builds the seed on the managed host with pycdlib or genisoimage.
  - Interface addresses come from libvirt's lease, guest agent and ARP sources, best effort; a guest on a plain
    bridge has an address there only after it has exchanged traffic with the host. When libvirt runs on the
    managed host, the host's ARP table fills in what libvirt's ARP source misses (libvirt 9.0 cannot read the
    neighbour table of recent kernels).
  - The checks of bridges, disk files, kernel and initrd, the seed and the KVM probe run on the managed host, so
    O(uri) should name the libvirt of that host (the default).
extends_documentation_fragment:
  - libvirt_connection
seealso:
  - module: ansible.legacy.cloud_init_seed
  - module: ansible.legacy.qemu_image
  - module: ansible.legacy.linux_bridge
  - name: libvirt domain XML format
    description: What the compiled XML means.
    link: https://libvirt.org/formatdomain.html
"""

EXAMPLES = r"""
- name: A guest on a bridge, booted from an overlay disk with a cloud-init seed
  qemu_guest:
    name: web1
    memory: 2G
    vcpus: 2
    disks:
      - path: /var/lib/libvirt/images/web1.qcow2
    interfaces:
      - bridge: br-prov
    cloud_init:
      meta_data:
        instance-id: web1-1
        local-hostname: web1
      user_data:
        ssh_authorized_keys:
          - "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
    state: running
  register: web1

- name: Grow it; on a running guest the new size applies at the next boot
  qemu_guest:
    name: web1
    memory: 4G
  register: web1_mem

- name: Reboot only if needed
  qemu_guest:
    name: web1
    state: shutdown
    timeout: 120
    force_after_timeout: true
  when: web1_mem.restart_required

- name: Add a data disk from a storage pool (attached live to the running guest)
  qemu_guest:
    name: web1
    disks:
      - path: /var/lib/libvirt/images/web1.qcow2
      - pool: default
        volume: web1-data.qcow2
    state: running

- name: A UEFI q35 guest with direct kernel boot, forced to TCG
  qemu_guest:
    name: kbuild
    virt_type: qemu
    machine: q35
    firmware: uefi
    kernel: /srv/boot/vmlinuz
    initrd: /srv/boot/initrd.img
    cmdline: console=ttyS0 root=/dev/vda rw
    disks:
      - path: /srv/images/root.raw
        format: raw

- name: Anything the options do not cover, as raw XML
  qemu_guest:
    xml: "{{ lookup('ansible.builtin.template', 'special-guest.xml.j2') }}"
    state: running

- name: Remove the guest, its NVRAM and its disks
  qemu_guest:
    name: web1
    state: absent
    remove_storage: true
"""

RETURN = r"""
name:
  description: Guest name.
  returned: always
  type: str
  sample: web1
uuid:
  description: Guest UUID (not returned in check mode for a guest that does not exist yet).
  returned: when the guest exists
  type: str
  sample: 4c1f0d5e-8a3b-4f6e-9d2a-1b7c3e5f9a08
state:
  description:
    - The guest's state after the task (in check mode, the state it would have), one of C(running),
      C(paused), C(shutoff), C(crashed), C(pmsuspended), C(shutting_down), C(absent).
  returned: always
  type: str
  sample: running
xml:
  description:
    - The compiled persistent domain XML that was defined (or would be in check mode), or the current one
      when nothing changed. With O(state=absent), the XML of the removed guest.
  returned: when the guest exists or is defined
  type: str
changes:
  description: The configuration fields that changed (or would change).
  returned: unless O(state=absent)
  type: list
  elements: str
  sample: [memory, disks]
actions:
  description: State transitions run (or that would run), in order.
  returned: unless O(state=absent)
  type: list
  elements: str
  sample: [start]
restart_required:
  description:
    - V(true) when the guest is running or paused and its persistent configuration has changes (from this task or
      an earlier one) that it only picks up when it next boots, for example memory, vCPUs, or a disk or NIC that
      could not be plugged or unplugged live.
  returned: always
  type: bool
  sample: false
live_changes:
  description: Device changes made on the running guest (attach, detach, update).
  returned: when the configuration of a running guest changed
  type: list
  elements: str
  sample: ["attach disk /var/lib/libvirt/images/data.qcow2"]
macs:
  description: MAC addresses of the guest's NICs, in configuration order.
  returned: unless O(state=absent)
  type: list
  elements: str
  sample: ["52:54:00:12:34:56"]
interfaces:
  description: The guest's NICs.
  returned: unless O(state=absent)
  type: list
  elements: dict
  contains:
    mac:
      description: MAC address.
      type: str
    model:
      description: NIC model.
      type: str
    source:
      description: C({bridge - NAME}) or C({network - NAME}).
      type: dict
    target:
      description: Host-side tap device while the guest runs.
      type: str
    addresses:
      description: Addresses libvirt knows for this MAC (lease, guest agent or ARP), best effort.
      type: list
      elements: dict
  sample: [{"mac": "52:54:00:12:34:56", "model": "virtio", "source": {"bridge": "br-prov"}, "target": "vnet3",
            "addresses": [{"addr": "192.168.250.10", "prefix": 0, "type": "ipv4", "source": "arp"}]}]
virt_type:
  description: The guest's domain type, C(kvm) or C(qemu).
  returned: unless O(state=absent)
  type: str
  sample: qemu
virt_type_reason:
  description: Why O(virt_type) resolved as it did.
  returned: when O(virt_type) was given or the guest is new
  type: str
  sample: "a KVM probe guest did not finish within 10s (the same payload under TCG took 0.31s): KVM is not usable here"
kvm_probe:
  description: The probe's result (C(usable), C(reason), C(key), C(cached), the C(kvm) and C(tcg) runs).
  returned: when O(virt_type=auto) needed the probe
  type: dict
cloud_init_seed:
  description: Path of the guest's cloud-init seed ISO.
  returned: when the guest has one
  type: str
  sample: /var/lib/libvirt/images/web1-seed-3f2a9c1d0b4e.iso
forced:
  description: V(true) when O(state=shutdown) powered the guest off after the timeout.
  returned: when it happened
  type: bool
shutdown_seconds:
  description: How long the ACPI shutdown took (or was waited for).
  returned: when a shutdown ran
  type: float
removed_storage:
  description: Disks deleted (or that would be) by O(state=absent) with O(remove_storage=true).
  returned: with O(state=absent)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kvm_probe import PROBE_CACHE
from ansible.module_utils.libvirt_common import GuestError, connection_argument_spec, is_libvirt_error, require_binding
from ansible.module_utils.qemu_guest import QemuGuest

STRUCTURED = ("memory", "vcpus", "virt_type", "cpu_mode", "cpu_model", "machine", "firmware", "disks",
              "interfaces", "serial_console", "graphics", "rng", "kernel", "initrd", "cmdline", "cloud_init")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            connection_argument_spec(),
            name=dict(type="str"),
            state=dict(type="str", default="present",
                       choices=["present", "running", "paused", "shutdown", "destroyed", "absent"]),
            xml=dict(type="str"),
            memory=dict(type="raw"),
            vcpus=dict(type="int"),
            virt_type=dict(type="str", choices=["auto", "kvm", "qemu"]),
            cpu_mode=dict(type="str", choices=["auto", "host-passthrough", "host-model", "maximum", "custom"]),
            cpu_model=dict(type="str"),
            machine=dict(type="str"),
            firmware=dict(type="str", choices=["bios", "uefi"]),
            disks=dict(type="list", elements="dict", options=dict(
                path=dict(type="path"),
                pool=dict(type="str"),
                volume=dict(type="str"),
                device=dict(type="str", choices=["disk", "cdrom"]),
                bus=dict(type="str", choices=["virtio", "sata", "scsi", "ide", "usb"]),
                format=dict(type="str", choices=["raw", "qcow2"]),
                readonly=dict(type="bool"),
                boot_order=dict(type="int"),
                target=dict(type="str"),
            ), mutually_exclusive=[("path", "pool"), ("path", "volume")],
                required_together=[("pool", "volume")], required_one_of=[("path", "pool")]),
            interfaces=dict(type="list", elements="dict", aliases=["nics"], options=dict(
                bridge=dict(type="str"),
                network=dict(type="str"),
                model=dict(type="str", choices=["virtio", "e1000", "e1000e", "rtl8139"]),
                mac=dict(type="str"),
            ), mutually_exclusive=[("bridge", "network")], required_one_of=[("bridge", "network")]),
            serial_console=dict(type="bool"),
            graphics=dict(type="str", choices=["none", "vnc"]),
            rng=dict(type="bool"),
            kernel=dict(type="path"),
            initrd=dict(type="path"),
            cmdline=dict(type="str"),
            cloud_init=dict(type="dict", options=dict(
                seed=dict(type="path"),
                user_data=dict(type="raw"),
                meta_data=dict(type="raw"),
                network_config=dict(type="raw"),
                seed_dir=dict(type="path"),
                bus=dict(type="str", choices=["sata", "scsi", "ide"]),
            ), mutually_exclusive=[("seed", "user_data"), ("seed", "meta_data"), ("seed", "network_config")],
                required_one_of=[("seed", "user_data", "meta_data")]),
            autostart=dict(type="bool"),
            timeout=dict(type="int", default=120),
            force_after_timeout=dict(type="bool", default=False),
            detach_timeout=dict(type="int", default=10),
            remove_storage=dict(type="bool", default=False),
            kvm_probe_cache=dict(type="path", default=PROBE_CACHE),
        ),
        mutually_exclusive=[("xml", key) for key in STRUCTURED],
        required_one_of=[("name", "xml")],
        required_if=[("cpu_mode", "custom", ["cpu_model"])],
        supports_check_mode=True,
    )
    require_binding(module)
    guest = QemuGuest(module)
    try:
        result = guest.run()
    except GuestError as exc:
        for warning in guest.warnings:
            module.warn(warning)
        module.fail_json(msg=exc.msg, changed=guest.made_changes, **exc.details)
    except Exception as exc:  # a libvirt call outside the wrapped ones: report it, not a traceback
        if not is_libvirt_error(exc):
            raise
        module.fail_json(msg="libvirt error: %s" % exc, changed=guest.made_changes)
    for warning in guest.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
