"""Integration tests of library/qemu_guest.py: real ansible-playbook runs against the real libvirtd
of this machine (the session fixture ``libvirtd`` starts it when needed), real TCG guests, real disk
images made with qemu-img, real bridges.

Guests boot no OS (SeaBIOS finds nothing to boot and waits), which is enough to reach and leave every
state in well under a second; the graceful ACPI shutdown of a real OS is exercised by
test_example_guest.py. Every state change runs check -> real -> check (changed / changed /
unchanged) and is then verified with virsh, independently of the module's own reading. All guests
are named ostk-test-qg-*, and every guest, file and bridge a test makes is removed afterwards.

What a test costs is mostly ansible-playbook starts, not guests, so (module_runs.py): check -> real ->
check runs in one ansible-playbook start, and the failures of test_clear_failures_and_nothing_is_created
run in one. Each test has a guest of its own, except the tests of a running guest that leave its
definition alone (a failed update, a shutdown without an OS to answer it): they share one running guest,
made by the module once for this file (``running_guest``, at the end of the file).
"""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from module_runs import OneRunModuleTask

HERE = os.path.dirname(os.path.abspath(__file__))
APPLY = os.path.join(HERE, "playbooks", "qemu_guest_apply.yml")
URI = "qemu:///system"
NVRAM_DIR = "/var/lib/libvirt/qemu/nvram"


# --------------------------------------------------------------------------- helpers

QEMU_GUEST = OneRunModuleTask("qemu_guest", APPLY, "qemu_guest_args")
apply, converge, fails = QEMU_GUEST.apply, QEMU_GUEST.converge, QEMU_GUEST.fails


def virsh(*args, check=True):
    proc = subprocess.run(["virsh", "-c", URI] + list(args), capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def domstate(name):
    proc = subprocess.run(["virsh", "-c", URI, "domstate", name], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "absent"


def dumpxml(name, inactive=True):
    args = ["dumpxml", name] + (["--inactive"] if inactive else [])
    return ET.fromstring(virsh(*args))


def disk_sources(root):
    return [d.find("source").get("file") for d in root.findall("devices/disk") if d.find("source") is not None]


def remove_guest(name):
    if domstate(name) not in ("absent", "shut off"):
        virsh("destroy", name, check=False)
    if domstate(name) != "absent":
        virsh("undefine", name, "--nvram", check=False)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def workdir():
    """A directory libvirt's qemu user can traverse (pytest's tmp_path is 0700 root)."""
    path = "/var/tmp/ostk-test-qg-%d" % os.getpid()
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def image(path, fmt="qcow2", size="32M", backing=None):
    cmd = ["qemu-img", "create", "-q", "-f", fmt]
    if backing:
        cmd += ["-b", backing, "-F", "qcow2"]
    subprocess.run(cmd + [path, size], check=True)
    return path


@pytest.fixture
def guest(libvirtd, request):
    """The name of a guest for this test, removed (with its NVRAM) afterwards whatever happened."""
    name = "ostk-test-qg-" + request.node.name.replace("test_", "")[:40].replace("_", "-").replace("[", "-").rstrip("]")
    remove_guest(name)
    yield name
    remove_guest(name)


@pytest.fixture
def bridges():
    """Two Linux bridges on the host, deleted afterwards."""
    names = ["ostk-tqg%da" % (os.getpid() % 100000), "ostk-tqg%db" % (os.getpid() % 100000)]
    for name in names:
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
    try:
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "link", "del", name], check=False)


# --------------------------------------------------------------------------- states

