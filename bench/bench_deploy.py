#!/usr/bin/env python3
"""Deploy times against their floor, measured in one run on the embedded lab.

    .venv/bin/python bench/bench_deploy.py [--out bench/results/deploy-bench.txt] [--redeploy]

Steps, each a real run on this machine:
  1. fresh lab nodes (lab-destroy.yml, lab.yml), then each node's `apt-mark showmanual`;
  2. cold `site.yml` on them, then the idle re-run (must report changed=0) and
     `site.yml --check --diff` (must report changed=0);
  3. the package set each node got: `apt-mark showmanual` after minus before;
  4. the floor: fresh nodes again, then ONE `apt-get update && apt-get install -y <set>`
     per node, all nodes at once (one ad-hoc ansible run), plus the database migrations,
     whose time is the sum of the "Run the migrations" tasks of step 2's cold run
     (they cannot run without the config the roles write);
  5. the ratios: cold / floor, and idle and check against their goals.
It leaves the floor's nodes up; with --redeploy it then builds fresh nodes and deploys the
cloud again, after the figures are written (that run is not counted). Traffic: the lab's nodes, and the apt cache on
this host, which reaches Debian's registry.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
           # every task's time in the recap, not only the slowest 15
           PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", ANSIBLE_NOCOLOR="1")
GOALS = {"idle": 60.0, "check": 60.0, "cold/floor": 1.2}


def run(cmd, what, check=True):
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True)
    took = time.monotonic() - start
    if check and proc.returncode != 0:
        sys.exit(f"bench_deploy: {what} failed (rc {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    return took, proc.stdout


def playbook(name, *extra):
    return run([os.path.join(BIN, "ansible-playbook"), f"playbooks/{name}", *extra], name)


def recap(output):
    """{host: changed count} from a play recap."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


def migration_seconds(output):
    """Sum of the profile_tasks recap lines of the migration tasks."""
    total = 0.0
    for m in re.finditer(r"^openstack_common : Run the migrations of .*? -+ ([0-9.]+)s$", output, re.M):
        total += float(m.group(1))
    return total


def role_times(output):
    times = {}
    section = output.split("ROLES RECAP", 1)[-1]
    for m in re.finditer(r"^(\w+) -+ ([0-9.]+)s$", section, re.M):
        times[m.group(1)] = float(m.group(2))
    return times


def manual_packages():
    """{host: set of manually installed packages} on every node of the inventory."""
    _, out = run([os.path.join(BIN, "ansible"), "all", "-o", "-m", "ansible.builtin.command",
                  "-a", "apt-mark showmanual"], "apt-mark showmanual")
    found = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+) \| (?:CHANGED|SUCCESS) \| rc=0 \| \(stdout\) (.*)$", line)
        if m:
            found[m.group(1)] = set(m.group(2).replace("\\n", "\n").split())
    if not found:
        sys.exit("bench_deploy: could not read the nodes' packages:\n" + out[-3000:])
    return found


def fresh_lab():
    playbook("lab-destroy.yml")
    took, _ = playbook("lab.yml")
    return took


def floor_install(sets):
    """One apt-get install per node, all nodes at once: one ad-hoc run limited to each node's set."""
    script = ("set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
              "apt-get install -y -qq {{ bench_floor_sets[inventory_hostname] | join(' ') }} >/dev/null")
    extra = json.dumps({"bench_floor_sets": {host: sorted(pkgs) for host, pkgs in sets.items()}})
    return run([os.path.join(BIN, "ansible"), ",".join(sorted(sets)), "-f", str(len(sets)), "-o",
                "-m", "ansible.builtin.shell", "-a", script, "-e", extra], "the floor's apt-get install")[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "deploy-bench.txt"))
    parser.add_argument("--redeploy", action="store_true",
                        help="after the figures, build fresh nodes and deploy the cloud again (not timed)")
    args = parser.parse_args()

    lab = fresh_lab()
    before = manual_packages()
    cold, cold_out = playbook("site.yml")
    idle, idle_out = playbook("site.yml")
    check, check_out = playbook("site.yml", "--check", "--diff")
    after = manual_packages()
    sets = {host: after[host] - before.get(host, set()) for host in after}
    for name, out in (("idle re-run", idle_out), ("--check --diff", check_out)):
        if any(recap(out).values()):
            sys.exit(f"bench_deploy: the {name} reported changes: {recap(out)}")

    fresh_lab()
    install = floor_install(sets)
    migrations = migration_seconds(cold_out)
    floor = install + migrations

    roles = sorted(role_times(cold_out).items(), key=lambda kv: -kv[1])[:8]
    ratio = cold / floor
    lines = [
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.uname().nodename}, {os.cpu_count()} cores, warm apt cache",
        "# command: .venv/bin/python bench/bench_deploy.py",
        f"lab.yml, fresh nodes                   {lab:7.1f} s",
        f"floor: apt-get install, nodes at once  {install:7.1f} s   ("
        + ", ".join(f"{h} {len(s)} packages" for h, s in sorted(sets.items())) + ")",
        f"floor: database migrations             {migrations:7.1f} s   (the cold run's migration tasks)",
        f"floor                                  {floor:7.1f} s",
        f"site.yml, cold                         {cold:7.1f} s   cold/floor = {ratio:.2f}  (goal <= {GOALS['cold/floor']})",
        f"site.yml, idle re-run (changed=0)      {idle:7.1f} s   idle/goal = {idle / GOALS['idle']:.2f}  (goal <= {GOALS['idle']:.0f} s)",
        f"site.yml --check --diff (changed=0)    {check:7.1f} s   check/goal = {check / GOALS['check']:.2f}  (goal <= {GOALS['check']:.0f} s)",
        "cold, slowest roles: " + ", ".join(f"{r} {t:.1f}" for r, t in roles),
        "idle, slowest roles: " + ", ".join(f"{r} {t:.1f}" for r, t in
                                            sorted(role_times(idle_out).items(), key=lambda kv: -kv[1])[:6]),
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write("\n" + text)
    if args.redeploy:
        fresh_lab()
        playbook("site.yml")


if __name__ == "__main__":
    main()
