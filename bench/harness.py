"""Timing harness shared by the bench scripts that compare one of the suite's modules with the
community.libvirt module that does the same work (bench_guests.py, bench_pools.py).

Each tool does three phases, each one real ansible-playbook run against localhost
(tests/integration/modules/inventory.ini):
  up      the playbook that makes everything (nothing exists yet)
  no-op   the same playbook again (everything already as wanted: it should report no change)
  down    the playbook that removes everything
Both tools run in ONE invocation, for several rounds whose order alternates (the machine is shared
and timings are noisy, so neither tool always goes first); the report gives the best wall time of
each phase per tool, the ratio other / ours, every round's times and the changed counts.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from ansible_runner import run_playbook  # noqa: E402  (repo helper; needs the path above)

INVENTORY = os.path.join(REPO, "tests", "integration", "modules", "inventory.ini")
URI = "qemu:///system"
PHASES = ("up", "no-op", "down")


# --------------------------------------------------------------------------- the host

def virsh(*args):
    return subprocess.run(["virsh", "-c", URI] + list(args), capture_output=True, text=True)


def ensure_libvirtd(bench):
    """libvirtd answering on URI; started here (virtlogd -d; libvirtd -d) when it does not and this is root."""
    if virsh("version").returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit("%s: libvirtd does not answer on %s; start it (virtlogd -d; libvirtd -d) and re-run" % (bench, URI))
    print("%s: libvirtd does not answer on %s; starting it (virtlogd -d; libvirtd -d)" % (bench, URI), flush=True)
    if subprocess.run(["pgrep", "-x", "virtlogd"], capture_output=True).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=True)
    subprocess.run(["libvirtd", "-d"], check=True)
    for _ in range(60):
        if virsh("version").returncode == 0:
            return
        time.sleep(0.5)
    sys.exit("%s: libvirtd did not answer on %s within 30 s" % (bench, URI))


def ensure_managed_python(bench, why):
    """The managed host's interpreter (/usr/bin/python3) must have libvirt and lxml."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libvirt, lxml"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("%s: /usr/bin/python3 lacks libvirt or lxml (%s); install them: apt-get install python3-libvirt "
                 "python3-lxml\n%s" % (bench, why, probe.stderr.strip()))


def libvirt_version():
    return virsh("version", "--daemon").stdout.split("Running against daemon:")[-1].strip() or "?"


# --------------------------------------------------------------------------- playbooks

def task(title, module, args, loop="{{ bench_items }}", **keywords):
    """One task of ``module`` with ``args``, looped over ``loop`` (None: no loop); ``keywords`` are more
    task keywords (register, when)."""
    out = dict({"name": title, module: args}, **keywords)
    if loop is not None:
        out["loop"] = loop
    return out


def play(name, *tasks):
    """A playbook of one play on the substrate host (the inventory's localhost)."""
    return "---\n" + yaml.safe_dump([{"name": name, "hosts": "substrate", "gather_facts": False,
                                      "tasks": list(tasks)}], sort_keys=False, width=200)


# --------------------------------------------------------------------------- a bench run

def options(doc, what):
    """(count, rounds) from the command line: --WHAT N (default 5) and --rounds R (default 2)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--" + what, type=int, default=5, help="number of %s per tool (default 5)" % what)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three phases per tool (default 2)")
    opts = parser.parse_args()
    count = getattr(opts, what)
    if count < 1 or opts.rounds < 1:
        parser.error("--%s and --rounds must be at least 1" % what)
    return count, opts.rounds


def prepare(bench, why, playbooks):
    """Check the host (libvirtd, the managed interpreter's libvirt and lxml: ``why``), write the
    playbooks {"tool phase": text} into a new temporary directory; return (directory, {"tool_phase": path})."""
    ensure_libvirtd(bench)
    ensure_managed_python(bench, why)
    workdir = tempfile.mkdtemp(prefix="ostk-%s-" % bench.replace("_", "-"))
    paths = {}
    for key, text in playbooks.items():
        paths[key.replace(" ", "_")] = path = os.path.join(workdir, key.replace(" ", "_") + ".yml")
        with open(path, "w") as handle:
            handle.write(text)
    return workdir, paths


# --------------------------------------------------------------------------- timing

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


def timed(bench, playbook, extra):
    """(seconds, changed items) of one ansible-playbook run; exits when the run fails."""
    start = time.monotonic()
    run = run_playbook(playbook, inventory=INVENTORY, extra_vars=extra)
    elapsed = time.monotonic() - start
    if run.rc != 0:
        sys.exit("%s: %s failed: %r" % (bench, os.path.basename(playbook), run))
    return elapsed, changed_items(run)


class Comparison:
    """Times of the phases of two tools over alternating rounds. ``tools`` is (ours, other)."""

    def __init__(self, bench, tools, rounds):
        self.bench = bench
        self.tools = tools
        self.rounds = rounds
        self.results = {tool: {phase: [] for phase in PHASES} for tool in tools}
        self.started = time.monotonic()

    def order(self):
        """(round, tool) in the order to run them."""
        for rnd in range(self.rounds):
            for tool in (self.tools if rnd % 2 == 0 else self.tools[::-1]):
                yield rnd, tool

    def phases(self, rnd, tool, up, down, extra):
        """up, no-op (up again) and down of one tool, timed and printed as they finish."""
        for phase, playbook in (("up", up), ("no-op", up), ("down", down)):
            seconds, changed = timed(self.bench, playbook, extra)
            self.results[tool][phase].append((seconds, changed))
            print("round %d  %-14s  %-5s  %7.2fs  changed items: %d" % (rnd + 1, tool, phase, seconds, changed),
                  flush=True)

    def report(self, headline):
        ours, other = self.tools
        best = {tool: {phase: min(t for t, _ in self.results[tool][phase]) for phase in PHASES}
                for tool in self.tools}
        print()
        print(headline)
        print("best wall time of %d round(s) (order alternating), one ansible-playbook run per phase" % self.rounds)
        ratio = "%s/%s" % (other, ours)
        print("%-8s %16s %16s %24s" % ("phase", ours, other, ratio))
        for phase in PHASES + ("total",):
            mine = sum(best[ours].values()) if phase == "total" else best[ours][phase]
            theirs = sum(best[other].values()) if phase == "total" else best[other][phase]
            print("%-8s %15.2fs %15.2fs %23.2fx" % (phase, mine, theirs, theirs / mine))
        for tool in self.tools:
            rounds = ["%s %s" % (phase, " ".join("%.2fs" % t for t, _ in self.results[tool][phase])) for phase in PHASES]
            print("all rounds, %s: %s" % (tool, "; ".join(rounds)))
        for phase in ("up", "no-op"):
            print("module calls reporting a change in the %s runs: %s" % (phase, ", ".join(
                "%s %s" % (tool, [c for _, c in self.results[tool][phase]]) for tool in self.tools)))
        print("wall time of the whole bench: %.1fs" % (time.monotonic() - self.started))