def test_define_then_run_pause_resume(guest, workdir):
    disk = image(os.path.join(workdir, "root.qcow2"))
    args = {"name": guest, "memory": 64, "disks": [{"path": disk}], "state": "present"}
    first, second, third = converge(args)
    assert first["diff"]["before"] == {"state": "absent"}
    assert first["xml"] == second["xml"] or "<uuid>" in second["xml"]
    assert domstate(guest) == "shut off"
    root = dumpxml(guest)
    assert root.get("type") == second["virt_type"]
    assert root.find("memory").text == "65536"
    assert disk_sources(root) == [disk]
    assert third["uuid"] == virsh("domuuid", guest)

    converge(dict(args, state="running"))
    assert domstate(guest) == "running"

    first, _, _ = converge(dict(args, state="running", autostart=True))
    assert first["diff"]["before"]["autostart"] is False and first["diff"]["after"]["autostart"] is True
    assert "Autostart:      enable" in virsh("dominfo", guest)

    first, _, _ = converge(dict(args, state="paused"))
    assert first["diff"]["before"]["state"] == "running" and first["diff"]["after"]["state"] == "paused"
    assert domstate(guest) == "paused"

    converge(dict(args, state="running"))
    assert domstate(guest) == "running"


def test_paused_from_shutoff_starts_paused(guest):
    converge({"name": guest, "memory": 64, "state": "paused"})
    assert domstate(guest) == "paused"


def test_destroyed_and_absent_keep_or_remove_storage(guest, workdir):
    base = image(os.path.join(workdir, "base.qcow2"))
    overlay = image(os.path.join(workdir, "overlay.qcow2"), backing=base)
    iso = os.path.join(workdir, "install.iso")
    shutil.copy(image(os.path.join(workdir, "iso.raw"), fmt="raw", size="1M"), iso)
    shared = image(os.path.join(workdir, "shared.raw"), fmt="raw", size="1M")
    disks = [{"path": overlay}, {"path": iso, "device": "cdrom"}, {"path": shared, "readonly": True}]
    apply({"name": guest, "memory": 64, "disks": disks, "state": "running"})
    assert domstate(guest) == "running"

    converge({"name": guest, "state": "destroyed"})
    assert domstate(guest) == "shut off"

    first, second, third = converge({"name": guest, "state": "absent", "remove_storage": True})
    assert first["removed_storage"] == [overlay] == second["removed_storage"]
    assert first["diff"]["after"] == {"state": "absent", "storage": []}
    assert third["removed_storage"] == []
    assert domstate(guest) == "absent"
    assert not os.path.exists(overlay)
    assert all(os.path.exists(p) for p in (base, iso, shared)), "backing files, cdroms and read-only disks stay"


def test_absent_keeps_disks_by_default_and_is_idempotent(guest, workdir):
    disk = image(os.path.join(workdir, "keep.qcow2"))
    apply({"name": guest, "memory": 64, "disks": [{"path": disk}], "state": "running"})
    converge({"name": guest, "state": "absent"})
    assert domstate(guest) == "absent" and os.path.exists(disk)
    # a run after an interrupted removal: the guest is gone, the listed disk is deleted
    converge({"name": guest, "state": "absent", "remove_storage": True, "disks": [{"path": disk}]})
    assert not os.path.exists(disk)


def test_uefi_guest_absent_removes_nvram(guest):
    _, second, _ = converge({"name": guest, "memory": 128, "machine": "q35", "firmware": "uefi",
                              "graphics": "vnc", "state": "running"})
    assert virsh("domdisplay", guest).startswith("vnc://127.0.0.1:"), "VNC listens on loopback only"
    root = dumpxml(guest)
    assert root.find("os").get("firmware") == "efi"
    assert root.find("os/type").get("machine").startswith("pc-q35-")
    nvram = dumpxml(guest, inactive=False).findtext("os/nvram")
    assert nvram and os.path.exists(nvram), "libvirt made the NVRAM file when the guest started"
    converge({"name": guest, "state": "absent"})
    assert domstate(guest) == "absent"
    assert not os.path.exists(nvram)


# --------------------------------------------------------------------------- in-place updates

