# -*- coding: utf-8 -*-
"""The qemu_guest module's logic: resolve want against the host, read have, plan, apply.

library/qemu_guest.py is a thin shell around ``QemuGuest``, the guest's state machine: it resolves
the options against the host, reads the guest's configuration, plans the definition, the live device
changes and the state transitions (``plan_state``), and applies them outside check mode. Pieces that
need no libvirt are unit-tested in tests/unit/test_qemu_guest.py.

Its parts live by concern:
- module_utils/domain_xml.py: domain XML compiled, read and compared, including what a running guest
  lacks of its persistent configuration (``pending_changes``, ``live_ops``);
- module_utils/kvm_probe.py: whether KVM really runs guests (``virt_type=auto``);
- module_utils/libvirt_common.py: the connection, libvirt's errors and flags, domain lookup, states and
  addresses, the host's capabilities (shared with the other libvirt modules);
- module_utils/cloud_init_seed.py: the seeds.
"""

import copy
import json
import os
import time
import xml.etree.ElementTree as ET

from ansible.module_utils import cloud_init_seed as seeds
from ansible.module_utils.domain_xml import (
    DomainEditor, SpecError, build_spec, config_differs, default_cdrom_bus, device_xml, live_ops, parse_disk,
    parse_domain, parse_nic, pending_changes, project, seed_path_of, skeleton, source_key, source_text, to_text,
    user_view_keys, validate_name, view, with_new_guest_defaults, xml_subset,
)
from ansible.module_utils.kvm_probe import KvmProbe, kvm_device_usable, probe_key, resolve_virt_type
from ansible.module_utils.libvirt_common import (
    AFFECT_LIVE, ERR_NO_NETWORK, ERR_NO_STORAGE_POOL, ERR_NO_STORAGE_VOL, GuestError, SHUTDOWN_ACPI_POWER_BTN,
    START_PAUSED, UNDEFINE_CHECKPOINTS_METADATA, UNDEFINE_MANAGED_SAVE, UNDEFINE_NVRAM, UNDEFINE_SNAPSHOTS_METADATA,
    XML_INACTIVE, VirtConnectionError, canonical_machine, domain_state, error_code, interface_addresses,
    is_libvirt_error, is_local_uri, lookup_domain, open_connection, parse_caps, wait_for_state,
)

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

        return resolve_virt_type(requested, caps["kvm_listed"], kvm_device_usable(), probe)

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
