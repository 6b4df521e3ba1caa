"""Time per layer of the test suite against the budget in tests/budget.yml, and the lanes
the layers run in.

Budget is pure bookkeeping, fed by the pytest hooks in tests/conftest.py: each test's start
and finish (monotonic seconds) and its outcome. A layer's time is the wall time from the
start of its first test to the finish of its last, so the session fixtures a layer starts
(libvirtd, the lab) count in the layer that runs them. With lanes side by side, the suite's
time is the wall time from the first start to the last finish, not the layers' sum.

LaneLock keeps a layer marked `alone` from running beside the layers of another lane: every
pytest process holds one flock on a shared file, shared while it runs layers that may run
side by side and exclusive from its first `alone` layer on.
"""
import fcntl
import os
import time

import yaml


class Budget:
    def __init__(self, total, layers, repo=""):
        self.total = total
        self.layers = layers            # [{name, paths, budget, lane, alone}]
        self.repo = repo
        self.span = {}                  # layer name -> [first start, last finish]
        self.count = {}                 # layer name -> tests run
        self.failed = {}                # layer name -> tests failed
        self.waits = {}                 # layer name -> seconds it waited for another lane

    @classmethod
    def load(cls, path, repo=""):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        for layer in data["layers"]:
            if not layer.get("paths") or not isinstance(layer.get("budget"), (int, float)):
                raise ValueError("%s: layer %r needs `paths` (a list) and `budget` (seconds)"
                                 % (path, layer.get("name")))
            if not isinstance(cls._lane(layer), str) or not isinstance(layer.get("alone", False), bool):
                raise ValueError("%s: layer %r: `lane` is a name (a string) and `alone` true or false"
                                 % (path, layer.get("name")))
        return cls(data["total"], data["layers"], repo)

    def _layer(self, name):
        return next((layer for layer in self.layers if layer["name"] == name), {})

    @staticmethod
    def _lane(layer):
        """A layer's `lane`; "a" when it names none (and for tests outside every layer)."""
        return layer.get("lane", "a")

    def lane_of(self, nodeid):
        """The lane a test runs in: its layer's `lane` (default "a")."""
        return self._lane(self._layer(self.layer_of(nodeid)))

    def alone(self, nodeid):
        """Whether a test's layer runs only while no layer of another lane runs."""
        return bool(self._layer(self.layer_of(nodeid)).get("alone", False))

    def lane_budgets(self):
        """{lane: the sum of its layers' budgets}."""
        sums = {}
        for layer in self.layers:
            lane = self._lane(layer)
            sums[lane] = sums.get(lane, 0) + layer["budget"]
        return sums

    def layer_of(self, nodeid):
        """The first layer with a `paths` entry that holds the test: a directory or a file that
        holds its file, or, for an entry with "::", the start of its node id (one test, or the
        cases of a parametrized test whose ids begin so)."""
        path = nodeid.split("::", 1)[0]
        for layer in self.layers:
            for prefix in layer["paths"]:
                if "::" in prefix:
                    if nodeid.startswith(prefix):
                        return layer["name"]
                elif path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                    return layer["name"]
        return "other"

    def start(self, nodeid, now):
        name = self.layer_of(nodeid)
        span = self.span.setdefault(name, [now, now])
        span[0] = min(span[0], now)
        self.count[name] = self.count.get(name, 0) + 1

    def finish(self, nodeid, now):
        name = self.layer_of(nodeid)
        span = self.span.setdefault(name, [now, now])
        span[1] = max(span[1], now)

    def waited(self, nodeid, seconds):
        name = self.layer_of(nodeid)
        self.waits[name] = self.waits.get(name, 0.0) + seconds

    def outcome(self, nodeid, when, outcome):
        if outcome == "failed":
            name = self.layer_of(nodeid)
            self.failed[name] = self.failed.get(name, 0) + 1

    def report(self):
        """Lines of the end-of-run table; empty when no test ran."""
        if not self.span:
            return []
        budgets = {layer["name"]: layer["budget"] for layer in self.layers}
        order = [layer["name"] for layer in self.layers] + ["other"]
        lines = ["%-12s %6s %9s %9s  %s" % ("layer", "tests", "seconds", "budget", "lane")]
        spent = 0.0
        for name in order:
            if name not in self.span:
                continue
            seconds = self.span[name][1] - self.span[name][0]
            spent += seconds
            budget = budgets.get(name)
            flag = ""
            if budget is not None and seconds > budget:
                flag = "  OVER by %.0f s" % (seconds - budget)
            if self.waits.get(name, 0) >= 1:
                flag += "  (waited %.0f s for another lane)" % self.waits[name]
            if self.failed.get(name):
                flag += "  (%d failed)" % self.failed[name]
            lines.append(("%-12s %6d %9.0f %9s  %-4s%s" % (
                name, self.count.get(name, 0), seconds,
                "-" if budget is None else "%d" % budget, self._lane(self._layer(name)), flag)).rstrip())
        wall = max(span[1] for span in self.span.values()) - min(span[0] for span in self.span.values())
        flag = "  OVER by %.0f s" % (wall - self.total) if wall > self.total else ""
        if spent - wall >= 1:
            flag += "  (the layers' sum %.0f s: lanes ran side by side)" % spent
        lines.append("%-12s %6d %9.0f %9d%s" % ("all layers", sum(self.count.values()),
                                                  wall, self.total, flag))
        return lines


class LaneLock:
    """One flock per process on ``path``: shared for layers that may run beside another
    lane's, exclusive for a layer marked `alone` (and from then on, for that process)."""

    def __init__(self, path, deadline=7200.0, poll=1.0):
        self.path = path
        self.deadline = deadline
        self.poll = poll
        self.fd = None
        self.mode = None

    def enter(self, alone):
        """Take the lock this test's layer needs; return the seconds waited for it."""
        want = fcntl.LOCK_EX if alone else fcntl.LOCK_SH
        if self.mode in (want, fcntl.LOCK_EX):
            return 0.0
        if self.fd is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(self.fd, want | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > self.deadline:
                    raise TimeoutError("waited %.0f s for the other lanes of the test suite to finish "
                                       "(flock on %s); find the pytest process that holds it with "
                                       "`fuser -v %s`" % (self.deadline, self.path, self.path)) from None
                time.sleep(self.poll)
        self.mode = want
        return time.monotonic() - start

    def release(self):
        if self.fd is not None:
            os.close(self.fd)           # drops the flock
        self.fd = None
        self.mode = None
