#!/usr/bin/env python3
"""Wall time of the same pool work done with storage_volume and with community.libvirt.virt_pool.

The work, for N dir pools under a temporary directory (names ostk-test-bench-*):
  up      define + build + start + autostart every pool (cold: nothing exists yet)
  no-op   the same playbook again (everything already as wanted)
  down    stop + undefine every pool
Each phase is one real ansible-playbook run against localhost (tests/integration/modules/inventory.ini).
Both tools run in ONE invocation, for --rounds rounds whose order alternates (storage_volume first,
then virt_pool first), since the machine is shared and timings are noisy. It prints the best wall
time of each phase, the ratio virt_pool / storage_volume, every round's times, and how many module
calls each run reported as changed (the no-op runs must report none).

virt_pool has no idempotent build (libvirt refuses to build an active pool), so its playbook guards
the build with a stat of the target directory, as a user of it has to.

Run from anywhere:  .venv/bin/python bench/bench_pools.py [--pools N] [--rounds R]
Needs: libvirtd answering on qemu:///system (started here with `virtlogd -d; libvirtd -d` when it does
not answer and this runs as root), python3-libvirt and python3-lxml for /usr/bin/python3 (virt_pool
imports lxml).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from ansible_runner import run_playbook  # noqa: E402  (repo helper; needs the path above)

INVENTORY = os.path.join(REPO, "tests", "integration", "modules", "inventory.ini")
URI = "qemu:///system"
PREFIX = "ostk-test-bench-"

SV_UP = """---
- name: Pools up with storage_volume
  hosts: substrate
  gather_facts: false
  tasks:
    - name: Define, build, start and autostart the pools
      storage_volume:
        pool: "{{ item }}"
        pool_type: dir
        target_path: "{{ bench_dir }}/{{ item }}"
        state: active
        autostart: true
        build: true
      loop: "{{ bench_pools }}"
"""

SV_DOWN = """---
- name: Pools down with storage_volume
  hosts: substrate
  gather_facts: false
  tasks:
    - name: Stop and undefine the pools
      storage_volume:
        pool: "{{ item }}"
        state: absent
      loop: "{{ bench_pools }}"
"""

VP_UP = """---
- name: Pools up with community.libvirt.virt_pool
  hosts: substrate
  gather_facts: false
  tasks:
    - name: Define the pools
      community.libvirt.virt_pool:
        command: define
        name: "{{ item }}"
        xml: "<pool type='dir'><name>{{ item }}</name><target><path>{{ bench_dir }}/{{ item }}</path></target></pool>"
      loop: "{{ bench_pools }}"

    - name: Look for the target directories
      ansible.builtin.stat:
        path: "{{ bench_dir }}/{{ item }}"
      loop: "{{ bench_pools }}"
      register: bench_targets

    - name: Build the pools whose target is missing
      community.libvirt.virt_pool:
        command: build
        name: "{{ item.item }}"
      loop: "{{ bench_targets.results }}"
      when: not item.stat.exists

    - name: Start the pools
      community.libvirt.virt_pool:
        state: active
        name: "{{ item }}"
      loop: "{{ bench_pools }}"

    - name: Autostart the pools
      community.libvirt.virt_pool:
        autostart: true
        name: "{{ item }}"
      loop: "{{ bench_pools }}"
"""

VP_DOWN = """---
- name: Pools down with community.libvirt.virt_pool
  hosts: substrate
  gather_facts: false
  tasks:
    - name: Stop and undefine the pools
      community.libvirt.virt_pool:
        state: absent
        name: "{{ item }}"
      loop: "{{ bench_pools }}"
