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
                 limit=None, env=None, timeout=3600, tags=None):
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
    if tags:
        cmd += ["--tags", tags]
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


class ModuleTask:
    """A playbook with one task of a module, driven by one dict of arguments in an extra var (the
    ``*_apply.yml`` playbooks of tests/integration/modules). The check -> real -> check sequence of
    every module test lives here, so each test states only its arguments and what to verify."""

    def __init__(self, playbook, task, args_var, inventory, host="localhost"):
        self.playbook = playbook
        self.task = task
        self.args_var = args_var
        self.inventory = inventory
        self.host = host

    def apply(self, args, check=False, diff=True, extra=None):
        """Run the task once with ``args``; return (PlaybookRun, the task's result)."""
        extra_vars = {self.args_var: args}
        extra_vars.update(extra or {})
        run = run_playbook(self.playbook, inventory=self.inventory, check=check, diff=diff, extra_vars=extra_vars)
        assert run.data is not None, run
        return run, run.result(self.task, self.host)

    def converge(self, args, extra=None):
        """check -> real -> check; assert changed / changed / unchanged; return the three results."""
        results = []
        for check, changed in ((True, True), (False, True), (True, False)):
            run, res = self.apply(args, check=check, extra=extra)
            assert run.rc == 0 and res["changed"] is changed, (res, run)
            results.append(res)
        return tuple(results)

    def fails(self, args, check=False, extra=None):
        """Run the task, assert that it failed, return its result."""
        run, res = self.apply(args, check=check, extra=extra)
        assert run.rc != 0 and res.get("failed"), (res, run)
        return res


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
