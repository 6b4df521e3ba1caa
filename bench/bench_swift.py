#!/usr/bin/env python3
"""Swift throughput through the proxy, as the demo user: uploads and downloads, one client
and several at once.

    .venv/bin/python bench/bench_swift.py [--size-mb 8] [--objects 8] [--clients 4] [--out bench/results/swift.txt]

One run: a container of its own; --objects objects of --size-mb MiB of random data uploaded
by one client, then downloaded by one client (each compared with what was sent); then the
same again with --clients clients at once (each its own session), objects split between
them. It prints MiB/s of each phase and the ratios measured in this run (download/upload,
N clients/1 client), and deletes everything it made. Traffic: only the object-store
endpoint of the clouds.yaml the deploy wrote (the lab's management network).
"""
import argparse
import concurrent.futures
import hashlib
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_api_load  # noqa: E402  (connect(): the deploy's clouds.yaml)


def _phase(clients, work, count):
    """Run work(conn, index) for index 0..count-1, split over `clients` sessions; return seconds."""
    conns = [bench_api_load.connect("ostack-demo") for _ in range(clients)]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: work(conns[i % clients], i), range(count)))
    took = time.monotonic() - start
    for conn in conns:
        conn.close()
    return took


def run(size_mb, objects, clients):
    container = "bench-swift-%s" % uuid.uuid4().hex[:8]
    blobs = [os.urandom(size_mb * 1024 * 1024) for _ in range(objects)]
    digests = [hashlib.sha256(b).hexdigest() for b in blobs]
    admin = bench_api_load.connect("ostack-demo")
    admin.object_store.create_container(name=container)
    results = {}
    try:
        for n in (1, clients):
            def upload(conn, i):
                conn.object_store.upload_object(container=container, name="o%d" % i, data=blobs[i])

            def download(conn, i):
                data = conn.object_store.download_object("o%d" % i, container=container)
                if hashlib.sha256(data).hexdigest() != digests[i]:
                    raise AssertionError("object o%d came back different" % i)

            total = size_mb * objects
            results["upload_%d" % n] = total / _phase(n, upload, objects)
            results["download_%d" % n] = total / _phase(n, download, objects)
    finally:
        for i in range(objects):
            admin.object_store.delete_object("o%d" % i, container=container, ignore_missing=True)
        bench_api_load.delete_container(admin, container)
        admin.close()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=8)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", help="append the report to this file")
    args = parser.parse_args()
    if not 1 <= args.size_mb <= 64 or not 1 <= args.objects <= 32 or not 2 <= args.clients <= 8:
        sys.exit("bench_swift: --size-mb 1-64, --objects 1-32, --clients 2-8 (a bounded load, not a flood)")
    start = time.monotonic()
    r = run(args.size_mb, args.objects, args.clients)
    c = args.clients
    lines = ["# %s, %d s, command: .venv/bin/python bench/bench_swift.py --size-mb %d --objects %d --clients %d"
             % (time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic() - start, args.size_mb, args.objects, c),
             "%-22s %10s" % ("phase", "MiB/s"),
             "%-22s %10.1f" % ("upload, 1 client", r["upload_1"]),
             "%-22s %10.1f" % ("download, 1 client", r["download_1"]),
             "%-22s %10.1f" % ("upload, %d clients" % c, r["upload_%d" % c]),
             "%-22s %10.1f" % ("download, %d clients" % c, r["download_%d" % c]),
             "ratios: download/upload %.2f (1 client), %.2f (%d clients); %d clients/1: upload %.2f, download %.2f"
             % (r["download_1"] / r["upload_1"], r["download_%d" % c] / r["upload_%d" % c], c, c,
                r["upload_%d" % c] / r["upload_1"], r["download_%d" % c] / r["download_1"])]
    print("\n".join(lines))
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