def test_update_running_guest_in_place(guest, workdir, bridges):
    disk1 = image(os.path.join(workdir, "d1.qcow2"))
    disk2 = image(os.path.join(workdir, "d2.raw"), fmt="raw", size="8M")
    args = {"name": guest, "memory": 64, "vcpus": 1, "disks": [{"path": disk1}],
            "interfaces": [{"bridge": bridges[0]}], "state": "running"}
    converge(args)
    uuid = virsh("domuuid", guest)
    mac = dumpxml(guest).find("devices/interface/mac").get("address")

    # memory: persistent config now, the running guest gets it at its next boot
    first, second, _ = converge(dict(args, memory=96))
    assert first["diff"] == {"before": {"state": "running", "memory": "64 MiB", "vcpus": 1,
                                        "disks": [{"path": disk1}], "interfaces": [{"bridge": bridges[0]}]},
                             "after": {"state": "running", "memory": "96 MiB", "vcpus": 1,
                                       "disks": [{"path": disk1}], "interfaces": [{"bridge": bridges[0]}]}}
    assert first["restart_required"] is True and second["restart_required"] is True
    assert second["changes"] == ["memory"]
    assert dumpxml(guest).find("memory").text == str(96 * 1024)
    assert dumpxml(guest, inactive=False).find("memory").text == str(64 * 1024)
    assert virsh("domuuid", guest) == uuid, "updated in place, not recreated"

    # a second disk and a move to the other bridge: applied live
    args2 = dict(args, memory=96, disks=[{"path": disk1}, {"path": disk2}], interfaces=[{"bridge": bridges[1]}])
    first, second, third = converge(args2)
    assert first["diff"]["after"]["disks"] == [{"path": disk1}, {"path": disk2}]
    assert "format" not in json.dumps(first["diff"]), "libvirt's filled-in fields are not in the diff"
    assert second["live_changes"] == ["attach disk %s" % disk2, "update interface %s source" % mac]
    live = dumpxml(guest, inactive=False)
    assert disk_sources(live) == [disk1, disk2]
    assert live.find("devices/interface/source").get("bridge") == bridges[1]
    assert live.find("devices/interface/mac").get("address") == mac
    assert third["restart_required"] is True, "memory is still pending"
    assert third["macs"] == [mac] and third["interfaces"][0]["target"].startswith("vnet")

    # after a restart nothing is pending any more
    apply({"name": guest, "state": "destroyed"})
    _, back, _ = converge({"name": guest, "state": "running"})
    assert back["restart_required"] is False
    assert dumpxml(guest, inactive=False).find("memory").text == str(96 * 1024)


def test_detach_reports_restart_required_truthfully(guest, workdir):
    """Hot-unplug needs the guest's cooperation, which a guest without an OS may or may not give in
    time (it depends on how far its firmware got): restart_required must match what libvirt shows."""
    disk1 = image(os.path.join(workdir, "a.qcow2"))
    disk2 = image(os.path.join(workdir, "b.qcow2"))
    args = {"name": guest, "memory": 64, "disks": [{"path": disk1}, {"path": disk2}], "state": "running"}
    apply(args)
    _, second = apply(dict(args, disks=[{"path": disk1}], detach_timeout=1))
    assert second["changed"] is True
    assert second["live_changes"] == ["detach disk %s" % disk2]
    still_plugged = disk2 in disk_sources(dumpxml(guest, inactive=False))
    assert second["restart_required"] is still_plugged
    assert disk_sources(dumpxml(guest)) == [disk1]
    assert os.path.exists(disk2), "a disk taken off the guest is kept"
    _, third = apply(dict(args, disks=[{"path": disk1}]), check=True)
    assert third["changed"] is False and third["restart_required"] is still_plugged


