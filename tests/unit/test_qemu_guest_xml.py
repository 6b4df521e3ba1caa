"""Unit tests for module_utils/domain_xml.py: validation, XML compilation, reading libvirt's XML back,
diffing on user-set fields only, in-place edits of an existing guest, what a running guest lacks of its
persistent configuration (and which of it can be applied live), and the raw-XML comparison.

LIBVIRT_INACTIVE is real ``virsh dumpxml --inactive`` output of libvirt 9.0.0 (Debian 12) for a guest
that qemu_guest defined on the development machine, so the tests see libvirt's filled-in defaults
(addresses, controllers, emulator, machine canonical name) exactly as the module meets them.
"""
import xml.etree.ElementTree as ET

import pytest

from ansible.module_utils.domain_xml import (
    DomainEditor,
    SpecError,
    build_spec,
    config_differs,
    default_cdrom_bus,
    live_ops,
    match_nics,
    memory_text,
    normalize_mac,
    parse_domain,
    parse_memory,
    pending_changes,
    project,
    seed_path_of,
    skeleton,
    target_name,
    to_text,
    user_view_keys,
    validate_name,
    view,
    with_new_guest_defaults,
    xml_subset,
)

LIBVIRT_INACTIVE = """<domain type='qemu'>
  <name>ostk-test-qg-sample</name>
  <uuid>a6c4cdd5-c987-4279-90fd-cbd22ef5607c</uuid>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='maximum' check='none'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/tmp/ostk-test-qgdev/d1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <interface type='bridge'>
      <mac address='52:54:00:00:00:11'/>
      <source bridge='ostk-tqgbr'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </rng>
  </devices>
</domain>
"""
DISK = "/var/tmp/ostk-test-qgdev/d1.qcow2"


def params(**kw):
    base = {"name": "ostk-test-qg-sample"}
    base.update(kw)
    return base


def compile_new(spec, resolved=None):
    """What the module defines for a guest that does not exist yet (virt_type/cpu_mode already resolved)."""
    full = with_new_guest_defaults(spec)
    full["virt_type"] = "qemu" if full["virt_type"] == "auto" else full["virt_type"]
    full["cpu_mode"] = "maximum" if full["cpu_mode"] == "auto" else full["cpu_mode"]
    root = skeleton(spec["name"])
    before, after = view(full, None)
    DomainEditor(root, full, resolved or {"disks": []}).apply(parse_domain(skeleton(spec["name"])), before, after)
    return root


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("value,kib", [
    (512, 512 * 1024), ("512", 512 * 1024), ("512M", 512 * 1024), ("512MiB", 512 * 1024),
    ("2G", 2 * 1024 * 1024), ("2 GiB", 2 * 1024 * 1024), ("1.5G", 1536 * 1024), ("65536K", 65536),
    ("1T", 1024 ** 3), ("2GB", 1953125),
])
def test_parse_memory_units(value, kib):
    assert parse_memory(value) == kib


@pytest.mark.parametrize("value,words", [
    ("lots", "is not a size"), ("12M", "below the minimum"), (True, "must be a size"),
    ("17T", "above the maximum"), ("-5M", "is not a size"), ("1.0000001M", "whole number"),
])
def test_parse_memory_rejects(value, words):
    with pytest.raises(SpecError, match=words):
        parse_memory(value)


@pytest.mark.parametrize("name", ["web1", "ostk-test-qg-a.b_c+1", "A" * 64])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-web", "web/1", "web 1", "a" * 65, "émile", None])
def test_invalid_names(name):
    with pytest.raises(SpecError, match="invalid guest name"):
        validate_name(name)


def test_mac_is_normalised_and_unicast_checked():
    assert normalize_mac("52-54-00-AA-bb-01") == "52:54:00:aa:bb:01"
    with pytest.raises(SpecError, match="multicast"):
        normalize_mac("01:00:5e:00:00:01")
    with pytest.raises(SpecError, match="six hex pairs"):
        normalize_mac("52:54:00:aa:bb")


def test_target_names_follow_libvirt():
    assert [target_name("vd", i) for i in (0, 1, 25, 26, 27)] == ["vda", "vdb", "vdz", "vdaa", "vdab"]


def test_cdrom_bus_depends_on_machine():
    assert default_cdrom_bus("pc-q35-7.2") == "sata"
    assert default_cdrom_bus("q35") == "sata"
    assert default_cdrom_bus("pc-i440fx-7.2") == "ide"
    assert default_cdrom_bus(None) == "ide"


