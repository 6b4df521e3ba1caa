"""Run ansible-playbook and stop it the way an operator's Ctrl-C does, at a chosen point.

``run_until(playbook, marker, delay)`` starts the playbook in a session of its own with the default (streaming)
stdout callback, reads its output line by line, and once a line starts with ``marker`` (a "TASK [...]" or
"RUNNING HANDLER [...]" header) waits ``delay`` seconds and sends SIGINT to its process group, as a terminal does
for Ctrl-C (ansible-core 2.19's workers run in sessions of their own, so it is ansible-playbook itself that stops
them; the remote command of the task that was running goes on, as it does after an operator's Ctrl-C). It
returns what happened; a run that ends
before reaching the marker, or that does not stop within ``stop_timeout`` after the SIGINT, is reported as such
(and killed in the second case) so that the test can fail with the output. A run still going ``again_after``
seconds after the SIGINT gets a second one, as an operator presses Ctrl-C again: once, an ansible-playbook
went on for three minutes after a SIGINT sent the moment a task's banner was printed (no "User interrupted
execution"). ``sigints`` in the result counts them, so a second one shows in the test's figures.
"""
import os
import signal
import subprocess
import threading
import time

from ansible_runner import REPO, VENV_BIN


def run_until(playbook, marker, delay, timeout=3600, stop_timeout=180, again_after=20):
    # The default callback prints a task's banner when its first shown result comes, unless it shows every
    # result: show them all, so that a banner marks the task's start.
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="true", ANSIBLE_DISPLAY_OK_HOSTS="true")
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    start = time.monotonic()
    proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-playbook"), playbook], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, state = [], {"seen": None, "sent": None, "killed": False, "sigints": 0}
    timers = []

    def kill():
        if proc.poll() is None:
            state["killed"] = True
            os.killpg(proc.pid, signal.SIGKILL)

    def interrupt():
        if proc.poll() is None:
            if state["sent"] is None:
                state["sent"] = round(time.monotonic() - start, 1)
                timers.append(threading.Timer(stop_timeout, kill))
                timers[-1].start()
                timers.append(threading.Timer(again_after, interrupt))
                timers[-1].start()
            state["sigints"] += 1
            os.killpg(proc.pid, signal.SIGINT)

    timers.append(threading.Timer(timeout, kill))
    timers[-1].start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if state["seen"] is None and line.startswith(marker):
                state["seen"] = round(time.monotonic() - start, 1)
                timers.append(threading.Timer(delay, interrupt))
                timers[-1].start()
        rc = proc.wait()
    finally:
        for timer in timers:
            timer.cancel()
        if proc.poll() is None:         # the reading failed: leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"rc": rc, "marker_at": state["seen"], "sigint_at": state["sent"], "killed": state["killed"],
            "sigints": state["sigints"],
            "seconds": round(time.monotonic() - start, 1), "output": "".join(lines)}
