# -*- coding: utf-8 -*-
"""Does KVM really run guests on this host? The logic of the kvm_probe module, also used by qemu_guest
for ``virt_type=auto``. Unit-tested in tests/unit/test_kvm_probe.py.

- ``probe_payload``: a 246-byte multiboot image that switches to long mode, runs a 20M-iteration loop,
  writes 32 MiB and exits QEMU through isa-debug-exit;
- ``decide_kvm``: KVM is usable only if a KVM run finishes about as fast as a TCG run of the same payload;
- ``KvmProbe``: the result, cached per host, keyed by kernel release, QEMU version, emulator and CPU model;
- ``resolve_virt_type``: qemu_guest's ``virt_type`` from the request, libvirt's capabilities, /dev/kvm
  and (only when all of those allow KVM) the probe;
- ``run_module``: the kvm_probe module (find the emulator, ask it its version, probe).
"""

import datetime
import json
import math
import os
import struct
import tempfile
import time

PROBE_EXIT_CODE = (0x2A << 1) | 1      # isa-debug-exit turns the byte 0x2a into QEMU's exit status 85
PROBE_MARKER = "PLK"                   # printed in 32-bit mode, in long mode, and after the work
PROBE_TIMEOUT = 10                     # seconds a KVM run may take before it counts as not working
PROBE_SLACK = 2.0                      # KVM may be this much slower than TCG and still count as working
PROBE_CACHE = "/var/cache/qemu_guest/kvm-probe.json"
NO_DEV_KVM = "/dev/kvm is missing or not readable and writable"


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
        return "qemu", NO_DEV_KVM, None
    result = probe()
    return ("kvm" if result["usable"] else "qemu"), result["reason"], result


class KvmProbeError(Exception):
    """A failure of the kvm_probe module, reported with fail_json."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def kvm_device_usable(path="/dev/kvm"):
    """Whether /dev/kvm exists and this process may open it read-write."""
    return os.path.exists(path) and os.access(path, os.R_OK | os.W_OK)


def find_emulator(module, emulator):
    """Absolute path of ``emulator`` (a name looked up in the PATH, or a path), None if there is none."""
    if "/" not in emulator:
        return module.get_bin_path(emulator)
    return emulator if os.access(emulator, os.X_OK) else None


def run_module(module):
    """The kvm_probe module: the result to exit with; ``KvmProbeError`` for a failure."""
    p = module.params
    if not kvm_device_usable():
        return {"changed": False, "virt_type": "qemu", "usable": False, "reason": NO_DEV_KVM}
    emulator = p["emulator"] or "qemu-system-x86_64"
    path = find_emulator(module, emulator)
    if not path:
        msg = ("QEMU emulator %r not found: install qemu-system-x86 (Debian) or set emulator to its path" % emulator)
        if module.check_mode:
            return {"changed": False, "virt_type": "qemu", "usable": False, "reason": msg + " (check mode)"}
        raise KvmProbeError(msg)
    rc, out, err = module.run_command([path, "--version"])
    if rc != 0:
        raise KvmProbeError("%s --version failed (exit %s): %s; fix the QEMU installation"
                            % (path, rc, (err or out).strip()))
    version = (out.splitlines() or ["unknown"])[0].strip()
    key = probe_key(os.uname().release, version, path, p["cpu"])
    result = KvmProbe(module.run_command, p["cache"], write_cache=not module.check_mode).check(key, path, p["cpu"])
    return {"changed": False, "virt_type": "kvm" if result["usable"] else "qemu", "usable": result["usable"],
            "reason": result["reason"], "probe": result}
