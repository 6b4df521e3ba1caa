"""End-of-run digest: what failed, where, and why, in a few lines.

Ansible's recap counts failures per host; this callback also names each failed task
with its host, role, file:line and the first line of its message, so an operator who
scrolls to the bottom of a long deploy sees where to look. Unreachable hosts are listed
with the connection error. Enabled through ``callbacks_enabled`` in ansible.cfg.
"""
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: ostack_summary
type: aggregate
short_description: End-of-run digest of failed and unreachable tasks
description:
  - Prints, after the play recap, the values playbooks published with set_stats (nodes,
    URLs, where credentials live), then one line per failed or unreachable task with
    host, role, task, file:line and the first line of the error message.
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


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ostack_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.failures = []

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
        self._display.banner("RUN SUMMARY")
        for line in format_custom_stats(getattr(stats, "custom", {}).get("_run", {})):
            self._display.display(line)
        if not self.failures:
            self._display.display("No failed or unreachable task.", color="green")
            return
        for line in self.failures:
            self._display.display(line, color="red")
        self._display.display("Full log: ~/.cache/ostack/ansible.log (log_path in ansible.cfg)")