def test_spec_keeps_only_what_was_given():
    spec = build_spec(params(memory="256M", disks=None, interfaces=None, vcpus=None))
    assert spec == {"name": "ostk-test-qg-sample", "memory_kib": 262144}


@pytest.mark.parametrize("kw,words", [
    ({"disks": [{"path": "relative.img"}]}, "must be absolute"),
    ({"disks": [{"path": "/a.img", "pool": "p", "volume": "v"}]}, "not both"),
    ({"disks": [{"pool": "p"}]}, "give path"),
    ({"disks": [{"path": "/a.iso", "device": "cdrom", "bus": "virtio"}]}, "cdrom cannot be on the virtio bus"),
    ({"disks": [{"path": "/a.img"}, {"path": "/a.img"}]}, "same source"),
    ({"disks": [{"path": "/a.img", "target": "vda"}, {"path": "/b.img", "target": "vda"}]}, "same target"),
    ({"disks": [{"path": "/a.img", "target": "sda", "bus": "virtio"}]}, "does not fit bus"),
    ({"disks": [{"path": "/a.img", "bus": "ide"}], "machine": "q35"}, "no IDE bus"),
    ({"interfaces": [{"bridge": "br0", "network": "default"}]}, "exactly one of bridge"),
    ({"interfaces": [{}]}, "exactly one of bridge"),
    ({"interfaces": [{"bridge": "b", "mac": "52:54:00:00:00:01"}, {"bridge": "c", "mac": "52:54:00:00:00:01"}]},
     "same MAC"),
    ({"vcpus": 0}, "between 1 and 512"),
    ({"cpu_mode": "custom"}, "needs cpu_model"),
    ({"cpu_mode": "maximum", "cpu_model": "qemu64"}, "only used with cpu_mode=custom"),
    ({"kernel": "vmlinuz"}, "absolute path"),
    ({"initrd": "/boot/initrd.img"}, "initrd needs kernel"),
    ({"memory": "8M"}, "below the minimum"),
])
def test_spec_validation_errors(kw, words):
    with pytest.raises(SpecError, match=words):
        build_spec(params(**kw))


# --------------------------------------------------------------------------- compiling a new guest

def test_new_guest_compiles_to_complete_xml():
    spec = build_spec(params(memory="128M", vcpus=2, machine="pc-q35-7.2",
                             disks=[{"path": DISK, "boot_order": 1}, {"path": "/srv/x.iso", "device": "cdrom"}],
                             interfaces=[{"bridge": "br0", "mac": "52:54:00:00:00:22"}, {"network": "default"}],
                             kernel="/boot/vmlinuz", initrd="/boot/initrd.img", cmdline="console=ttyS0"))
    root = compile_new(spec, {"disks": [{"format": "qcow2", "bus": "virtio"}, {"format": "raw", "bus": "sata"}]})
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "ostk-test-qg-sample"
    assert root.find("memory").attrib == {"unit": "KiB"} and root.findtext("memory") == "131072"
    assert root.findtext("currentMemory") == "131072"
    assert root.findtext("vcpu") == "2"
    assert root.find("cpu").attrib == {"mode": "maximum", "check": "none"}
    assert root.find("os/type").get("machine") == "pc-q35-7.2"
    assert [root.findtext("os/" + k) for k in ("kernel", "initrd", "cmdline")] == [
        "/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"]
    assert root.find("os/boot") is None, "per-device boot order excludes <os><boot>"
    disks = root.findall("devices/disk")
    assert [(d.get("device"), d.find("target").get("dev"), d.find("target").get("bus"), d.find("driver").get("type"))
            for d in disks] == [("disk", "vda", "virtio", "qcow2"), ("cdrom", "sda", "sata", "raw")]
    assert disks[0].find("boot").get("order") == "1"
    assert disks[1].find("readonly") is not None
    nics = root.findall("devices/interface")
    assert [(n.get("type"), n.find("source").attrib, n.find("model").get("type")) for n in nics] == [
        ("bridge", {"bridge": "br0"}, "virtio"), ("network", {"network": "default"}, "virtio")]
    assert nics[0].find("mac").get("address") == "52:54:00:00:00:22"
    assert nics[1].find("mac") is None, "libvirt generates the MAC"
    assert root.find("devices/serial") is not None and root.find("devices/console") is not None
    assert root.find("devices/graphics") is None
    assert root.find("devices/rng/backend").text == "/dev/urandom"
    # libvirt's order of the top elements, so the returned XML reads like virsh dumpxml
    assert [el.tag for el in root][:4] == ["name", "memory", "currentMemory", "vcpu"]


