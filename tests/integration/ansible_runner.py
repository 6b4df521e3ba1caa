"""Run real ansible-playbook commands from tests and read their per-task results.

Used by the integration tests: a playbook runs with the json stdout callback, and the
test gets a list of (host, task name, result) records plus the play recap, so it can
assert changed / unchanged / failed task by task. Nothing is mocked.
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)


class PlaybookRun:
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data
        self.stats = data.get("stats", {}) if data else {}

    def tasks(self):
        """Yield (host, task_name, result) for every task result of every play."""
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task.get("hosts", {}).items():
                    yield host, task["task"]["name"], res

    def result(self, name, host=None):
        """The result of the one task called `name` (on `host`, if given)."""
        found = [r for h, n, r in self.tasks() if n == name and (host is None or h == host)]
        assert found, f"task {name!r} not in the run; tasks were: {[n for _, n, _ in self.tasks()]}"
        assert len(found) == 1, f"task {name!r} ran {len(found)} times"
        return found[0]

    def changed_total(self):
        return sum(s.get("changed", 0) for s in self.stats.values())

    def failed_total(self):
        return sum(s.get("failures", 0) + s.get("unreachable", 0) for s in self.stats.values())

    def __repr__(self):
        return f"<PlaybookRun rc={self.rc} stats={self.stats} stderr={self.stderr[-2000:]!r}>"


def run_playbook(playbook, inventory=None, check=False, diff=False, extra_vars=None,
                 limit=None, env=None, timeout=3600):
    """Run ansible-playbook from the repo root with the json callback; return a PlaybookRun."""
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook]
    if inventory:
        cmd += ["-i", inventory]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_JSON_INDENT": "0",
        "PATH": VENV_BIN + os.pathsep + run_env.get("PATH", ""),
    })
    if env:
        run_env.update(env)
    proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True,
                          timeout=timeout)
    return PlaybookRun(proc, parse_json_output(proc.stdout))


def parse_json_output(stdout):
    """The json callback's document, found among whatever the aggregate callbacks
    (timing, run summary) print around it; None if there is none."""
    decoder = json.JSONDecoder()
    start = 0
    while True:
        pos = stdout.find("{", start)
        if pos < 0:
            return None
        if pos == 0 or stdout[pos - 1] == "\n":
            try:
                data, _ = decoder.raw_decode(stdout, pos)
            except ValueError:
                data = None
            if isinstance(data, dict) and "plays" in data:
                return data
        start = pos + 1
