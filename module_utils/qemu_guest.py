# -*- coding: utf-8 -*-
"""The qemu_guest module's logic: resolve want against the host, read have, plan, apply.

library/qemu_guest.py is a thin shell around ``QemuGuest``. Pieces that need no libvirt are
unit-tested (tests/unit/test_qemu_guest_probe.py, test_qemu_guest_xml.py, test_virt_conn.py):

- the KVM probe: ``probe_payload`` (a 246-byte multiboot image that switches to long mode, runs a
  20M-iteration loop, writes 32 MiB and exits QEMU through isa-debug-exit), ``decide_kvm`` (usable
  only if a KVM run finishes about as fast as a TCG run of the same payload) and ``KvmProbe``
  (result cached per host, keyed by kernel release, QEMU version, emulator and CPU model);
- ``resolve_virt_type``; ``plan_state`` (state transitions); ``pending_changes`` / ``live_ops``
  (what a running guest lacks of its persistent config, and which of it can be applied live).

XML is compiled, read and compared in module_utils/domain_xml.py; seeds come from
module_utils/cloud_init_seed.py; domain plumbing is in module_utils/libvirt_common.py, the connection
in module_utils/virt_conn.py (shared with the other libvirt modules).
"""

import copy
import datetime
import json
import math
import os
import struct
import tempfile
import time
import xml.etree.ElementTree as ET

from ansible.module_utils import cloud_init_seed as seeds
from ansible.module_utils.domain_xml import (
    DomainEditor, SpecError, build_spec, config_differs, default_cdrom_bus, device_xml, parse_disk,
    parse_domain, parse_nic, seed_path_of, skeleton, source_key, source_text, to_text, validate_name, view,
    with_new_guest_defaults, xml_subset, project,
)
from ansible.module_utils.libvirt_common import (
    AFFECT_LIVE, GuestError, SHUTDOWN_ACPI_POWER_BTN, START_PAUSED, UNDEFINE_CHECKPOINTS_METADATA,
    UNDEFINE_MANAGED_SAVE, UNDEFINE_NVRAM, UNDEFINE_SNAPSHOTS_METADATA, XML_INACTIVE, domain_state,
    interface_addresses, is_local_uri, lookup_domain, wait_for_state,
)
from ansible.module_utils.virt_conn import (
    ERR_NO_NETWORK, ERR_NO_STORAGE_POOL, ERR_NO_STORAGE_VOL, VirtConnectionError, error_code, is_libvirt_error,
    open_connection,
)

# --------------------------------------------------------------------------- KVM probe

PROBE_EXIT_CODE = (0x2A << 1) | 1      # isa-debug-exit turns the byte 0x2a into QEMU's exit status 85
PROBE_MARKER = "PLK"                   # printed in 32-bit mode, in long mode, and after the work
PROBE_TIMEOUT = 10                     # seconds a KVM run may take before it counts as not working
PROBE_SLACK = 2.0                      # KVM may be this much slower than TCG and still count as working
PROBE_CACHE = "/var/cache/qemu_guest/kvm-probe.json"


