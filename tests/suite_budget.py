"""Time per layer of the test suite against the budget in tests/budget.yml.

Pure bookkeeping, fed by the pytest hooks in tests/conftest.py: each test's start and
finish (monotonic seconds) and its outcome. A layer's time is the wall time from the
start of its first test to the finish of its last, so the session fixtures a layer
starts (libvirtd, the lab) count in the layer that runs them.
"""
import yaml


class Budget:
    def __init__(self, total, layers, repo=""):
        self.total = total
        self.layers = layers            # [{name, paths, budget}]
        self.repo = repo
        self.span = {}                  # layer name -> [first start, last finish]
        self.count = {}                 # layer name -> tests run
        self.failed = {}                # layer name -> tests failed

    @classmethod
    def load(cls, path, repo=""):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        for layer in data["layers"]:
            if not layer.get("paths") or not isinstance(layer.get("budget"), (int, float)):
                raise ValueError("%s: layer %r needs `paths` (a list) and `budget` (seconds)"
                                 % (path, layer.get("name")))
        return cls(data["total"], data["layers"], repo)

    def layer_of(self, nodeid):
        path = nodeid.split("::", 1)[0]
        for layer in self.layers:
            for prefix in layer["paths"]:
                if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
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
        lines = ["%-12s %6s %9s %9s" % ("layer", "tests", "seconds", "budget")]
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
            if self.failed.get(name):
                flag += "  (%d failed)" % self.failed[name]
            lines.append("%-12s %6d %9.0f %9s%s" % (
                name, self.count.get(name, 0), seconds,
                "-" if budget is None else "%d" % budget, flag))
        flag = "  OVER by %.0f s" % (spent - self.total) if spent > self.total else ""
        lines.append("%-12s %6d %9.0f %9d%s" % ("all layers", sum(self.count.values()),
                                                  spent, self.total, flag))
        return lines