def test_cloud_init_inline_seed_changes_with_content(guest, workdir):
    disk = image(os.path.join(workdir, "root.qcow2"))
    ci = {"meta_data": {"instance-id": "one", "local-hostname": "g1"}, "user_data": {"runcmd": [["true"]]}}
    args = {"name": guest, "memory": 64, "disks": [{"path": disk}], "cloud_init": ci, "state": "running"}
    first, second, third = converge(args)
    seed = second["cloud_init_seed"]
    assert first["cloud_init_seed"] == seed == third["cloud_init_seed"]
    assert os.path.dirname(seed) == workdir and os.path.basename(seed).startswith(guest + "-seed-")
    with open(seed, "rb") as handle:
        handle.seek(16 * 2048 + 40)
        assert handle.read(6) == b"cidata"
    cdroms = [d for d in dumpxml(guest).findall("devices/disk") if d.get("device") == "cdrom"]
    assert [c.find("source").get("file") for c in cdroms] == [seed]
    assert cdroms[0].find("target").get("bus") == "ide"

    # new content: a new seed, swapped into the running guest, the old one removed
    args2 = dict(args, cloud_init=dict(ci, meta_data={"instance-id": "two", "local-hostname": "g1"}))
    first, second, third = converge(args2)
    new_seed = second["cloud_init_seed"]
    assert new_seed != seed and first["diff"]["before"]["cloud_init_seed"] == seed
    assert second["live_changes"] == ["update cdrom hda media"]
    assert second["restart_required"] is False
    live_cdrom = [d for d in dumpxml(guest, inactive=False).findall("devices/disk") if d.get("device") == "cdrom"]
    assert live_cdrom[0].find("source").get("file") == new_seed
    assert os.path.exists(new_seed) and not os.path.exists(seed)
    assert disk_sources(dumpxml(guest)) == [disk, new_seed]

    converge({"name": guest, "state": "absent", "remove_storage": True})
    assert not os.path.exists(new_seed) and not os.path.exists(disk)


def test_raw_xml_escape_hatch(guest, bridges):
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><console type='pty'/>"
           "<interface type='bridge'><mac address='52:54:00:AB:CD:01'/><source bridge='%s'/></interface>"
           "</devices></domain>") % (guest, bridges[0])
    converge({"xml": xml, "state": "running"})
    assert domstate(guest) == "running"
    uuid = virsh("domuuid", guest)
    first, second, _ = converge({"xml": xml.replace(">64<", ">80<"), "state": "running"})
    assert "<memory unit=\"KiB\">65536</memory>" in first["diff"]["before"]["xml"]
    assert "<memory unit=\"MiB\">80</memory>" in first["diff"]["after"]["xml"]
    assert "controller" not in first["diff"]["before"]["xml"], "the diff shows the user's elements only"
    assert second["restart_required"] is True
    assert virsh("domuuid", guest) == uuid
    assert dumpxml(guest).find("memory").text == str(80 * 1024)


def test_virt_type_auto_runs_the_probe_and_caches_it(guest, workdir):
    cache = os.path.join(workdir, "kvm-probe.json")
    args = {"name": guest, "memory": 64, "virt_type": "auto", "kvm_probe_cache": cache}
    _, checked = apply(args, check=True)
    assert not os.path.exists(cache), "check mode writes no cache"
    _, defined = apply(args)
    probe = defined["kvm_probe"]
    assert probe["cached"] is False
    assert probe["tcg"]["ok"] is True, "the TCG reference run of the payload must work on any host"
    assert defined["virt_type"] == ("kvm" if probe["usable"] else "qemu") == dumpxml(guest).get("type")
    assert defined["virt_type_reason"] == probe["reason"]
    with open(cache) as handle:
        stored = json.load(handle)["entries"]
    assert list(stored) == [probe["key"]] and os.uname().release in probe["key"]
    _, again = apply(args, check=True)
    assert again["changed"] is False and again["kvm_probe"]["cached"] is True
    if os.path.exists("/dev/kvm") and "kvm" in virsh("capabilities") and not probe["usable"]:
        # the lab machines: libvirt lists kvm, /dev/kvm exists, and still the guest is TCG
        assert "KVM" in probe["reason"]


@pytest.fixture
def pool(libvirtd, workdir):
    """A libvirt dir pool in the work directory, with a qcow2 volume; removed afterwards."""
    name = "ostk-test-qg-pool-%d" % os.getpid()
    target = os.path.join(workdir, "pool")
    os.makedirs(target)
    virsh("pool-create-as", name, "dir", "--target", target)
    virsh("vol-create-as", name, "data.qcow2", "16M", "--format", "qcow2")
    try:
        yield name, target
    finally:
        virsh("pool-destroy", name, check=False)