def test_new_guest_uefi_vnc_no_console():
    root = compile_new(build_spec(params(firmware="uefi", graphics="vnc", serial_console=False, rng=False)))
    assert root.find("os").get("firmware") == "efi"
    assert root.find("os/firmware/feature").attrib == {"enabled": "no", "name": "secure-boot"}
    graphics = root.find("devices/graphics")
    assert graphics.get("type") == "vnc" and graphics.find("listen").get("address") == "127.0.0.1"
    assert root.find("devices/serial") is None and root.find("devices/rng") is None
    assert root.find("os/boot").get("dev") == "hd"


def test_new_guest_defaults_and_custom_cpu():
    root = compile_new(build_spec(params(cpu_mode="custom", cpu_model="qemu64", virt_type="kvm")))
    assert root.get("type") == "kvm"
    assert root.findtext("memory") == str(1024 * 1024)
    assert root.find("cpu").get("mode") == "custom" and root.findtext("cpu/model") == "qemu64"


def test_compiled_xml_reads_back_as_the_spec():
    spec = build_spec(params(memory="96M", vcpus=3, disks=[{"path": DISK, "readonly": True}],
                             interfaces=[{"bridge": "br0", "model": "e1000", "mac": "52:54:00:00:00:33"}]))
    root = compile_new(spec, {"disks": [{"format": "qcow2", "bus": "sata"}]})
    have = parse_domain(to_text(root))
    full = with_new_guest_defaults(spec)
    full.update(virt_type="qemu", cpu_mode="maximum")
    before, after = view(full, have)
    assert before == after
    assert not config_differs(before, after)


# --------------------------------------------------------------------------- reading libvirt's XML

def test_parse_libvirt_inactive_xml():
    have = parse_domain(LIBVIRT_INACTIVE)
    assert have["uuid"] == "a6c4cdd5-c987-4279-90fd-cbd22ef5607c"
    assert have["memory_kib"] == 65536 and have["vcpus"] == 1
    assert have["virt_type"] == "qemu" and have["cpu_mode"] == "maximum"
    assert have["machine"] == "pc-i440fx-7.2" and have["firmware"] == "bios"
    assert have["disks"] == [{"source": {"file": DISK}, "device": "disk", "bus": "virtio", "target": "vda",
                              "format": "qcow2", "readonly": False, "boot_order": None}]
    assert have["interfaces"] == [{"source": {"bridge": "ostk-tqgbr"}, "mac": "52:54:00:00:00:11",
                                   "model": "virtio", "target": None}]
    assert have["serial_console"] and have["rng"] and have["graphics"] == "none"
    assert have["seed"] is None


# --------------------------------------------------------------------------- diff on user-set fields

def test_view_projects_have_onto_user_fields_only():
    have = parse_domain(LIBVIRT_INACTIVE)
    spec = build_spec(params(memory="64M", disks=[{"path": DISK}], interfaces=[{"bridge": "ostk-tqgbr"}]))
    before, after = view(spec, have)
    # libvirt's filled-in format, bus, target, model and MAC are not the user's fields: no difference
    assert before == after == {"memory": "64 MiB", "disks": [{"path": DISK}], "interfaces": [{"bridge": "ostk-tqgbr"}]}


def test_view_shows_changes_and_removals():
    have = parse_domain(LIBVIRT_INACTIVE)
    spec = build_spec(params(memory="1G", vcpus=1, disks=[{"path": "/srv/new.raw", "bus": "sata"}]))
    before, after = view(spec, have, state=("running", "running"))
    assert before == {"state": "running", "memory": "64 MiB", "vcpus": 1, "disks": [{"path": DISK}]}
    assert after == {"state": "running", "memory": "1 GiB", "vcpus": 1, "disks": [{"path": "/srv/new.raw", "bus": "sata"}]}
    assert config_differs(before, after)


def test_state_alone_is_not_a_config_change():
    assert not config_differs({"state": "shutoff", "memory": "1 GiB"}, {"state": "running", "memory": "1 GiB"})
    assert not config_differs({"autostart": False}, {"autostart": True})


