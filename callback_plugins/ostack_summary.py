"""End-of-run digest: what failed, where, and why, in a few lines.

Ansible's recap counts failures per host; this callback also names each failed task
with its host, role, file:line and the first line of its message, so an operator who
scrolls to the bottom of a long deploy sees where to look. Unreachable hosts are listed
with the connection error. Enabled through ``callbacks_enabled`` in ansible.cfg.
"""
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: ostack_summary
type: aggregate
short_description: End-of-run digest of failed and unreachable tasks
description:
  - Prints, after the play recap, the values playbooks published with set_stats (nodes,
    URLs, where credentials live), then one line per failed or unreachable task with
    host, role, task, file:line and the first line of the error message.
  - Prints a time table per role of the play. Shared steps that a role runs through
    another role (openstack_common's database, Keystone and config steps) count for the
    role of the play that ran them, unlike profile_roles, which charges them to
    openstack_common.
requirements:
  - enable in ansible.cfg with callbacks_enabled
"""


def first_line(text, limit=300):
    text = str(text or "").strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe_failure(host, task_name, role, path, result):
    """One digest line for a failed result (pure function, unit-tested)."""
    msg = result.get("msg") or result.get("stderr") or result.get("exception") or "no message"
    where = f" [{path}]" if path else ""
    who = f"{role} : " if role else ""
    return f"{host}: {who}{task_name}{where}: {first_line(msg)}"


def format_custom_stats(data):
    """Lines for the values playbooks publish with set_stats (URLs, credentials, nodes)."""
    lines = []
    for key in sorted(data):
        value = data[key]
        label = key.replace("_", " ")
        if isinstance(value, (list, tuple)):
            lines.append(f"{label}:")
            lines.extend(f"  - {item}" for item in value)
        elif isinstance(value, dict):
            lines.append(f"{label}:")
            lines.extend(f"  {k}: {v}" for k, v in sorted(value.items()))
        else:
            lines.append(f"{label}: {value}")
    return lines


class RoleClock:
    """Wall time per play-level role (pure logic, unit-tested).

    ``start(role, now)`` is called as each task or handler starts; the time since the
    previous start goes to the role that was current then. A task of a role that is not
    one of the play's own roles (a dependency or an imported helper role) keeps the
    current role; a task outside any role counts as "(play tasks)"."""

    def __init__(self):
        self.totals = {}
        self.play_roles = set()
        self.current = None
        self.since = None

    def play(self, role_names, now):
        self.stop(now)
        self.play_roles = set(role_names)
        self.current = None

    def start(self, role, now):
        self.stop(now)
        if role is None:
            self.current = "(play tasks)"
        elif role in self.play_roles or self.current in (None, "(play tasks)"):
            self.current = role
        self.since = now

    def stop(self, now):
        if self.current is not None and self.since is not None:
            self.totals[self.current] = self.totals.get(self.current, 0.0) + (now - self.since)
        self.since = None

    def table(self, limit=None):
        rows = sorted(self.totals.items(), key=lambda kv: kv[1], reverse=True)
        return [f"{name:<40} {secs:8.1f}s" for name, secs in rows[:limit]]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ostack_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.failures = []
        self.clock = RoleClock()

    def v2_playbook_on_play_start(self, play):
        # The play's own roles, not their dependencies (openstack_common is one of those).
        roles = play.get_roles()
        deps = {d.get_name() for r in roles for d in r.get_all_dependencies()}
        self.clock.play([r.get_name() for r in roles if r.get_name() not in deps], time.monotonic())

    def _task_start(self, task):
        role = task._role.get_name() if getattr(task, "_role", None) else None
        self.clock.start(role, time.monotonic())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def _record(self, result, kind):
        task = result._task
        # get_name() already carries the "role : " prefix of role tasks.
        role = ""
        path = task.get_path() if hasattr(task, "get_path") else ""
        line = describe_failure(result._host.get_name(), task.get_name(), role, path, result._result)
        self.failures.append(f"{kind}: {line}")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._record(result, "FAILED")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "UNREACHABLE")

    def v2_playbook_on_stats(self, stats):
        self.clock.stop(time.monotonic())
        self._display.banner("TIME PER ROLE (shared openstack_common steps counted in the calling role)")
        for line in self.clock.table():
            self._display.display(line)
        self._display.banner("RUN SUMMARY")
        for line in format_custom_stats(getattr(stats, "custom", {}).get("_run", {})):
            self._display.display(line)
        if not self.failures:
            self._display.display("No failed or unreachable task.", color="green")
            return
        for line in self.failures:
            self._display.display(line, color="red")
        self._display.display("Full log: ~/.cache/ostack/ansible.log (log_path in ansible.cfg)")
