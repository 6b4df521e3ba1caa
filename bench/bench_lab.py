#!/usr/bin/env python3
"""Lab build times, measured in one run: cold (no cached base root), warm (base cached,
nodes rebuilt) and idle (everything up, nothing to do), with their ratios.

    .venv/bin/python bench/bench_lab.py [--out bench/results/lab.txt]

It destroys the current lab first and leaves a fresh lab up at the end. The cached base
roots are moved aside for the cold run and put back afterwards (the cold run's new base
is kept in their place). The apt cache's packages are not touched (they do not affect
the lab build, which installs no packages). Traffic: only the apt cache on this host,
which reaches Debian's registry for debootstrap.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
CACHE = "/var/cache/ostack-lab"
ASIDE = "/var/cache/ostack-lab.bench-aside"


def playbook(name):
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), f"playbooks/{name}"], cwd=REPO,
                          capture_output=True, text=True)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost ")]
    return took, recap[-1].split(":", 1)[1].strip() if recap else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "lab.txt"))
    args = parser.parse_args()

    playbook("lab-destroy.yml")
    if os.path.exists(ASIDE):
        shutil.rmtree(ASIDE)
    if os.path.isdir(CACHE):
        os.rename(CACHE, ASIDE)
    try:
        cold, cold_recap = playbook("lab.yml")
    finally:
        if os.path.isdir(ASIDE):
            shutil.rmtree(ASIDE)
    playbook("lab-destroy.yml")
    warm, warm_recap = playbook("lab.yml")
    idle, idle_recap = playbook("lab.yml")

    lines = [
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.uname().nodename}, {os.cpu_count()} cores",
        "# command: .venv/bin/python bench/bench_lab.py",
        f"cold lab.yml (debootstrap + 2 nodes): {cold:7.1f} s   [{cold_recap}]",
        f"warm lab.yml (cached base, new nodes): {warm:7.1f} s   [{warm_recap}]",
        f"idle lab.yml (all up, re-run):         {idle:7.1f} s   [{idle_recap}]",
        f"ratio cold/warm: {cold / warm:.2f}",
        f"ratio warm/idle: {warm / idle:.2f}",
        f"ratio cold/idle: {cold / idle:.2f}",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