def test_view_of_new_guest():
    spec = build_spec(params(memory=128))
    before, after = view(spec, None, state=("absent", "running"))
    assert before == {"state": "absent"}
    assert after == {"state": "running", "memory": "128 MiB"}


def test_disk_reorder_is_not_a_change():
    xml = LIBVIRT_INACTIVE.replace("</devices>", """<disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='/srv/b.raw'/><target dev='vdb' bus='virtio'/></disk></devices>""")
    have = parse_domain(xml)
    spec = build_spec(params(disks=[{"path": "/srv/b.raw"}, {"path": DISK}]))
    before, after = view(spec, have)
    assert not config_differs(before, after)


def test_match_nics_by_mac_then_position():
    have = [{"mac": "52:54:00:00:00:01", "source": {"bridge": "a"}}, {"mac": "52:54:00:00:00:02", "source": {"bridge": "b"}},
            {"mac": "52:54:00:00:00:03", "source": {"bridge": "c"}}]
    want = [{"source": {"bridge": "x"}}, {"mac": "52:54:00:00:00:03", "source": {"bridge": "c"}},
            {"mac": "52:54:00:00:00:09", "source": {"bridge": "y"}}]
    pairs, extra = match_nics(want, have)
    assert pairs == [(0, 0), (1, 2), (2, None)]
    assert extra == [1]


# --------------------------------------------------------------------------- editing an existing guest

def edit(spec_kw, resolved=None, xml=LIBVIRT_INACTIVE):
    root = ET.fromstring(xml)
    have = parse_domain(root)
    spec = build_spec(params(**spec_kw))
    before, after = view(spec, have)
    editor = DomainEditor(root, spec, resolved or {"disks": [{"format": "raw", "bus": "virtio"}] * 4})
    editor.apply(have, before, after)
    return root, editor


def test_edit_memory_keeps_everything_else():
    root, editor = edit({"memory": "256M"})
    assert root.findtext("memory") == "262144" and root.findtext("currentMemory") == "262144"
    assert editor.changes == ["memory"]
    original = ET.fromstring(LIBVIRT_INACTIVE)
    for path in ("uuid", "devices/disk/address", "devices/interface/mac", "devices/controller", "devices/emulator"):
        assert ET.tostring(root.find(path)) == ET.tostring(original.find(path)), path


def test_edit_disks_add_remove_and_keep_addresses():
    root, _ = edit({"disks": [{"path": DISK}, {"path": "/srv/data.raw"}]})
    disks = root.findall("devices/disk")
    assert [d.find("source").get("file") for d in disks] == [DISK, "/srv/data.raw"]
    assert disks[0].find("address").get("slot") == "0x03", "the kept disk keeps its PCI address"
    assert disks[1].find("target").get("dev") == "vdb" and disks[1].find("address") is None
    root, _ = edit({"disks": [{"path": "/srv/data.raw"}]})
    assert [d.find("source").get("file") for d in root.findall("devices/disk")] == ["/srv/data.raw"]


def test_edit_disk_bus_change_drops_address_and_renames_target():
    root, editor = edit({"disks": [{"path": DISK, "bus": "sata"}]})
    disk = root.find("devices/disk")
    assert disk.find("target").attrib == {"dev": "sda", "bus": "sata"}
    assert disk.find("address") is None
    assert editor.changes == ["disk %s" % DISK]


def test_new_disk_avoids_targets_still_used_by_the_running_guest():
    root, _ = edit({"disks": [{"path": "/srv/data.raw"}]}, resolved={
        "disks": [{"format": "raw", "bus": "virtio"}], "busy_targets": ["vda"]})
    assert root.find("devices/disk/target").get("dev") == "vdb"


def test_readded_disk_gets_its_live_target_back():
    xml = LIBVIRT_INACTIVE.replace(DISK, "/srv/other.raw")
    root, _ = edit({"disks": [{"path": "/srv/other.raw"}, {"path": DISK}]}, xml=xml, resolved={
        "disks": [{"format": "raw", "bus": "virtio"}] * 2, "busy_targets": ["vda", "vdc"],
        "live_targets": {("file", DISK): "vdc"}})
    targets = {d.find("source").get("file"): d.find("target").get("dev") for d in root.findall("devices/disk")}
    assert targets == {"/srv/other.raw": "vda", DISK: "vdc"}


