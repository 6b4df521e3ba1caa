#!/usr/bin/python3
"""Make the cluster's cephx entities and pools what the inventory says, changing only
what differs. Run on a monitor host with the admin keyring.

    ceph_reconcile.py [--check] < spec.json

spec: {"entities": [{"entity", "key", "caps": {daemon: caps}}],
       "pools": [{"name", "size", "min_size", "pg_num", "application"}],
       "allow_size_one": bool}
Prints one JSON line: {"changed": [what changed, or would]}. Keys never reach stdout.
"""
import json
import os
import subprocess
import sys
import tempfile


def ceph(*args, stdin=None, ok=(0,)):
    proc = subprocess.run(("ceph",) + args, input=stdin, capture_output=True, text=True, timeout=120)
    if proc.returncode not in ok:
        raise SystemExit("ceph %s failed (rc %d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()[-500:]))
    return proc


def keyring_text(entity):
    lines = ["[%s]" % entity["entity"], "\tkey = %s" % entity["key"]]
    lines += ['\tcaps %s = "%s"' % (daemon, caps) for daemon, caps in sorted(entity["caps"].items())]
    return "\n".join(lines) + "\n"


def entities(spec, check, changed):
    for entity in spec.get("entities", []):
        proc = ceph("auth", "get", entity["entity"], "-f", "json", ok=(0, 2))
        have = json.loads(proc.stdout)[0] if proc.returncode == 0 and proc.stdout.strip() else None
        if have and have.get("key") == entity["key"] and have.get("caps", {}) == entity["caps"]:
            continue
        changed.append("%s %s" % ("key" if have is None else "key/caps of", entity["entity"]))
        if check:
            continue
        with tempfile.NamedTemporaryFile("w", dir="/run", prefix="ceph-import-", delete=True) as handle:
            os.chmod(handle.name, 0o600)
            handle.write(keyring_text(entity))
            handle.flush()
            ceph("auth", "import", "-i", handle.name)


def pools(spec, check, changed):
    have = set(json.loads(ceph("osd", "pool", "ls", "-f", "json").stdout))
    for pool in spec.get("pools", []):
        name = pool["name"]
        if name not in have:
            changed.append("pool %s created" % name)
            if check:
                continue
            ceph("osd", "pool", "create", name, str(pool["pg_num"]))
        for option in ("size", "min_size"):
            if name in have:
                now = json.loads(ceph("osd", "pool", "get", name, option, "-f", "json").stdout)[option]
                if int(now) == int(pool[option]):
                    continue
                changed.append("pool %s %s %s -> %s" % (name, option, now, pool[option]))
            if check:
                continue
            extra = ("--yes-i-really-mean-it",) if option == "size" and int(pool[option]) == 1 else ()
            ceph("osd", "pool", "set", name, option, str(pool[option]), *extra)
        apps = json.loads(ceph("osd", "pool", "application", "get", name, "-f", "json", ok=(0, 2)).stdout or "{}") \
            if name in have else {}
        if pool["application"] not in apps:
            if name in have:
                changed.append("pool %s application %s" % (name, pool["application"]))
            if not check:
                ceph("osd", "pool", "application", "enable", name, pool["application"])


def main():
    check = "--check" in sys.argv[1:]
    spec = json.load(sys.stdin)
    changed = []
    entities(spec, check, changed)
    pools(spec, check, changed)
    print(json.dumps({"changed": changed}))


if __name__ == "__main__":
    main()
