"""The test guest image (roles/test_image), for real: the role builds it on this machine
(check mode first, on a cold cache of its own), then the image boots the way Nova boots it
(qemu-system-x86_64, TCG, i440fx + SeaBIOS, virtio disk as a qcow2 overlay, virtio-net NIC)
on a TAP device in a network namespace that the test makes. In that namespace dnsmasq
answers DHCP (router, classless static routes, MTU, like Neutron's DHCP agent) and a small
HTTP server answers the metadata paths on 169.254.169.254. The test asserts the lease, the
console lines, SSH with the generated key and the boot time, then that a re-run and a
check run of the role change nothing.

Network safety: every packet stays in the test's own namespace (the guest's NIC, dnsmasq,
the metadata server and the SSH client all live there); nothing is mocked. The namespace,
the processes and the files are removed at the end, also when a test fails.

The tests run in file order and share one cache, one build and one guest (module scope)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_runner import REPO, run_playbook

PLAYBOOK = "tests/integration/playbooks/test_image.yml"
INVENTORY = os.path.join(REPO, "tests", "integration", "playbooks", "test_image.ini")
METADATA_SERVER = os.path.join(REPO, "tests", "integration", "metadata_server.py")
BUILD_TASK = "test_image : Build the test image (cold, about 10-60 s) - "
FACTS_TASK = "test_image : Return the image as facts"

NS_PREFIX = "ostk-ti-"
TAP = "ti-tap0"
HOST_ADDR = "10.199.7.1"
GUEST_ADDR = "10.199.7.100"
GUEST_MAC = "fa:16:3e:00:07:64"
MTU = 1450
METADATA_ADDR = "169.254.169.254"
GUEST_NAME = "ti-guest"
METADATA_LINE = "ostack-test-image: metadata read, 1 ssh key installed"
READY_PREFIX = "ostack-test-image: login ready: "
BOOT_LIMIT = 60.0
# The guest gets this long before the test gives up on it (slow CI, a loaded machine).
BOOT_TIMEOUT = 180.0


def sh(*cmd, check=False, timeout=60):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{cmd}: rc={proc.returncode} {proc.stdout} {proc.stderr}"
    return proc


def play(cache_dir, check=False, extra=None):
    # A cache and a scratch directory of the test's own: a cold build, and nothing shared.
    extra_vars = {"test_image_cache_dir": str(cache_dir), "test_image_tmp_dir": str(cache_dir.parent / "scratch")}
    extra_vars.update(extra or {})
    start = time.monotonic()
    run = run_playbook(PLAYBOOK, inventory=INVENTORY, check=check, diff=check, extra_vars=extra_vars, timeout=1200)
    run.seconds = time.monotonic() - start
    return run


def build_task(run):
    found = [(n, r) for _, n, r in run.tasks() if n.startswith(BUILD_TASK)]
    assert len(found) == 1, [n for _, n, _ in run.tasks()]
    return found[0][1]


# --- the role: check mode on a cold cache, then a real cold build ---------------------------

@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("test-image")
    yield base / "cache"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def built(cache_dir):
    check = play(cache_dir, check=True)
    assert check.rc == 0 and check.failed_total() == 0, check
    cold = play(cache_dir)
    assert cold.rc == 0 and cold.failed_total() == 0, cold
    facts = cold.result(FACTS_TASK)["ansible_facts"]
    print(f"\ncold build: {cold.seconds:.1f} s (whole playbook), {facts['test_image_size']} bytes, "
          f"{facts['test_image_file']}")
    return {"check": check, "cold": cold, "facts": facts}


def test_bad_variable_is_refused_before_any_change(tmp_path):
    run = play(tmp_path / "cache", extra={"test_image_format": "vmdk"})
    assert run.rc != 0 and run.changed_total() == 0
    assert "test_image_format" in json.dumps(run.data) + run.stderr
    assert not (tmp_path / "cache").exists()


def test_failed_build_leaves_no_image_and_no_scratch(tmp_path):
    run = play(tmp_path / "cache", extra={"test_image_kernel_modules": ["virtio_net", "ostack_no_such_module"]})
    assert run.rc != 0
    result = build_task(run)
    assert result.get("failed") and "no kernel module ostack_no_such_module" in result["stderr"], result
    assert os.listdir(tmp_path / "cache") == []
    assert os.listdir(tmp_path / "scratch") == []


def test_check_mode_on_a_cold_cache_reports_the_build_and_writes_nothing(built, cache_dir):
    check = built["check"]
    assert build_task(check)["changed"] is True
    assert check.changed_total() > 0
    # The check run came first: the real run then found the cache directory missing.
    assert built["cold"].result("test_image : Create the image cache directory")["changed"] is True


def test_cold_build_writes_one_image_and_a_stable_symlink(built, cache_dir):
    cold, facts = built["cold"], built["facts"]
    assert build_task(cold)["changed"] is True
    image = facts["test_image_file"]
    assert facts["test_image_path"] == str(cache_dir / "ostack-test-image.qcow2")
    assert os.path.realpath(facts["test_image_path"]) == image
    assert re.fullmatch(re.escape(str(cache_dir)) + r"/ostack-test-image-[0-9a-f]{12}\.qcow2", image)
    assert sorted(os.listdir(cache_dir)) == sorted([os.path.basename(image), "ostack-test-image.qcow2"])
    info = json.loads(sh("qemu-img", "info", "--output=json", image, check=True).stdout)
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert facts["test_image_disk_format"] == "qcow2"
    assert int(facts["test_image_size"]) == os.path.getsize(image) < 64 * 1024 * 1024
    assert re.fullmatch(r"[0-9a-f]{64}", facts["test_image_sha256"])
    assert facts["test_image_kernel"].startswith("linux-image-")
    # No scratch left behind by the build.
    assert os.listdir(cache_dir.parent / "scratch") == []


# --- the guest: boot it the way Nova does, on a namespace of our own -------------------------

def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_namespace(name):
    for pid in sh("ip", "netns", "pids", name).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    sh("ip", "netns", "del", name)


def _remove_stale_namespaces():
    """Namespaces of earlier runs of this test whose pytest process is gone (a killed run)."""
    for line in sh("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(re.escape(NS_PREFIX) + r"(\d+)", name)
        if m and not _alive(int(m.group(1))):
            _remove_namespace(name)


class Guest:
    """One boot of the image in a namespace of its own; close() removes everything."""

    def __init__(self, image, kernel_version, workdir):
        self.image = image
        self.kernel_version = kernel_version
        self.dir = workdir
        self.ns = f"{NS_PREFIX}{os.getpid()}"
        self.procs = {}
        self.key = str(workdir / "id_ed25519")
        self.console = workdir / "console.log"
        self.leases = workdir / "dnsmasq.leases"
        self.dnsmasq_log = workdir / "dnsmasq.log"
        self.metadata_log = workdir / "metadata.log"
        self.known_hosts = workdir / "known_hosts"
        self.monitor = workdir / "qmp.sock"
        self.seen = {}          # console marker -> seconds after qemu started
        self.stop_watching = threading.Event()
        self.ssh_seconds = None
        self.ssh_output = None

    def nsexec(self, *cmd):
        return ["ip", "netns", "exec", self.ns, *cmd]

    def start_network(self):
        _remove_stale_namespaces()
        sh("ip", "netns", "add", self.ns, check=True)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "tuntap", "add", "dev", TAP, "mode", "tap"],
                    ["ip", "addr", "add", f"{HOST_ADDR}/24", "dev", TAP],
                    ["ip", "addr", "add", f"{METADATA_ADDR}/32", "dev", "lo"],
                    ["ip", "link", "set", TAP, "up"]):
            sh(*self.nsexec(*cmd), check=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ti-test", "-f", self.key, check=True)
        # DHCP only (no DNS: --port=0), bound to the namespace's TAP; options as Neutron's agent
        # sends them: router, classless static routes (metadata host route + default), MTU.
        self.spawn("dnsmasq", self.nsexec(
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            f"--interface={TAP}", "--bind-interfaces", "--no-resolv", "--no-hosts",
            "--user=root", "--group=root", "--dhcp-authoritative", "--log-dhcp",
            f"--log-facility={self.dnsmasq_log}", f"--dhcp-leasefile={self.leases}",
            f"--pid-file={self.dir / 'dnsmasq.pid'}",
            f"--dhcp-range={GUEST_ADDR},{GUEST_ADDR},255.255.255.0,10m",
            f"--dhcp-host={GUEST_MAC},{GUEST_ADDR},{GUEST_NAME}",
            f"--dhcp-option=3,{HOST_ADDR}",
            f"--dhcp-option=121,{METADATA_ADDR}/32,{HOST_ADDR},0.0.0.0/0,{HOST_ADDR}",
            f"--dhcp-option=26,{MTU}"))
        self.spawn("metadata", self.nsexec(
            sys.executable, METADATA_SERVER, METADATA_ADDR, "80", self.key + ".pub", GUEST_NAME,
            str(self.metadata_log)))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listening = sh(*self.nsexec("ss", "-Hltnu")).stdout
            if f"{METADATA_ADDR}:80" in listening and ":67" in listening:
                return
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited: {self.output(name)}"
            time.sleep(0.2)
        raise AssertionError(f"dnsmasq/metadata not listening: {sh(*self.nsexec('ss', '-Hltnu')).stdout}")

    def spawn(self, name, cmd):
        out = open(self.dir / f"{name}.out", "wb")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()

    def output(self, name):
        path = self.dir / f"{name}.out"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def boot(self):
        # Nova's shape: a qcow2 overlay over the Glance image, grown to the flavour's disk size.
        disk = self.dir / "disk.qcow2"
        sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self.image, str(disk), "1G", check=True)
        self.t0 = time.monotonic()
        self.spawn("qemu", self.nsexec(
            "qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-vga", "std", "-no-reboot",
            "-serial", f"file:{self.console}", "-qmp", f"unix:{self.monitor},server=on,wait=off",
            "-drive", f"file={disk},format=qcow2,if=virtio",
            "-netdev", f"tap,id=net0,ifname={TAP},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={GUEST_MAC}",
            "-device", "virtio-balloon-pci"))
        # Note when each boot stage shows on the console, independently of the SSH attempts.
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while not self.stop_watching.wait(0.1):
            self.watch_console()

    def watch_console(self):
        text = self.console.read_text(errors="replace") if self.console.exists() else ""
        now = time.monotonic() - self.t0
        for marker in ("SYSLINUX", "Linux version", "Run /init", "ostack-test-image: boot started",
                       "ostack-test-image: DHCP bound", "ostack-test-image: metadata", READY_PREFIX):
            if marker not in self.seen and marker in text:
                self.seen[marker] = now
        return text

    def ssh(self, *command, timeout=30):
        return sh(*self.nsexec(
            "ssh", "-i", self.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", f"root@{GUEST_ADDR}", *command), timeout=timeout)

    def wait_for_ssh(self):
        """Try SSH as soon as the console says the guest is ready (and, should that line never
        come, every 5 s from 20 s on)."""
        last_try = 15.0
        while True:
            elapsed = time.monotonic() - self.t0
            assert self.procs["qemu"].poll() is None, f"qemu exited: {self.output('qemu')}\n{self.watch_console()[-3000:]}"
            if elapsed > BOOT_TIMEOUT:
                raise AssertionError(f"no SSH after {BOOT_TIMEOUT:.0f} s; console:\n{self.watch_console()[-5000:]}")
            text = self.watch_console()
            if READY_PREFIX in text or elapsed - last_try >= 5:
                last_try = elapsed
                proc = self.ssh("uname -r; hostname; cat /proc/uptime", timeout=20)
                if proc.returncode == 0:
                    self.ssh_seconds = time.monotonic() - self.t0
                    self.ssh_output = proc.stdout
                    self.watch_console()
                    return
            time.sleep(0.25)

    def power_button(self):
        """Press the ACPI power button (what Nova's soft stop does) through qemu's QMP socket."""
        with socket.socket(socket.AF_UNIX) as qmp:
            qmp.settimeout(10)
            qmp.connect(str(self.monitor))
            stream = qmp.makefile("rw", encoding="utf-8")
            assert "QMP" in json.loads(stream.readline())
            for command in ("qmp_capabilities", "system_powerdown"):
                stream.write(json.dumps({"execute": command}) + "\n")
                stream.flush()
                while True:  # skip asynchronous events until the command's reply
                    reply = json.loads(stream.readline())
                    if "return" in reply or "error" in reply:
                        break
                assert reply == {"return": {}}, (command, reply)

    def close(self):
        self.stop_watching.set()
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        _remove_namespace(self.ns)


@pytest.fixture(scope="module")
def guest(built, tmp_path_factory):
    facts = built["facts"]
    kernel_version = re.fullmatch(r"linux-image-(.+)=.*", facts["test_image_kernel"]).group(1)
    workdir = tmp_path_factory.mktemp("test-image-guest")
    g = Guest(facts["test_image_path"], kernel_version, workdir)
    try:
        g.start_network()
        g.boot()
        g.wait_for_ssh()
        print(f"\nboot-to-SSH: {g.ssh_seconds:.1f} s; console markers (s after qemu start): "
              + ", ".join(f"{k!r} {v:.1f}" for k, v in sorted(g.seen.items(), key=lambda kv: kv[1])))
        yield g
    finally:
        g.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_guest_takes_a_dhcp_lease(guest):
    leases = guest.leases.read_text()
    assert f"{GUEST_MAC} {GUEST_ADDR} " in leases, leases
    log = guest.dnsmasq_log.read_text()
    assert re.search(rf"DHCPACK\({TAP}\) {re.escape(GUEST_ADDR)} {GUEST_MAC}", log), log[-3000:]
    console = guest.watch_console()
    assert f"ostack-test-image: DHCP bound: {GUEST_ADDR}/24 on eth0 from {HOST_ADDR}, mtu {MTU}," in console
    assert f"{METADATA_ADDR}/32 via {HOST_ADDR}" in console


def test_console_reports_the_metadata_key_and_login_ready(guest):
    console = guest.watch_console()
    lines = console.splitlines()
    assert METADATA_LINE in lines, console[-5000:]
    assert not [line for line in lines if line.startswith("ostack-test-image: FAILED")], console[-5000:]
    assert f"ostack-test-image: hostname set to {GUEST_NAME}" in lines
    assert [line for line in lines if line.startswith(READY_PREFIX + f"ssh root@{GUEST_ADDR} port 22 ")]
    # The guest read its key from the metadata service in this namespace.
    requests = guest.metadata_log.read_text()
    assert f'{GUEST_ADDR} "GET /latest/meta-data/public-keys/0/openssh-key HTTP/1.1" 200' in requests, requests


def test_ssh_with_the_generated_key_runs_a_command(guest):
    uname, hostname, uptime = guest.ssh_output.splitlines()[:3]
    assert uname == guest.kernel_version
    assert hostname == GUEST_NAME
    proc = guest.ssh("cat /root/.ssh/authorized_keys; cat /sys/class/net/eth0/mtu; ip route")
    assert proc.returncode == 0, proc.stderr
    with open(guest.key + ".pub", encoding="utf-8") as f:
        assert f.read().strip() in proc.stdout
    assert f"\n{MTU}\n" in proc.stdout
    assert f"default via {HOST_ADDR}" in proc.stdout
    # The host key the client pinned is the one the guest printed on its console.
    fingerprint = sh("ssh-keygen", "-l", "-f", str(guest.known_hosts), check=True).stdout.split()[1]
    assert f"ssh-ed25519 {fingerprint}" in guest.watch_console()


def test_boot_to_ssh_is_well_under_a_minute(guest):
    assert guest.ssh_seconds < BOOT_LIMIT, (guest.ssh_seconds, guest.seen)


def test_power_button_powers_the_guest_off(guest):
    guest.power_button()
    qemu = guest.procs["qemu"]
    try:
        rc = qemu.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the guest did not power off; console:\n{guest.watch_console()[-3000:]}") from None
    assert rc == 0, guest.output("qemu")
    console = guest.watch_console()
    assert "ostack-test-image: shutting down" in console and "reboot: Power down" in console, console[-3000:]


def test_everything_the_boot_made_is_removed(guest):
    guest.close()
    assert guest.ns not in sh("ip", "netns", "list").stdout
    for name, proc in guest.procs.items():
        assert proc.poll() is not None, f"{name} still running"


# --- the role again: nothing to do ----------------------------------------------------------

def test_second_run_changes_nothing(built, cache_dir):
    again = play(cache_dir)
    assert again.rc == 0 and again.failed_total() == 0, again
    assert again.changed_total() == 0, again.stats
    assert build_task(again)["changed"] is False
    facts = again.result(FACTS_TASK)["ansible_facts"]
    assert facts["test_image_file"] == built["facts"]["test_image_file"]
    assert facts["test_image_sha256"] == built["facts"]["test_image_sha256"]
    print(f"\ncached run: {again.seconds:.1f} s (whole playbook)")


def test_check_run_changes_nothing(built, cache_dir):
    check = play(cache_dir, check=True)
    assert check.rc == 0 and check.failed_total() == 0, check
    assert check.changed_total() == 0, check.stats