def test_edit_interfaces_switch_bridge_and_add_network():
    root, _ = edit({"interfaces": [{"bridge": "br-new"}, {"network": "default", "model": "e1000"}]})
    nics = root.findall("devices/interface")
    assert nics[0].find("mac").get("address") == "52:54:00:00:00:11", "positional match keeps the MAC"
    assert nics[0].find("source").attrib == {"bridge": "br-new"}
    assert nics[1].get("type") == "network" and nics[1].find("model").get("type") == "e1000"


def test_edit_virt_type_cpu_machine_firmware_kernel():
    spec = {"virt_type": "kvm", "cpu_mode": "host-passthrough", "machine": "pc-q35-7.2", "firmware": "uefi",
            "kernel": "/boot/k", "cmdline": "quiet"}
    root, editor = edit(spec)
    assert root.get("type") == "kvm"
    assert root.find("cpu").get("mode") == "host-passthrough"
    assert root.find("os/type").get("machine") == "pc-q35-7.2"
    assert root.find("os").get("firmware") == "efi"
    assert root.findtext("os/kernel") == "/boot/k"
    assert set(editor.changes) == {"virt_type", "cpu", "machine", "firmware", "kernel", "cmdline"}
    back, _ = edit({"firmware": "bios", "kernel": ""}, xml=to_text(root))
    assert back.find("os").get("firmware") is None and back.find("os/firmware") is None
    assert back.find("os/kernel") is None


def test_seed_is_recorded_and_swapped_in_place():
    root, _ = edit({"cloud_init": {"user_data": "x"}}, resolved={
        "disks": [], "seed": {"path": "/srv/g-seed-aaaaaaaaaaaa.iso", "bus": "ide", "generated": True}})
    assert seed_path_of(root) == "/srv/g-seed-aaaaaaaaaaaa.iso"
    cdrom = [d for d in root.findall("devices/disk") if d.get("device") == "cdrom"]
    assert len(cdrom) == 1 and cdrom[0].find("target").attrib == {"dev": "hda", "bus": "ide"}
    have = parse_domain(root)
    assert have["seed_generated"] and have["disks"] == parse_domain(LIBVIRT_INACTIVE)["disks"]
    # new content: the same cdrom gets the new file, and the guest's disks list still ignores the seed
    spec = build_spec(params(cloud_init={"user_data": "y"}, disks=[{"path": DISK}]))
    before, after = view(spec, have, seed_path="/srv/g-seed-bbbbbbbbbbbb.iso")
    assert before["cloud_init_seed"] != after["cloud_init_seed"] and before["disks"] == after["disks"]
    DomainEditor(root, spec, {"disks": [{"format": "qcow2", "bus": "virtio"}], "seed": {
        "path": "/srv/g-seed-bbbbbbbbbbbb.iso", "bus": "ide", "generated": True}}).apply(have, before, after)
    cdrom = [d for d in root.findall("devices/disk") if d.get("device") == "cdrom"]
    assert len(cdrom) == 1 and cdrom[0].find("source").get("file") == "/srv/g-seed-bbbbbbbbbbbb.iso"
    assert seed_path_of(root) == "/srv/g-seed-bbbbbbbbbbbb.iso"


def test_vcpu_change_drops_mismatched_topology():
    xml = LIBVIRT_INACTIVE.replace("<cpu mode='maximum' check='none'/>",
                                   "<cpu mode='maximum' check='none'><topology sockets='1' cores='1' threads='1'/></cpu>")
    root, _ = edit({"vcpus": 4}, xml=xml)
    assert root.findtext("vcpu") == "4" and root.find("cpu/topology") is None


def test_memory_text():
    assert memory_text(1024 * 1024) == "1 GiB"
    assert memory_text(1536 * 1024) == "1536 MiB"
    assert memory_text(1000) == "1000 KiB"
    assert memory_text(None) is None


# --------------------------------------------------------------------------- raw XML

USER_XML = """<domain type='qemu'><name>ostk-test-qg-sample</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><interface type='bridge'><mac address='52:54:00:00:00:11'/><source bridge='ostk-tqgbr'/></interface>
<disk type='file' device='disk'><source file='/var/tmp/ostk-test-qgdev/d1.qcow2'/></disk></devices></domain>"""
CANON = {"pc": "pc-i440fx-7.2", "q35": "pc-q35-7.2"}.get


def canon(machine):
    return CANON(machine) or machine