def test_pool_volume_disk_and_removal_through_libvirt(guest, pool):
    name, target = pool
    args = {"name": guest, "memory": 64, "disks": [{"pool": name, "volume": "data.qcow2"}], "state": "running"}
    first, _, _ = converge(args)
    assert first["diff"]["after"]["disks"] == [{"pool": name, "volume": "data.qcow2"}]
    disk = dumpxml(guest).find("devices/disk")
    assert disk.get("type") == "volume" and disk.find("source").attrib == {"pool": name, "volume": "data.qcow2"}
    assert disk.find("driver").get("type") == "qcow2", "format read from the volume"
    assert domstate(guest) == "running"
    assert "Capacity:       16777216" in virsh("domblkinfo", guest, "vda"), "the running guest has the volume open"
    assert os.path.exists(os.path.join(target, "data.qcow2"))
    first, _, _ = converge({"name": guest, "state": "absent", "remove_storage": True})
    assert first["removed_storage"] == ["%s/data.qcow2" % name]
    assert "data.qcow2" not in virsh("vol-list", name)


def test_libvirt_network_nic(guest):
    """Uses libvirt's 'default' network without starting it (starting it would touch the host's firewall)."""
    if subprocess.run(["virsh", "-c", URI, "net-info", "default"], capture_output=True).returncode != 0:
        pytest.skip("libvirt has no 'default' network on this host")
    active = "Active:         yes" in virsh("net-info", "default")
    args = {"name": guest, "memory": 64, "interfaces": [{"network": "default", "model": "e1000",
                                                          "mac": "52:54:00:0a:0b:0c"}], "state": "present"}
    _, second, _ = converge(args)
    assert second["macs"] == ["52:54:00:0a:0b:0c"]
    nic = dumpxml(guest).find("devices/interface")
    assert nic.get("type") == "network" and nic.find("source").get("network") == "default"
    assert nic.find("model").get("type") == "e1000"
    if not active:
        res = fails(dict(args, state="running"))
        assert "libvirt network default is not active" in res["msg"] and "virsh net-start default" in res["msg"]
        assert domstate(guest) == "shut off"


# --------------------------------------------------------------------------- failures change nothing

def test_clear_failures_and_nothing_is_created(guest, workdir, bridges):
    disk = image(os.path.join(workdir, "ok.qcow2"))
    orphan = image(os.path.join(workdir, "orphan.qcow2"), backing=image(os.path.join(workdir, "gone.qcow2")))
    os.unlink(os.path.join(workdir, "gone.qcow2"))
    base = {"name": guest, "memory": 64, "disks": [{"path": disk}], "interfaces": [{"bridge": bridges[0]}],
            "state": "running"}
    cases = [
        ({"interfaces": [{"bridge": "ostk-nosuchbr"}]}, "bridge ostk-nosuchbr does not exist"),
        ({"interfaces": [{"bridge": "lo"}]}, "is not a Linux bridge"),
        ({"disks": [{"path": os.path.join(workdir, "missing.qcow2")}]}, "does not exist"),
        ({"disks": [{"path": orphan}]}, "missing backing file"),
        ({"disks": [{"path": disk, "format": "raw"}]}, "format raw was given, but"),
        ({"disks": [{"pool": "ostk-no-such-pool", "volume": "v"}]}, "storage pool ostk-no-such-pool does not exist"),
        ({"interfaces": [{"network": "ostk-no-such-net"}]}, "libvirt network ostk-no-such-net does not exist"),
        ({"memory": "10M"}, "below the minimum"),
        ({"memory": "lots"}, "is not a size"),
        ({"machine": "pc-nonsense-1.0"}, "is not supported"),
        ({"uri": "qemu:///system?socket=/nonexistent/libvirt-sock"}, "virtlogd -d && libvirtd -d"),
    ]
    cases = [(dict(base, **extra), words) for extra, words in cases] + [
        ({"name": "bad/name", "memory": 64}, "invalid guest name"),
        ({"uri": "qemu:///system?socket=/nonexistent/libvirt-sock", "name": guest},
         "qemu:///system?socket=/nonexistent/libvirt-sock"),
    ]
    # Every case is a run of its own, all in one ansible-playbook start (module_runs.fail_each); check mode
    # validates through the same code and is run for the first four cases to keep the test short.
    checked, real = QEMU_GUEST.fail_each([args for args, _ in cases], check_cases=[args for args, _ in cases[:4]])
    for (args, words), res in list(zip(cases[:4], checked)) + list(zip(cases, real)):
        assert words in res["msg"], (args, res["msg"])
        assert res["changed"] is False, args
    # No case removes a guest, so one that had made the guest would have left it defined.
    assert domstate(guest) == "absent"