"""


def virsh(*args):
    return subprocess.run(["virsh", "-c", URI] + list(args), capture_output=True, text=True)


def ensure_libvirtd():
    if virsh("version").returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit("bench: libvirtd does not answer on %s; start it (virtlogd -d; libvirtd -d) and re-run" % URI)
    print("bench: libvirtd does not answer on %s; starting it (virtlogd -d; libvirtd -d)" % URI)
    if subprocess.run(["pgrep", "-x", "virtlogd"], capture_output=True).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=True)
    subprocess.run(["libvirtd", "-d"], check=True)
    for _ in range(60):
        if virsh("version").returncode == 0:
            return
        time.sleep(0.5)
    sys.exit("bench: libvirtd did not answer on %s within 30 s" % URI)


def ensure_managed_python():
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libvirt, lxml"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("bench: /usr/bin/python3 lacks libvirt or lxml (community.libvirt.virt_pool imports lxml); "
                 "install them: apt-get install python3-libvirt python3-lxml\n" + probe.stderr.strip())


def remove_leftovers():
    listing = virsh("pool-list", "--all", "--name").stdout.split()
    for name in listing:
        if name.startswith(PREFIX):
            virsh("pool-destroy", name)
            virsh("pool-undefine", name)


def changed_items(run):
    """Module calls that reported a change (each loop item counts)."""
    count = 0
    for _host, _task, res in run.tasks():
        items = res.get("results")
        if items is None:
            count += 1 if res.get("changed") else 0
        else:
            count += sum(1 for item in items if item.get("changed"))
    return count


def timed(playbook, extra):
    start = time.monotonic()
    run = run_playbook(playbook, inventory=INVENTORY, extra_vars=extra)
    elapsed = time.monotonic() - start
    if run.rc != 0:
        raise SystemExit("bench: %s failed: %r" % (os.path.basename(playbook), run))
    return elapsed, changed_items(run)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pools", type=int, default=5, help="number of dir pools per tool (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three phases per tool (default 2)")
    opts = parser.parse_args()
    if opts.pools < 1 or opts.rounds < 1:
        parser.error("--pools and --rounds must be at least 1")

    ensure_libvirtd()
    ensure_managed_python()
    remove_leftovers()
    workdir = tempfile.mkdtemp(prefix="ostk-bench-pools-")
    playbooks = {}
    for key, text in (("sv_up", SV_UP), ("sv_down", SV_DOWN), ("vp_up", VP_UP), ("vp_down", VP_DOWN)):
        playbooks[key] = os.path.join(workdir, key + ".yml")
        with open(playbooks[key], "w") as handle:
            handle.write(text)

    results = {"sv": {"up": [], "no-op": [], "down": []}, "vp": {"up": [], "no-op": [], "down": []}}
    total = time.monotonic()
    try:
        for rnd in range(opts.rounds):
            order = ("sv", "vp") if rnd % 2 == 0 else ("vp", "sv")  # alternate, so neither always goes first
            for tool in order:
                names = ["%s%s-%d" % (PREFIX, tool, i) for i in range(opts.pools)]
                extra = {"bench_pools": names, "bench_dir": os.path.join(workdir, "pools-%d" % rnd)}
                os.makedirs(extra["bench_dir"], exist_ok=True)
                results[tool]["up"].append(timed(playbooks[tool + "_up"], extra))
                results[tool]["no-op"].append(timed(playbooks[tool + "_up"], extra))
                results[tool]["down"].append(timed(playbooks[tool + "_down"], extra))
                left = [n for n in virsh("pool-list", "--all", "--name").stdout.split() if n in names]
                if left:
                    raise SystemExit("bench: pools left behind by %s: %s" % (tool, left))
    finally:
        remove_leftovers()
        shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - total

    print("bench_pools: %d dir pools per tool, %d round(s) (order alternating), libvirt %s; "
          "best wall time of the rounds, one ansible-playbook run per phase" % (
              opts.pools, opts.rounds,
              virsh("version", "--daemon").stdout.split("Running against daemon:")[-1].strip() or "?"))
    print("%-8s %16s %16s %22s" % ("phase", "storage_volume", "virt_pool", "virt_pool/storage_vol"))
    sv_sum = vp_sum = 0.0
    for phase in ("up", "no-op", "down"):
        sv_time = min(t for t, _ in results["sv"][phase])
        vp_time = min(t for t, _ in results["vp"][phase])
        sv_sum += sv_time
        vp_sum += vp_time
        print("%-8s %15.2fs %15.2fs %21.2fx" % (phase, sv_time, vp_time, vp_time / sv_time))
    print("%-8s %15.2fs %15.2fs %21.2fx" % ("total", sv_sum, vp_sum, vp_sum / sv_sum))
    for tool, label in (("sv", "storage_volume"), ("vp", "virt_pool")):
        rounds = ["%s %s" % (phase, " ".join("%.2fs" % t for t, _ in results[tool][phase]))
                  for phase in ("up", "no-op", "down")]
        print("all rounds, %s: %s" % (label, "; ".join(rounds)))
    print("module calls reporting a change in the no-op runs: storage_volume %s, virt_pool %s" % (
        [c for _, c in results["sv"]["no-op"]], [c for _, c in results["vp"]["no-op"]]))
    print("module calls reporting a change in the up runs: storage_volume %s, virt_pool %s" % (
        [c for _, c in results["sv"]["up"]], [c for _, c in results["vp"]["up"]]))
    print("wall time of the whole bench: %.1fs" % total)

if __name__ == "__main__":
    main()