def probe_payload(loops=20000000, touch_mib=32):
    """A multiboot (a.out kludge) image, loaded by QEMU's -kernel at 1 MiB in 32-bit protected mode.

    It prints 'P' on COM1, builds identity page tables (32 x 2 MiB), enables PAE, long mode and
    paging, jumps to a 64-bit segment and prints 'L', counts ``loops`` down, writes ``touch_mib`` MiB
    from 4 MiB on, prints 'K' and writes 0x2a to the isa-debug-exit port 0xf4 (QEMU exits 85).
    On the nested "PVM" KVM of the lab machines, SeaBIOS alone takes seconds and the loop does not end
    within the timeout, while TCG runs the whole payload in well under a second."""
    base, hdr = 0x100000, 32
    c32 = bytearray()

    def i32(*code):
        c32.extend(code)

    i32(0x66, 0xBA, 0xF8, 0x03, 0xB0, ord("P"), 0xEE)                  # mov dx,0x3f8; mov al,'P'; out dx,al
    i32(0xBF); c32.extend(struct.pack("<I", 0x10000))                   # mov edi,0x10000 (page tables)
    i32(0x31, 0xC0, 0xB9); c32.extend(struct.pack("<I", 3 * 1024))      # xor eax,eax; mov ecx,3072
    i32(0xFC, 0xF3, 0xAB)                                               # cld; rep stosd (zero 3 pages)
    i32(0xC7, 0x05); c32.extend(struct.pack("<II", 0x10000, 0x11003))   # PML4[0] = PDPT | P | W
    i32(0xC7, 0x05); c32.extend(struct.pack("<II", 0x11000, 0x12003))   # PDPT[0] = PD | P | W
    i32(0xBF); c32.extend(struct.pack("<I", 0x12000))                   # mov edi,PD
    i32(0xB8); c32.extend(struct.pack("<I", 0x83))                      # mov eax, 0 | PS | W | P
    i32(0xB9); c32.extend(struct.pack("<I", 32))                        # mov ecx,32
    i32(0x89, 0x07, 0x05); c32.extend(struct.pack("<I", 0x200000))     # 1: mov [edi],eax; add eax,2M
    i32(0x83, 0xC7, 0x08, 0xE2, 0xF4)                                   # add edi,8; loop 1b
    i32(0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0)           # cr4 |= PAE
    i32(0xB8); c32.extend(struct.pack("<I", 0x10000)); i32(0x0F, 0x22, 0xD8)  # cr3 = PML4
    i32(0xB9); c32.extend(struct.pack("<I", 0xC0000080))                # ecx = EFER
    i32(0x0F, 0x32, 0x0D); c32.extend(struct.pack("<I", 0x100)); i32(0x0F, 0x30)  # EFER |= LME
    lgdt_at = len(c32)
    i32(0x0F, 0x01, 0x15, 0, 0, 0, 0)                                   # lgdt [gdtr]
    i32(0x0F, 0x20, 0xC0, 0x0D); c32.extend(struct.pack("<I", 0x80000001)); i32(0x0F, 0x22, 0xC0)  # PG | PE
    jmp_at = len(c32)
    i32(0xEA, 0, 0, 0, 0, 0x08, 0x00)                                   # jmp far 0x08:long_mode
    c64 = bytearray()

    def i64(*code):
        c64.extend(code)

    i64(0x66, 0xBA, 0xF8, 0x03, 0xB0, ord("L"), 0xEE)                   # 'L'
    i64(0xB9); c64.extend(struct.pack("<I", loops)); i64(0xFF, 0xC9, 0x75, 0xFC)  # mov ecx,N; 1: dec ecx; jnz 1b
    i64(0xBF); c64.extend(struct.pack("<I", 0x400000))                  # mov edi,4M
    i64(0xB9); c64.extend(struct.pack("<I", touch_mib * 1024 * 1024 // 8))
    i64(0xB8); c64.extend(struct.pack("<I", 0x5A5A5A5A)); i64(0xF3, 0x48, 0xAB)  # rep stosq
    i64(0x66, 0xBA, 0xF8, 0x03, 0xB0, ord("K"), 0xEE, 0xB0, 0x0A, 0xEE)  # 'K\n'
    i64(0x66, 0xBA, 0xF4, 0x00, 0xB0, 0x2A, 0xEE)                       # out 0xf4, 0x2a: QEMU exits 85
    i64(0xF4, 0xEB, 0xFD)                                               # hlt; jmp hlt
    entry = base + hdr
    gdt_off = (hdr + len(c32) + len(c64) + 7) & ~7
    gdt = struct.pack("<QQQ", 0, 0x00209A0000000000, 0x0000920000000000)  # null, 64-bit code, data
    c32[lgdt_at + 3:lgdt_at + 7] = struct.pack("<I", base + gdt_off + len(gdt))
    c32[jmp_at + 1:jmp_at + 5] = struct.pack("<I", entry + len(c32))
    magic, flags = 0x1BADB002, 0x00010000
    header = struct.pack("<8I", magic, flags, (-(magic + flags)) & 0xFFFFFFFF, base, base, 0, 0, entry)
    image = bytearray(header + c32 + c64)
    image += b"\0" * (gdt_off - len(image)) + gdt + struct.pack("<HI", len(gdt) - 1, base + gdt_off)
    return bytes(image)


def probe_command(emulator, accel, payload_path, cpu=None, timeout=PROBE_TIMEOUT):
    cmd = ["timeout", "-k", "2", str(timeout), emulator, "-accel", accel, "-machine", "pc", "-m", "64",
           "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "stdio",
           "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", payload_path]
    if cpu:
        cmd[7:7] = ["-cpu", cpu]
    return cmd


def run_probe(run_command, emulator, accel, payload_path, cpu=None, timeout=PROBE_TIMEOUT, clock=time.monotonic):
    """Run the payload once; {"ok", "rc", "elapsed", "output"}."""
    start = clock()
    rc, out, err = run_command(probe_command(emulator, accel, payload_path, cpu, timeout))
    elapsed = round(clock() - start, 3)
    text = (out or "") + (err or "")
    return {"ok": rc == PROBE_EXIT_CODE and PROBE_MARKER in (out or ""), "rc": rc, "elapsed": elapsed,
            "output": text.strip()[-300:]}


def decide_kvm(kvm, tcg, timeout=PROBE_TIMEOUT, slack=PROBE_SLACK):
    """(usable, reason) from a KVM run and a TCG run of the probe payload.

    KVM counts as usable only when its run completes the payload and is not much slower than TCG:
    a listed-but-broken KVM (nested, emulated, stuck) either never finishes or crawls."""
    if not kvm["ok"]:
        if kvm["rc"] in (124, 137):
            why = "did not finish within %ss" % timeout
        else:
            why = "failed (exit %s: %s)" % (kvm["rc"], kvm["output"][-160:] or "no output")
        ref = " (the same payload under TCG took %.2fs)" % tcg["elapsed"] if tcg and tcg["ok"] else ""
        return False, "a KVM probe guest %s%s: KVM is not usable here" % (why, ref)
    if tcg and tcg["ok"]:
        bound = tcg["elapsed"] + slack
        if kvm["elapsed"] > bound:
            return False, ("a KVM probe guest took %.2fs, TCG %.2fs: KVM is listed but far slower than "
                           "emulation here" % (kvm["elapsed"], tcg["elapsed"]))
        return True, "a KVM probe guest ran in %.2fs (TCG %.2fs)" % (kvm["elapsed"], tcg["elapsed"])
    if kvm["elapsed"] > slack + 1.0:
        return False, "a KVM probe guest took %.2fs and no TCG reference ran: not trusting KVM" % kvm["elapsed"]
    return True, "a KVM probe guest ran in %.2fs" % kvm["elapsed"]


def kvm_timeout(tcg):
    """How long the KVM run may take: it must not be slower than TCG plus the slack anyway, so waiting
    longer than that (plus a second) only delays the verdict."""
    if not tcg["ok"]:
        return PROBE_TIMEOUT
    return int(max(3, min(PROBE_TIMEOUT, math.ceil(tcg["elapsed"] + PROBE_SLACK + 1))))


def probe_key(kernel_release, qemu_version, emulator, cpu):
    return "kernel=%s qemu=%s emulator=%s cpu=%s" % (kernel_release, qemu_version, emulator, cpu or "default")


class KvmProbe:
    """Whether KVM really runs guests on this host, decided by ``decide_kvm`` and cached in a JSON file."""

    def __init__(self, run_command, cache_path=PROBE_CACHE, write_cache=True, now=None):
        self.run_command = run_command
        self.cache_path = cache_path
        self.write_cache = write_cache
        self.now = now or (lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))

    def _load(self):
        try:
            with open(self.cache_path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        entries = data.get("entries") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _store(self, entries):
        directory = os.path.dirname(self.cache_path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kvm-probe.", dir=directory)
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": 1, "entries": entries}, handle, indent=2, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.cache_path)

    def check(self, key, emulator, cpu=None):
        entries = self._load()
        if key in entries and isinstance(entries[key], dict) and "usable" in entries[key]:
            found = dict(entries[key])
            found["cached"] = True
            return found
        fd, payload_path = tempfile.mkstemp(prefix="qemu_guest-probe-", suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(probe_payload())
            tcg = run_probe(self.run_command, emulator, "tcg", payload_path)
            timeout = kvm_timeout(tcg)
            kvm = run_probe(self.run_command, emulator, "kvm", payload_path, cpu=cpu, timeout=timeout)
        finally:
            os.unlink(payload_path)
        usable, reason = decide_kvm(kvm, tcg, timeout)
        result = {"usable": usable, "reason": reason, "key": key, "kvm": kvm, "tcg": tcg, "probed_at": self.now()}
        if self.write_cache:
            entries[key] = result
            try:
                self._store(entries)
            except OSError:
                pass     # a cache that cannot be written only costs a probe next time
        result = dict(result)
        result["cached"] = False
        return result


def resolve_virt_type(requested, kvm_listed, dev_kvm_usable, probe):
    """(virt_type, reason). ``probe`` is called only when everything else allows KVM."""
    if requested in ("kvm", "qemu"):
        return requested, "virt_type=%s was requested" % requested, None
    if not kvm_listed:
        return "qemu", "libvirt lists no kvm domain type for this architecture", None
    if not dev_kvm_usable:
        return "qemu", "/dev/kvm is missing or not readable and writable", None
    result = probe()
    return ("kvm" if result["usable"] else "qemu"), result["reason"], result


# --------------------------------------------------------------------------- states

def plan_state(current, requested):
    """The actions that take a defined guest from ``current`` (a domain_state word) to ``requested``."""
    if requested == "present":
        return []
    if requested == "running":
        return {"running": [], "paused": ["resume"], "shutoff": ["start"], "crashed": ["destroy", "start"],
                "pmsuspended": ["wakeup"], "shutting_down": ["wait_off", "start"]}.get(current, ["start"])
    if requested == "paused":
        return {"running": ["suspend"], "paused": [], "shutoff": ["start_paused"],
                "crashed": ["destroy", "start_paused"], "pmsuspended": ["wakeup", "suspend"],
                "shutting_down": ["wait_off", "start_paused"]}.get(current, ["start_paused"])
    if requested == "shutdown":
        return {"running": ["shutdown"], "paused": ["resume", "shutdown"], "shutoff": [],
                "crashed": ["destroy"], "pmsuspended": ["wakeup", "shutdown"],
                "shutting_down": ["shutdown"]}.get(current, [])
    if requested == "destroyed":
        return [] if current in ("shutoff", "absent") else ["destroy"]
    raise ValueError(requested)


FINAL_STATE = {"running": "running", "paused": "paused", "shutdown": "shutoff", "destroyed": "shutoff"}


# --------------------------------------------------------------------------- running guest vs config

def _disk_id(disk):
    return source_key(disk["source"])


def pending_changes(cfg, live):
    """Names of what the persistent config (``cfg``) has and the running guest (``live``) lacks that
    only a restart brings (both parse_domain results). Device additions/removals that ``live_ops``
    can apply are not listed."""
    pending = []
    for key in ("memory_kib", "vcpus", "virt_type", "machine", "kernel", "initrd", "cmdline",
                "serial_console", "graphics", "rng", "firmware"):
        if cfg.get(key) != live.get(key):
            pending.append(key)
    if cfg.get("cpu_mode") in ("host-passthrough", "maximum", "custom") and (
            cfg.get("cpu_mode") != live.get("cpu_mode") or cfg.get("cpu_model") != live.get("cpu_model")):
        pending.append("cpu")
    live_disks = {_disk_id(d): d for d in live["all_disks"]}
    for disk in cfg["all_disks"]:
        other = live_disks.get(_disk_id(disk))
        if other is None:
            continue
        for key in ("bus", "device", "readonly", "boot_order", "target", "format"):
            if disk.get(key) != other.get(key):
                pending.append("disk %s %s" % (source_text(disk["source"]), key))
    live_nics = {n["mac"]: n for n in live["interfaces"] if n.get("mac")}
    for nic in cfg["interfaces"]:
        other = live_nics.get(nic.get("mac"))
        if other is not None and nic.get("model") != other.get("model"):
            pending.append("interface %s model" % nic.get("mac"))
    return pending


def _for_attach(el):
    """A device of the persistent config, without its address: the running guest may have that slot taken."""
    el = copy.deepcopy(el)
    for addr in el.findall("address"):
        el.remove(addr)
    return el


def _with_source(live_el, cfg_el):
    """The running guest's device with the source (and type) of the configured one, for an update."""
    el = copy.deepcopy(live_el)
    el.set("type", cfg_el.get("type"))
    position = None
    for i, kid in enumerate(list(el)):
        if kid.tag == "source":
            position = i if position is None else position
            el.remove(kid)
    src = cfg_el.find("source")
    if src is not None:
        el.insert(position if position is not None else 0, copy.deepcopy(src))
    return el


def live_ops(cfg_root, live_root):
    """Device operations that bring the running guest's devices in line with the persistent config:
    [(op, description, element)] with op attach (in config only), detach (live only) or update
    (a cdrom's media, an interface's source)."""
    ops = []
    cfg_disks = cfg_root.findall("devices/disk")
    live_disks = live_root.findall("devices/disk")
    cfg_parsed = [parse_disk(el) for el in cfg_disks]
    live_parsed = [parse_disk(el) for el in live_disks]
    live_keys = {_disk_id(d): i for i, d in enumerate(live_parsed)}
    cfg_keys = {_disk_id(d): i for i, d in enumerate(cfg_parsed)}
    unpaired_cfg = [i for i, d in enumerate(cfg_parsed) if _disk_id(d) not in live_keys]
    unpaired_live = [i for i, d in enumerate(live_parsed) if _disk_id(d) not in cfg_keys]
    for ci in list(unpaired_cfg):
        disk = cfg_parsed[ci]
        if disk["device"] != "cdrom":
            continue
        for li in unpaired_live:
            if live_parsed[li]["device"] == "cdrom" and live_parsed[li]["target"] == disk["target"]:
                ops.append(("update", "cdrom %s media" % disk["target"], _with_source(live_disks[li], cfg_disks[ci])))
                unpaired_cfg.remove(ci)
                unpaired_live.remove(li)
                break
    for li in unpaired_live:
        ops.append(("detach", "disk %s" % source_text(live_parsed[li]["source"]), live_disks[li]))
    for ci in unpaired_cfg:
        ops.append(("attach", "disk %s" % source_text(cfg_parsed[ci]["source"]), _for_attach(cfg_disks[ci])))
    cfg_nics = cfg_root.findall("devices/interface")
    live_nics = live_root.findall("devices/interface")
    live_by_mac = {parse_nic(el)["mac"]: el for el in live_nics}
    cfg_macs = set()
    for el in cfg_nics:
        nic = parse_nic(el)
        cfg_macs.add(nic["mac"])
        other = live_by_mac.get(nic["mac"])
        if other is None:
            ops.append(("attach", "interface %s" % nic["mac"], _for_attach(el)))
        elif parse_nic(other)["source"] != nic["source"]:
            ops.append(("update", "interface %s source" % nic["mac"], _with_source(other, el)))
    for mac, el in live_by_mac.items():
        if mac not in cfg_macs:
            ops.append(("detach", "interface %s" % mac, el))
    return ops


def user_view_keys(spec):
    """The keys of ``view`` output that show fields the user set in ``spec``."""
    names = {"memory_kib": "memory", "cloud_init": "cloud_init_seed"}
    return {names.get(key, key) for key in spec if key != "name"}


# --------------------------------------------------------------------------- host checks

def bridge_problem(name, sys_class_net="/sys/class/net"):
    """Why ``name`` cannot be a guest NIC's bridge, or None."""
    base = os.path.join(sys_class_net, name)
    if not os.path.exists(base):
        return ("bridge %s does not exist on the managed host (no %s); create it first, for example with "
                "the linux_bridge module" % (name, base))
    if not os.path.isdir(os.path.join(base, "bridge")):
        return "interface %s exists but is not a Linux bridge (no %s/bridge)" % (name, base)
    return None


def parse_caps(caps_xml, arch="x86_64"):
    """From libvirt's capabilities: emulator, machine aliases, and whether kvm is listed for ``arch``."""
    root = ET.fromstring(caps_xml)
    out = {"emulator": None, "machines": {}, "kvm_listed": False}
    for guest in root.findall("guest"):
        arch_el = guest.find("arch")
        if guest.findtext("os_type") != "hvm" or arch_el is None or arch_el.get("name") != arch:
            continue
        out["emulator"] = arch_el.findtext("emulator")
        for machine in arch_el.iter("machine"):
            name = (machine.text or "").strip()
            if name:
                out["machines"][name] = machine.get("canonical") or name
        out["kvm_listed"] = any(d.get("type") == "kvm" for d in arch_el.findall("domain"))
    return out


def canonical_machine(caps, machine):
    return caps["machines"].get(machine, machine)


# --------------------------------------------------------------------------- the module

RESTART_NOTE = "changes take effect at the guest's next boot"


class QemuGuest:
    """Runs one qemu_guest task. Raises GuestError; never changes anything in check mode."""

    def __init__(self, module, connect=open_connection):
        self.module = module
        self.connect = connect
        self.p = module.params
        self.check = module.check_mode
        self.warnings = []
        self.made_changes = False   # reported with a failure, so a half-done run is not called unchanged
        self.conn = None
        self._caps = None

    # ---- small helpers
    def open(self):
        """Connect to libvirt at ``uri``; an unreachable libvirt is a GuestError like any other failure."""
        try:
            self.conn = self.connect(self.p["uri"])
        except VirtConnectionError as exc:
            raise GuestError(exc.msg, uri=exc.uri)
        return self.conn

    def caps(self):
        if self._caps is None:
            self._caps = parse_caps(self.conn.getCapabilities())
        return self._caps

    def _libvirt(self, what, func, *args):
        try:
            return func(*args)
        except Exception as exc:
            if is_libvirt_error(exc):
                raise GuestError("%s failed: %s" % (what, exc))
            raise

    def _qemu_img_info(self, path):
        qemu_img = self.module.get_bin_path("qemu-img")
        if not qemu_img:
            return None
        rc, out, err = self.module.run_command([qemu_img, "info", "-U", "--output=json", path])
        if rc != 0:
            raise GuestError("qemu-img info %s failed: %s" % (path, (err or out).strip()))
        try:
            return json.loads(out)
        except ValueError:
            raise GuestError("qemu-img info %s printed no JSON: %s" % (path, out[:200]))

    def inspect_file(self, path, where):
        """Format of a disk file; fails when it, or any file of its backing chain, is missing."""
        if not os.path.exists(path):
            raise GuestError("%s: disk file %s does not exist; create it first (for example with the "
                             "qemu_image module)" % (where, path))
        info = self._qemu_img_info(path)
        if info is None:
            return None
        fmt = info.get("format")
        current, depth = info, 0
        while current and depth < 16:
            backing = current.get("full-backing-filename") or current.get("backing-filename")
            if not backing:
                break
            if not backing.startswith("/") and "://" not in backing:
                backing = os.path.join(os.path.dirname(path), backing)
            if "://" not in backing and not os.path.exists(backing):
                raise GuestError("%s: disk %s has a missing backing file %s; restore it, or rebase the "
                                 "image" % (where, path, backing))
            current = self._qemu_img_info(backing) if "://" not in backing else None
            depth += 1
        return fmt

    def inspect_volume(self, pool_name, vol_name, where):
        try:
            pool = self.conn.storagePoolLookupByName(pool_name)
        except Exception as exc:
            if is_libvirt_error(exc) and error_code(exc) == ERR_NO_STORAGE_POOL:
                raise GuestError("%s: storage pool %s does not exist; define it first (for example with the "
                                 "storage_volume module or virsh pool-define)" % (where, pool_name))
            raise
        if not pool.isActive():
            raise GuestError("%s: storage pool %s is not active; start it (virsh pool-start %s)"
                             % (where, pool_name, pool_name))
        try:
            vol = pool.storageVolLookupByName(vol_name)
        except Exception as exc:
            if is_libvirt_error(exc) and error_code(exc) == ERR_NO_STORAGE_VOL:
                raise GuestError("%s: volume %s does not exist in storage pool %s" % (where, vol_name, pool_name))
            raise
        root = ET.fromstring(vol.XMLDesc(0))
        fmt_el = root.find("target/format")
        backing = root.findtext("backingStore/path")
        if backing and not os.path.exists(backing):
            raise GuestError("%s: volume %s/%s has a missing backing file %s" % (where, pool_name, vol_name, backing))
        return fmt_el.get("type") if fmt_el is not None else None

    # ---- want
    def resolve_disks(self, spec, have, machine):
        resolved = []
        have_by_key = {source_key(d["source"]): d for d in (have or {}).get("disks", [])}
        for i, disk in enumerate(spec.get("disks", [])):
            where = "disks[%d]" % i
            if "file" in disk["source"]:
                detected = self.inspect_file(disk["source"]["file"], where)
            else:
                detected = self.inspect_volume(disk["source"]["pool"], disk["source"]["volume"], where)
            if disk.get("format") and detected and disk["format"] != detected and disk.get("device") != "cdrom":
                raise GuestError("%s: format %s was given, but %s is %s; give format: %s or convert the image"
                                 % (where, disk["format"], source_text(disk["source"]), detected, detected))
            fmt = disk.get("format") or detected
            if fmt not in ("raw", "qcow2"):
                if fmt is None:
                    raise GuestError("%s: cannot tell the format of %s (qemu-img is missing): give format"
                                     % (where, source_text(disk["source"])))
                if disk.get("device") == "cdrom" or fmt == "iso":
                    fmt = "raw"
            current = have_by_key.get(source_key(disk["source"]))
            bus = disk.get("bus") or (current or {}).get("bus") or (
                default_cdrom_bus(machine) if disk.get("device") == "cdrom" else "virtio")
            resolved.append({"format": fmt, "bus": bus})
        return resolved

    def check_interfaces(self, spec):
        for i, nic in enumerate(spec.get("interfaces", [])):
            if "bridge" in nic["source"]:
                problem = bridge_problem(nic["source"]["bridge"])
                if problem:
                    raise GuestError("interfaces[%d]: %s" % (i, problem))
                continue
            name = nic["source"]["network"]
            try:
                net = self.conn.networkLookupByName(name)
            except Exception as exc:
                if is_libvirt_error(exc) and error_code(exc) == ERR_NO_NETWORK:
                    raise GuestError("interfaces[%d]: libvirt network %s does not exist (virsh net-list --all)"
                                     % (i, name))
                raise
            if self.p["state"] in ("running", "paused") and not net.isActive():
                raise GuestError("interfaces[%d]: libvirt network %s is not active; start it first "
                                 "(virsh net-start %s)" % (i, name, name))

    def describe_seed(self, spec, have, machine):
        ci = spec["cloud_init"]
        current_bus = ((have or {}).get("seed_disk") or {}).get("bus")
        if ci.get("seed"):
            path = ci["seed"]
            if not os.path.exists(path):
                raise GuestError("cloud_init.seed %s does not exist; build it first (cloud_init_seed module)" % path)
            return None, {"path": path, "bus": ci.get("bus") or current_bus or default_cdrom_bus(machine),
                          "generated": False}
        directory = ci.get("seed_dir")
        if not directory:
            files = [d["source"]["file"] for d in spec.get("disks", []) if "file" in d["source"]]
            directory = os.path.dirname(files[0]) if files else "/var/lib/libvirt/images"
        if not os.path.isdir(directory):
            raise GuestError("cloud_init.seed_dir %s does not exist" % directory)
        try:
            seed = seeds.describe(ci.get("user_data"), ci.get("meta_data"), ci.get("network_config"), None,
                                  directory=directory, name="%s-seed" % spec["name"])
        except seeds.SeedError as exc:
            raise GuestError("cloud_init: %s" % exc.msg)
        return seed, {"path": seed.path, "bus": ci.get("bus") or current_bus or default_cdrom_bus(machine),
                      "generated": True}

    def resolve(self, spec, have):
        """The spec with every 'auto' decided against this host, plus per-disk and seed facts."""
        rspec = with_new_guest_defaults(spec) if have is None else dict(spec)
        info = {}
        if "virt_type" in rspec:
            rspec["virt_type"], info["reason"], info["probe"] = self.resolve_virt_type(rspec["virt_type"], rspec)
        effective = rspec.get("virt_type") or have.get("virt_type")
        if rspec.get("cpu_mode") == "auto":
            rspec["cpu_mode"] = "host-passthrough" if effective == "kvm" else "maximum"
        elif "cpu_mode" not in rspec and have and effective == "qemu" and have.get("cpu_mode") == "host-passthrough":
            rspec["cpu_mode"] = "maximum"
            self.warnings.append("the guest moves to virt_type=qemu, where cpu_mode host-passthrough is not "
                                 "available; its cpu_mode becomes maximum")
        if rspec.get("machine"):
            machines = self.caps()["machines"]
            if machines and rspec["machine"] not in machines:
                raise GuestError("machine %s is not supported by %s; choose one of: %s" % (
                    rspec["machine"], self.caps()["emulator"], ", ".join(sorted(machines)[:40])))
            rspec["machine"] = canonical_machine(self.caps(), rspec["machine"])
        machine = rspec.get("machine") or (have or {}).get("machine") or "pc"
        resolved = {"disks": self.resolve_disks(rspec, have, machine)}
        self.check_interfaces(rspec)
        for key in ("kernel", "initrd"):
            if rspec.get(key) and not os.path.exists(rspec[key]):
                raise GuestError("%s %s does not exist" % (key, rspec[key]))
        seed = None
        if "cloud_init" in rspec:
            seed, resolved["seed"] = self.describe_seed(rspec, have, machine)
        return rspec, resolved, seed, info

    def resolve_virt_type(self, requested, rspec):
        if requested != "auto":
            return resolve_virt_type(requested, None, None, None)
        caps = self.caps()
        cpu_mode = rspec.get("cpu_mode")
        cpu = "host" if cpu_mode in (None, "auto", "host-passthrough") else None

        def probe():
            emulator = caps["emulator"] or self.module.get_bin_path("qemu-system-x86_64") or "qemu-system-x86_64"
            try:
                version = self.conn.getVersion()
            except Exception:
                version = "unknown"
            key = probe_key(os.uname().release, version, emulator, cpu)
            return KvmProbe(self.module.run_command, self.p["kvm_probe_cache"],
                            write_cache=not self.check).check(key, emulator, cpu)

        dev_ok = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
        return resolve_virt_type(requested, caps["kvm_listed"], dev_ok, probe)

    # ---- have
    def read_have(self, dom):
        if dom is None:
            return None, None
        text = self._libvirt("reading the guest's configuration", dom.XMLDesc, XML_INACTIVE)
        root = ET.fromstring(text)
        return root, parse_domain(root)

    # ---- run
    def run(self):
        p = self.p
        raw_root = None
        if p["xml"]:
            try:
                raw_root = ET.fromstring(p["xml"])
            except ET.ParseError as exc:
                raise GuestError("xml is not well-formed: %s" % exc)
            if raw_root.tag != "domain":
                raise GuestError("xml must be a <domain> document, not <%s>" % raw_root.tag)
            name = (raw_root.findtext("name") or "").strip()
            if p["name"] and name and p["name"] != name:
                raise GuestError("name %s differs from the <name> %s in xml" % (p["name"], name))
            name = name or p["name"]
            if not name:
                raise GuestError("xml has no <name> and no name was given")
            try:
                validate_name(name)
            except SpecError as exc:
                raise GuestError(str(exc))
            if raw_root.find("name") is None:
                ET.SubElement(raw_root, "name").text = name
            spec = {"name": name}
        else:
            try:
                spec = build_spec(p)
            except SpecError as exc:
                raise GuestError(str(exc))
        self.open()
        dom = lookup_domain(self.conn, spec["name"])
        if p["state"] == "absent":
            return self.absent(dom, spec)
        if raw_root is not None:
            plan = self.plan_raw(dom, raw_root)
        else:
            plan = self.plan_structured(dom, spec)
        return self.converge(dom, spec, plan)

    def plan_raw(self, dom, raw_root):
        have_root, have = self.read_have(dom)
        canon = lambda m: canonical_machine(self.caps(), m)  # noqa: E731
        want_root = copy.deepcopy(raw_root)
        if have_root is not None and want_root.find("uuid") is None and have.get("uuid"):
            uuid_el = ET.Element("uuid")
            uuid_el.text = have["uuid"]
            want_root.insert(1, uuid_el)
        if have_root is None:
            before, after = {}, {"xml": to_text(raw_root)}
            differs = True
        else:
            differs = not xml_subset(raw_root, have_root, canon)
            before = {"xml": to_text(project(raw_root, have_root, canon))}
            after = {"xml": to_text(raw_root)}
        return {"xml": to_text(want_root) if differs else to_text(have_root), "define": differs,
                "before": before, "after": after, "changes": ["xml"] if differs and have_root is not None else [],
                "seed": None, "info": {}, "spec": None, "new": have_root is None}

    def plan_structured(self, dom, spec):
        have_root, have = self.read_have(dom)
        rspec, resolved, seed, info = self.resolve(spec, have)
        before, after = view(rspec, have, seed_path=(resolved.get("seed") or {}).get("path"))
        new = have is None
        differs = new or config_differs(before, after)
        if differs and domain_state(dom) in ("running", "paused"):
            live_root = ET.fromstring(self._libvirt("reading the running guest", dom.XMLDesc, 0))
            live_disks = [parse_disk(el) for el in live_root.findall("devices/disk")]
            resolved["busy_targets"] = [d["target"] for d in live_disks if d["target"]]
            resolved["live_targets"] = {source_key(d["source"]): d["target"] for d in live_disks if d["target"]}
        if differs:
            root = skeleton(spec["name"]) if new else copy.deepcopy(have_root)
            editor = DomainEditor(root, rspec, resolved)
            editor.apply(have if have is not None else parse_domain(skeleton(spec["name"])), before, after)
            xml_text = to_text(root)
            changes = sorted({k for k in set(before) | set(after) if before.get(k) != after.get(k)})
        else:
            xml_text = to_text(have_root)
            changes = []
        # The diff shows the fields the user set; a new guest's defaults are in the returned xml.
        shown = user_view_keys(spec)
        before = {k: v for k, v in before.items() if k in shown}
        after = {k: v for k, v in after.items() if k in shown}
        return {"xml": xml_text, "define": differs, "before": before, "after": after, "changes": changes,
                "seed": seed, "resolved": resolved, "info": info, "spec": rspec, "new": new}

    def converge(self, dom, spec, plan):
        p = self.p
        current = domain_state(dom)
        actions = plan_state("shutoff" if current == "absent" else current, p["state"])
        seed = plan.get("seed")
        seed_build = seed is not None and not seed.present
        autostart_have = bool(dom.autostart()) if dom is not None else False
        autostart_change = p["autostart"] is not None and p["autostart"] != autostart_have
        changed = plan["define"] or bool(actions) or autostart_change or seed_build
        final_state = FINAL_STATE.get(p["state"], "shutoff" if current == "absent" else current)
        result = {"name": spec["name"], "changed": changed, "xml": plan["xml"], "changes": plan["changes"],
                  "actions": actions, "virt_type": None, "restart_required": False}
        if plan["info"].get("reason"):
            result["virt_type_reason"] = plan["info"]["reason"]
        if plan["info"].get("probe"):
            result["kvm_probe"] = plan["info"]["probe"]
        before = dict(plan["before"], state=current)
        after = dict(plan["after"], state=final_state if actions or current == "absent" else current)
        if p["autostart"] is not None:
            before["autostart"], after["autostart"] = autostart_have, p["autostart"]
        result["diff"] = {"before": before, "after": after}
        stays_up = current in ("running", "paused") and not any(a in ("destroy", "shutdown") for a in actions)

        if self.check:
            result["state"] = after["state"]
            if dom is not None:
                result["uuid"] = dom.UUIDString()
            if stays_up and plan["define"]:
                live_root = ET.fromstring(dom.XMLDesc(0))
                cfg_root = ET.fromstring(plan["xml"])
                result["restart_required"] = bool(pending_changes(parse_domain(cfg_root), parse_domain(live_root)))
            elif stays_up:
                result["restart_required"] = self._pending(dom)
            self._describe(result, ET.fromstring(plan["xml"]), dom if stays_up else None)
            return result

        if seed_build:
            try:
                seeds.write_seed(self.module, seed)
            except seeds.SeedError as exc:
                raise GuestError("cloud_init: %s" % exc.msg)
            self.made_changes = True
        if plan["define"]:
            dom = self._libvirt("defining the guest", self.conn.defineXML, plan["xml"])
            self.made_changes = True
        if autostart_change:
            self._libvirt("setting autostart", dom.setAutostart, 1 if p["autostart"] else 0)
            self.made_changes = True
        if stays_up and plan["define"]:
            self._apply_live(dom, result)
        self._run_actions(dom, actions, result)
        if seed is not None and seed.named_by_content:
            self._prune_seeds(seed)
        state = domain_state(dom)
        result["state"] = state
        result["diff"]["after"]["state"] = state
        result["uuid"] = dom.UUIDString()
        if state in ("running", "paused"):
            result["restart_required"] = self._pending(dom)
        cfg_root = ET.fromstring(dom.XMLDesc(XML_INACTIVE))
        self._describe(result, cfg_root, dom if state in ("running", "paused") else None)
        return result

    def _pending(self, dom):
        """Whether the running guest lacks something of its persistent config: changes that need a boot,
        or device changes that could not be made live (an unplug the guest did not complete)."""
        live_root = ET.fromstring(dom.XMLDesc(0))
        cfg_root = ET.fromstring(dom.XMLDesc(XML_INACTIVE))
        return bool(pending_changes(parse_domain(cfg_root), parse_domain(live_root)) or live_ops(cfg_root, live_root))

    def _apply_live(self, dom, result):
        cfg_root = ET.fromstring(dom.XMLDesc(XML_INACTIVE))
        live_root = ET.fromstring(dom.XMLDesc(0))
        applied = []
        for op, what, el in live_ops(cfg_root, live_root):
            try:
                if op == "attach":
                    dom.attachDeviceFlags(device_xml(el), AFFECT_LIVE)
                elif op == "detach":
                    dom.detachDeviceFlags(device_xml(el), AFFECT_LIVE)
                else:
                    dom.updateDeviceFlags(device_xml(el), AFFECT_LIVE)
                applied.append("%s %s" % (op, what))
                self.made_changes = True
            except Exception as exc:
                if not is_libvirt_error(exc):
                    raise
                self.warnings.append("could not %s %s on the running guest (%s); %s"
                                     % (op, what, exc, RESTART_NOTE))
        if any(a.startswith("detach") for a in applied):
            # Unplugging needs the guest's cooperation: give it a moment, then report what is left.
            deadline = time.monotonic() + self.p["detach_timeout"]
            while time.monotonic() < deadline:
                live_root = ET.fromstring(dom.XMLDesc(0))
                if not [o for o in live_ops(cfg_root, live_root) if o[0] == "detach"]:
                    break
                time.sleep(0.5)
        result["live_changes"] = applied
        left = live_ops(ET.fromstring(dom.XMLDesc(XML_INACTIVE)), ET.fromstring(dom.XMLDesc(0)))
        if left:
            result["restart_required"] = True
            self.warnings.append("the running guest still differs from its configuration (%s); %s"
                                 % (", ".join("%s %s" % (o[0], o[1]) for o in left), RESTART_NOTE))

    def _run_actions(self, dom, actions, result):
        timeout = self.p["timeout"]
        for action in actions:
            # a shutdown the guest ignores changes nothing; _shutdown records it when the state moves
            self.made_changes = self.made_changes or action not in ("shutdown", "wait_off")
            if action == "start":
                self._libvirt("starting the guest", dom.create)
                self._wait(dom, ("running",), timeout, "start")
            elif action == "start_paused":
                self._libvirt("starting the guest paused", dom.createWithFlags, START_PAUSED)
                self._wait(dom, ("paused",), timeout, "start paused")
            elif action == "resume":
                self._libvirt("resuming the guest", dom.resume)
                self._wait(dom, ("running",), timeout, "resume")
            elif action == "suspend":
                self._libvirt("pausing the guest", dom.suspend)
                self._wait(dom, ("paused",), timeout, "pause")
            elif action == "wakeup":
                self._libvirt("waking the guest", dom.pMWakeup, 0)
                self._wait(dom, ("running",), timeout, "wake up")
            elif action == "destroy":
                if domain_state(dom) != "shutoff":
                    self._libvirt("destroying (powering off) the guest", dom.destroy)
                self._wait(dom, ("shutoff",), timeout, "power off")
            elif action == "wait_off":
                self._wait(dom, ("shutoff",), timeout, "finish shutting down")
            elif action == "shutdown":
                self._shutdown(dom, timeout, result)

    def _wait(self, dom, wanted, timeout, what):
        reached, state = wait_for_state(dom, wanted, timeout)
        if not reached:
            raise GuestError("the guest did not %s within %ss (state: %s)" % (what, timeout, state), state=state)

    def _shutdown(self, dom, timeout, result):
        if domain_state(dom) not in ("shutoff", "shutting_down"):
            try:
                dom.shutdownFlags(SHUTDOWN_ACPI_POWER_BTN)
            except Exception as exc:
                if not is_libvirt_error(exc):
                    raise
                if domain_state(dom) != "shutoff":
                    raise GuestError("asking the guest to shut down failed: %s" % exc)
        started = time.monotonic()
        reached, state = wait_for_state(dom, ("shutoff",), timeout)
        result["shutdown_seconds"] = round(time.monotonic() - started, 1)
        if reached:
            self.made_changes = True
            return
        if not self.p["force_after_timeout"]:
            raise GuestError(
                "the guest did not shut down within %ss of the ACPI power button (state: %s); it is left as it "
                "is. Give it longer (timeout), set force_after_timeout=true to power it off after the timeout, "
                "or use state=destroyed" % (timeout, state), state=state)
        self.made_changes = True
        self._libvirt("powering off the guest after the shutdown timeout", dom.destroy)
        self._wait(dom, ("shutoff",), timeout, "power off")
        result["forced"] = True
        self.warnings.append("the guest ignored the ACPI shutdown for %ss and was powered off" % timeout)

    def _prune_seeds(self, seed):
        directory = os.path.dirname(seed.path)
        name = os.path.basename(seed.path)[:-len("-123456789012.iso")]
        in_use = set()
        for dom in self.conn.listAllDomains(0):
            try:
                root = ET.fromstring(dom.XMLDesc(0))
                in_use.update(parse_disk(d)["source"].get("file") for d in root.findall("devices/disk"))
                root = ET.fromstring(dom.XMLDesc(XML_INACTIVE))
                in_use.update(parse_disk(d)["source"].get("file") for d in root.findall("devices/disk"))
            except Exception:
                continue
        for path in seeds.sibling_seeds(directory, name, keep=seed.path):
            if path not in in_use:
                os.unlink(path)

    def _describe(self, result, cfg_root, dom):
        """uuid-independent facts: MACs and interfaces (addresses when the guest runs), the seed."""
        nics = [parse_nic(el) for el in cfg_root.findall("devices/interface")]
        live = {}
        addresses = {}
        if dom is not None and nics:
            live = {n["mac"]: n for n in (parse_nic(el) for el in ET.fromstring(dom.XMLDesc(0)).findall(
                "devices/interface"))}
            addresses = interface_addresses(dom, [n["mac"] for n in nics], is_local_uri(self.p["uri"]))
        result["macs"] = [n["mac"] for n in nics if n["mac"]]
        result["interfaces"] = [{
            "mac": n["mac"], "model": n["model"], "source": n["source"],
            "target": (live.get(n["mac"]) or {}).get("target"),
            "addresses": addresses.get(n["mac"] or "", []),
        } for n in nics]
        result["virt_type"] = cfg_root.get("type")
        seed = seed_path_of(cfg_root)
        if seed:
            result["cloud_init_seed"] = seed

    # ---- absent
    def absent(self, dom, spec):
        p = self.p
        current = domain_state(dom)
        storage = []
        xml_text = None
        if dom is not None:
            root, have = self.read_have(dom)
            xml_text = to_text(root)
            if p["remove_storage"]:
                storage = [d["source"] for d in have["all_disks"]
                           if (d["device"] == "disk" and not d["readonly"])
                           or (have["seed_generated"] and d["source"].get("file") == have["seed"])]
        if p["remove_storage"] and p["disks"]:
            try:
                listed = build_spec(dict(p, state="present"))["disks"] if not p["xml"] else []
            except SpecError as exc:
                raise GuestError(str(exc))
            for disk in listed:
                if disk.get("device", "disk") == "disk" and not disk.get("readonly") and disk["source"] not in storage:
                    storage.append(disk["source"])
        existing = [s for s in storage if self._storage_exists(s)]
        result = {"name": spec["name"], "changed": dom is not None or bool(existing), "state": "absent",
                  "removed_storage": [source_text(s) for s in existing], "restart_required": False,
                  "diff": {"before": {"state": current, "storage": [source_text(s) for s in existing]},
                           "after": {"state": "absent", "storage": []}}}
        if xml_text:
            result["xml"] = xml_text
        if dom is not None:
            result["uuid"] = dom.UUIDString()
        if self.check:
            return result
        if dom is not None:
            self.made_changes = True
            if domain_state(dom) not in ("shutoff", "absent"):
                self._libvirt("destroying the guest", dom.destroy)
            if dom.isPersistent():
                flags = UNDEFINE_MANAGED_SAVE | UNDEFINE_SNAPSHOTS_METADATA | UNDEFINE_NVRAM
                try:
                    dom.undefineFlags(flags | UNDEFINE_CHECKPOINTS_METADATA)
                except Exception as exc:
                    if not is_libvirt_error(exc):
                        raise
                    self._libvirt("undefining the guest", dom.undefineFlags, flags)
        for source in existing:
            self.made_changes = True
            self._remove_storage(source)
        return result

    def _storage_exists(self, source):
        if "file" in source:
            return os.path.exists(source["file"])
        if "pool" in source:
            try:
                self.conn.storagePoolLookupByName(source["pool"]).storageVolLookupByName(source["volume"])
                return True
            except Exception as exc:
                if is_libvirt_error(exc):
                    return False
                raise
        return False

    def _remove_storage(self, source):
        if "file" in source:
            try:
                os.unlink(source["file"])
            except FileNotFoundError:
                pass
        elif "pool" in source:
            vol = self.conn.storagePoolLookupByName(source["pool"]).storageVolLookupByName(source["volume"])
            self._libvirt("deleting volume %s" % source_text(source), vol.delete, 0)