def test_raw_xml_subset_ignores_libvirt_additions_units_aliases_case():
    user = ET.fromstring(USER_XML.replace("00:11", "00:11".upper()))
    assert xml_subset(user, ET.fromstring(LIBVIRT_INACTIVE), canon)


@pytest.mark.parametrize("old,new", [
    ("<memory unit='MiB'>64</memory>", "<memory unit='MiB'>80</memory>"),
    ("machine='pc'", "machine='q35'"),
    ("bridge='ostk-tqgbr'", "bridge='br-other'"),
    ("<vcpu>1</vcpu>", "<vcpu>1</vcpu><on_crash>preserve</on_crash>"),
])
def test_raw_xml_differences_are_seen(old, new):
    assert not xml_subset(ET.fromstring(USER_XML.replace(old, new)), ET.fromstring(LIBVIRT_INACTIVE), canon)


def test_raw_xml_projection_shows_only_user_elements_in_user_form():
    user = ET.fromstring(USER_XML.replace("<memory unit='MiB'>64</memory>", "<memory unit='MiB'>80</memory>"))
    shown = to_text(project(user, ET.fromstring(LIBVIRT_INACTIVE), canon))
    assert "address type=" not in shown and "controller" not in shown
    assert '<memory unit="KiB">65536</memory>' in shown       # differs: libvirt's value
    assert 'machine="pc"' in shown                            # same machine: the user's alias
    assert 'bridge="ostk-tqgbr"' in shown


# --------------------------------------------------------------------------- running guest vs config

CFG = """<domain type='qemu'><name>g</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><cpu mode='maximum'/>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/srv/a.qcow2'/>
<target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/seed-new.iso'/>
<target dev='hda' bus='ide'/><readonly/></disk>
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br-new'/><model type='virtio'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/><model type='virtio'/></interface>
<serial type='pty'/></devices></domain>"""
LIVE = """<domain type='qemu' id='3'><name>g</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><cpu mode='maximum'/>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/srv/old.raw' index='2'/>
<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/seed-old.iso' index='1'/>
<target dev='hda' bus='ide'/><readonly/><alias name='ide0-0-0'/></disk>
<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br-old'/><target dev='vnet0'/>
<model type='virtio'/><alias name='net0'/></interface>
<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><target dev='vnet1'/>
<model type='virtio'/><alias name='net1'/></interface>
<serial type='pty'><source path='/dev/pts/3'/></serial></devices></domain>"""


def test_live_ops_attach_detach_update():
    ops = live_ops(ET.fromstring(CFG), ET.fromstring(LIVE))
    summary = [(op, what) for op, what, _ in ops]
    assert summary == [
        ("update", "cdrom hda media"),
        ("detach", "disk /srv/old.raw"),
        ("attach", "disk /srv/a.qcow2"),
        ("update", "interface 52:54:00:00:00:01 source"),
        ("attach", "interface 52:54:00:00:00:03"),
        ("detach", "interface 52:54:00:00:00:02"),
    ]
    by_what = {what: el for _, what, el in ops}
    attach = by_what["disk /srv/a.qcow2"]
    assert attach.find("address") is None, "the live guest may use that slot: libvirt picks one"
    media = by_what["cdrom hda media"]
    assert media.find("source").get("file") == "/srv/seed-new.iso" and media.find("alias") is not None
    nic = by_what["interface 52:54:00:00:00:01 source"]
    assert nic.find("source").get("bridge") == "br-new" and nic.find("target").get("dev") == "vnet0"


def test_no_live_ops_when_in_line():
    assert live_ops(ET.fromstring(CFG), ET.fromstring(CFG)) == []


def test_pending_changes_name_what_needs_a_restart():
    pending = pending_changes(parse_domain(CFG), parse_domain(LIVE))
    assert pending == ["memory_kib"]
    same = pending_changes(parse_domain(CFG), parse_domain(CFG))
    assert same == []
    cfg = parse_domain(CFG.replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>").replace("type='qcow2'", "type='raw'"))
    live = parse_domain(CFG)
    assert pending_changes(cfg, live) == ["vcpus", "disk /srv/a.qcow2 format"]


def test_diff_keys_are_the_users():
    spec = {"name": "g", "memory_kib": 1, "disks": [], "cloud_init": {}, "autostart": True, "virt_type": "auto"}
    assert user_view_keys(spec) == {"memory", "disks", "cloud_init_seed", "autostart", "virt_type"}