def test_missing_libvirt_binding_is_named(guest):
    """Run the module with the virtualenv's python, which has no libvirt binding."""
    import sys
    res = fails({"name": guest, "memory": 64}, extra={"ansible_python_interpreter": sys.executable})
    assert "libvirt-python (Debian: python3-libvirt)" in res["msg"]


# --------------------------------------------------------------------------- one running guest, shared

@pytest.fixture(scope="module")
def shared_guest(libvirtd):
    """A running guest (a qcow2 disk, a NIC on a bridge of its own) made once by the module for the tests
    below, with its arguments and persistent XML; removed, with its disk and bridge, after this file's tests.
    Its files and bridge are not the per-test ``workdir`` and ``bridges``, which go after every test."""
    name = "ostk-test-qg-shared"
    directory = "/var/tmp/ostk-test-qg-shared-%d" % os.getpid()
    bridge = "ostk-tqg%ds" % (os.getpid() % 100000)
    remove_guest(name)
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        args = {"name": name, "memory": 64, "disks": [{"path": image(os.path.join(directory, "root.qcow2"))}],
                "interfaces": [{"bridge": bridge}], "state": "running"}
        _, made = apply(args)
        assert made["changed"] and domstate(name) == "running", made
        yield args, virsh("dumpxml", "--inactive", name)
    finally:
        remove_guest(name)
        subprocess.run(["ip", "link", "del", bridge], check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def running_guest(shared_guest):
    """The shared guest, running, as the module defined it; yields the arguments it was made with.

    A test may leave it shut off or paused (the next test that uses it starts it again: a guest without an
    OS has nothing to lose), but must not change its definition, which is checked before and after."""
    args, xml = shared_guest
    name = args["name"]
    assert virsh("dumpxml", "--inactive", name) == xml, "an earlier test changed the shared guest's definition"
    if domstate(name) != "running":
        if domstate(name) != "shut off":
            virsh("destroy", name)
        virsh("start", name)
    assert domstate(name) == "running"
    yield args
    assert virsh("dumpxml", "--inactive", name) == xml, "the test changed the shared guest's definition"


def test_failed_update_leaves_the_running_guest_alone(running_guest, workdir):
    guest = running_guest["name"]
    before = virsh("dumpxml", "--inactive", guest)
    args = dict(running_guest, disks=running_guest["disks"] + [{"path": os.path.join(workdir, "nope.raw")}])
    res = fails(args)
    assert "does not exist" in res["msg"]
    assert domstate(guest) == "running" and virsh("dumpxml", "--inactive", guest) == before


def test_shutdown_waits_fails_without_force_and_forces_after_timeout(running_guest):
    guest = running_guest["name"]
    # No OS answers the ACPI power button: without force_after_timeout the task fails, the guest stays up.
    res = fails({"name": guest, "state": "shutdown", "timeout": 1})
    assert "did not shut down within 1s" in res["msg"] and "force_after_timeout" in res["msg"]
    assert res["changed"] is False
    assert domstate(guest) == "running", "a failed shutdown must not power the guest off"
    args = {"name": guest, "state": "shutdown", "timeout": 1, "force_after_timeout": True}
    _, second, _ = converge(args)
    assert second["forced"] is True and second["state"] == "shutoff"
    assert domstate(guest) == "shut off"
