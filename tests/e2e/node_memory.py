"""Peak memory of each lab node, sampled from the host while a deploy runs.

A lab node is a systemd-nspawn container without a cgroup of its own here (the host has
no systemd), so its memory is the sum of the proportional set sizes (PSS) of the processes in the
node's PID namespace (that of the child of `systemd-nspawn ... --machine=NAME`). A thread
samples every few seconds and keeps the peak per node."""
import os
import threading


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _pidns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def node_namespaces():
    """{pid namespace: node name} of the running nspawn nodes."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _read(f"/proc/{entry}/cmdline").split(b"\0")
        if not argv or not argv[0].endswith(b"systemd-nspawn"):
            continue
        name = next((a.split(b"=", 1)[1].decode() for a in argv if a.startswith(b"--machine=")), None)
        children = _read(f"/proc/{entry}/task/{entry}/children").split()
        for child in children:
            ns = _pidns(child.decode())
            if name and ns and ns != _pidns(entry):
                found[ns] = name
    return found


def pss_kib(pid):
    """Proportional set size: shared pages split between their users, so a node's sum
    does not count the pages its uwsgi workers share once per worker."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample():
    """{node: PSS in KiB} now."""
    namespaces = node_namespaces()
    totals = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            name = namespaces.get(_pidns(entry))
            if name:
                totals[name] = totals.get(name, 0) + pss_kib(entry)
    return totals


class PeakSampler(threading.Thread):
    def __init__(self, interval=3.0):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = {}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for name, kib in sample().items():
                self.peak[name] = max(self.peak.get(name, 0), kib)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(timeout=30)
        return {name: round(kib / 1024) for name, kib in sorted(self.peak.items())}
