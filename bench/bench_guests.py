#!/usr/bin/env python3
"""Wall time of the same guest work done with qemu_guest and with community.libvirt.virt.

The work, for N diskless TCG guests of 64 MiB (names ostk-test-bench-g*, no OS: they sit in SeaBIOS):
  up      define + start every guest (nothing exists yet)
  no-op   the same playbook again (everything already as wanted)
  down    destroy + undefine every guest
Both tools do the same steps with one looped task per step: define then start; destroy then undefine
(qemu_guest: state=destroyed then state=absent; virt: state=destroyed then command=undefine). virt gets
the domain XML that qemu_guest compiles for the same guest, so libvirt does the same work for both.
virt_type is given to both, so qemu_guest's one-time KVM probe (cached per host) does not count.
Rounds, alternating order, best times, ratio virt / qemu_guest and changed counts: see
bench/harness.py, which both bench scripts share.

Run from anywhere:  .venv/bin/python bench/bench_guests.py [--guests N] [--rounds R]
Needs: libvirtd answering on qemu:///system (started here with `virtlogd -d; libvirtd -d` when it does
not answer and this runs as root), python3-libvirt and python3-lxml for /usr/bin/python3 (virt imports lxml).
"""
import shutil

from harness import INVENTORY, Comparison, libvirt_version, options, play, prepare, run_playbook, task, virsh

BENCH = "bench_guests"
PREFIX = "ostk-test-bench-g"
XML_GUEST = "ostk-test-bench-xml"
GUEST = {"memory": 64, "virt_type": "qemu"}
VIRT = "community.libvirt.virt"
ITEM = {"name": "{{ item }}"}

PLAYBOOKS = {
    "xml": play(
        "Compile a bench guest's XML with qemu_guest",
        task("Compile the XML", "qemu_guest", dict(GUEST, name=XML_GUEST, state="present"), loop=None)),
    "qemu_guest up": play(
        "Guests up with qemu_guest",
        task("Define the guests", "qemu_guest", dict(GUEST, state="present", **ITEM)),
        task("Start the guests", "qemu_guest", dict(ITEM, state="running"))),
    "qemu_guest down": play(
        "Guests down with qemu_guest",
        task("Destroy the guests", "qemu_guest", dict(ITEM, state="destroyed")),
        task("Undefine the guests", "qemu_guest", dict(ITEM, state="absent"))),
    "virt up": play(
        "Guests up with community.libvirt.virt",
        task("Define the guests", VIRT, {"command": "define", "xml": "{{ bench_xml | replace('BENCH_NAME', item) }}"}),
        task("Start the guests", VIRT, dict(ITEM, state="running"))),
    "virt down": play(
        "Guests down with community.libvirt.virt",
        task("Destroy the guests", VIRT, dict(ITEM, state="destroyed")),
        task("Undefine the guests", VIRT, dict(ITEM, command="undefine"))),
}


def cleanup(names):
    for name in names:
        virsh("destroy", name)
        virsh("undefine", name, "--nvram")


def compiled_xml(playbook):
    """The XML qemu_guest defines for one bench guest, from a check-mode run (nothing is created)."""
    run = run_playbook(playbook, inventory=INVENTORY, check=True)
    if run.rc != 0:
        raise SystemExit("%s: compiling the guest XML failed: %r" % (BENCH, run))
    return run.result("Compile the XML")["xml"].replace(XML_GUEST, "BENCH_NAME")


def main():
    guests, rounds = options(__doc__, "guests")
    workdir, books = prepare(BENCH, "community.libvirt.virt imports lxml", PLAYBOOKS)
    names = ["%s%d" % (PREFIX, i) for i in range(guests)]
    cleanup(names)
    bench = Comparison(BENCH, ("qemu_guest", "virt"), rounds)
    try:
        extra = {"bench_items": names, "bench_xml": compiled_xml(books["xml"])}
        for rnd, tool in bench.order():
            bench.phases(rnd, tool, books[tool + "_up"], books[tool + "_down"], extra)
            left = set(virsh("list", "--all", "--name").stdout.split()) & set(names)
            if left:
                raise SystemExit("%s: guests left behind by %s: %s" % (BENCH, tool, sorted(left)))
    finally:
        cleanup(names)
        shutil.rmtree(workdir, ignore_errors=True)
    bench.report("%s: %d diskless TCG guests of 64 MiB per tool, libvirt %s" % (BENCH, guests, libvirt_version()))


if __name__ == "__main__":
    main()
