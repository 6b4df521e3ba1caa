#!/usr/bin/env python3
"""Wall time of the same pool work done with storage_volume and with community.libvirt.virt_pool.

The work, for N dir pools under a temporary directory (names ostk-test-bench-*):
  up      define + build + start + autostart every pool (cold: nothing exists yet)
  no-op   the same playbook again (everything already as wanted)
  down    stop + undefine every pool
Rounds, alternating order, best times, ratio virt_pool / storage_volume and changed counts: see
bench/harness.py, which both bench scripts share.

virt_pool has no idempotent build (libvirt refuses to build an active pool), so its playbook guards
the build with a stat of the target directory, as a user of it has to.

Run from anywhere:  .venv/bin/python bench/bench_pools.py [--pools N] [--rounds R]
Needs: libvirtd answering on qemu:///system (started here with `virtlogd -d; libvirtd -d` when it does
not answer and this runs as root), python3-libvirt and python3-lxml for /usr/bin/python3 (virt_pool
imports lxml).
"""
import os
import shutil

from harness import Comparison, libvirt_version, options, play, prepare, task, virsh

BENCH = "bench_pools"
PREFIX = "ostk-test-bench-"
TARGET = "{{ bench_dir }}/{{ item }}"
VP = "community.libvirt.virt_pool"

PLAYBOOKS = {
    "storage_volume up": play(
        "Pools up with storage_volume",
        task("Define, build, start and autostart the pools", "storage_volume",
             {"pool": "{{ item }}", "pool_type": "dir", "target_path": TARGET, "state": "active",
              "autostart": True, "build": True})),
    "storage_volume down": play(
        "Pools down with storage_volume",
        task("Stop and undefine the pools", "storage_volume", {"pool": "{{ item }}", "state": "absent"})),
    "virt_pool up": play(
        "Pools up with community.libvirt.virt_pool",
        task("Define the pools", VP, {"command": "define", "name": "{{ item }}", "xml": (
            "<pool type='dir'><name>{{ item }}</name><target><path>%s</path></target></pool>" % TARGET)}),
        task("Look for the target directories", "ansible.builtin.stat", {"path": TARGET}, register="bench_targets"),
        task("Build the pools whose target is missing", VP, {"command": "build", "name": "{{ item.item }}"},
             loop="{{ bench_targets.results }}", when="not item.stat.exists"),
        task("Start the pools", VP, {"state": "active", "name": "{{ item }}"}),
        task("Autostart the pools", VP, {"autostart": True, "name": "{{ item }}"})),
    "virt_pool down": play(
        "Pools down with community.libvirt.virt_pool",
        task("Stop and undefine the pools", VP, {"state": "absent", "name": "{{ item }}"})),
}


def remove_leftovers():
    for name in virsh("pool-list", "--all", "--name").stdout.split():
        if name.startswith(PREFIX):
            virsh("pool-destroy", name)
            virsh("pool-undefine", name)


def main():
    pools, rounds = options(__doc__, "pools")
    workdir, books = prepare(BENCH, "community.libvirt.virt_pool imports lxml", PLAYBOOKS)
    remove_leftovers()
    bench = Comparison(BENCH, ("storage_volume", "virt_pool"), rounds)
    try:
        for rnd, tool in bench.order():
            names = ["%s%s-%d" % (PREFIX, tool, i) for i in range(pools)]
            extra = {"bench_items": names, "bench_dir": os.path.join(workdir, "pools-%d" % rnd)}
            os.makedirs(extra["bench_dir"], exist_ok=True)
            bench.phases(rnd, tool, books[tool + "_up"], books[tool + "_down"], extra)
            left = [n for n in virsh("pool-list", "--all", "--name").stdout.split() if n in names]
            if left:
                raise SystemExit("%s: pools left behind by %s: %s" % (BENCH, tool, left))
    finally:
        remove_leftovers()
        shutil.rmtree(workdir, ignore_errors=True)
    bench.report("%s: %d dir pools per tool, libvirt %s" % (BENCH, pools, libvirt_version()))


if __name__ == "__main__":
    main()
