#!/usr/bin/env python3
"""Concurrent clients against the deployed cloud's APIs: a mix of list, create and delete.

    .venv/bin/python bench/bench_api_load.py [--clients 4] [--rounds 6] [--out bench/results/api-load.txt]

For each API (identity, image, placement, compute, network, object-store, orchestration,
block-storage, metric, alarming, database) it runs --clients threads at
once, each with its own session as the demo user (the admin for placement), each doing
--rounds rounds of that API's mix (below). Every request has a 30 s timeout; the whole run
stops at --deadline seconds. It prints, per API, the requests, errors, timeouts and the
p50/p95/max latency, and exits 1 on any error or timeout. tests/e2e/test_deploy.py runs it
after verify.yml. Traffic: only the cloud's API addresses from the clouds.yaml the
deploy wrote (the lab's management network).

The mixes (every object it creates is named load-<run>-..., and deleted in the same round):
  identity   issue a new token, list the user's projects, read the token's own project
  image      list images, create an image record (no data), show it, delete it
  placement  list resource providers, list the usages of the first one
  compute    list servers, list flavors, create a keypair, delete it
  network    list networks, ports, routers and security groups; create a network with a
             subnet and a port, delete all three (the DHCP agent serves each new subnet)
  object-store   list containers; create one, put a 64 KiB object, get it, delete both
  orchestration  list stacks; create a one-resource stack, wait for it, delete it
  block-storage  list volumes; create a 1 GiB volume, wait until available, delete it
  metric     list resources; create a metric, post 10 measures, read them back
             (refresh=true: aggregated on the spot), delete the metric
  alarming   list alarms; create an event alarm, show it, delete it
  database   list datastores, the first one's versions, the project's instances and the
             flavors (Trove's eventlet API; creating an instance takes minutes under TCG: the
             verify does that)
"""
import argparse
import logging
import os
import re
import statistics
import sys
import threading
import time
import uuid

import openstack
import yaml

CLOUDS = os.path.expanduser("~/.config/ostack/clouds.yaml")
TIMEOUT = 30
PORTS = {"5000": "identity", "9292": "image", "8778": "placement", "8774": "compute", "9696": "network",
         "8080": "object-store", "8004": "orchestration", "8776": "block-storage", "8041": "metric",
         "8042": "alarming", "8779": "database"}
STACK_TEMPLATE = {"heat_template_version": "2021-04-16",
                  "resources": {"secret": {"type": "OS::Heat::RandomString", "properties": {"length": 12}}}}


class RetryCounter(logging.Handler):
    """Counts keystoneauth's "Unable to establish connection ... Retrying" warnings per API:
    requests that succeeded only on the client's automatic retry (reported, not hidden)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.counts = {}

    def emit(self, record):
        message = record.getMessage()
        if "Retrying" in message:
            m = re.search(r"https?://[^/:]+:(\d+)", message)
            api = PORTS.get(m.group(1), "other") if m else "other"
            self.counts[api] = self.counts.get(api, 0) + 1


def connect(cloud):
    with open(CLOUDS, encoding="utf-8") as handle:
        conf = yaml.safe_load(handle)["clouds"][cloud]
    return openstack.connect(auth_type="password", auth=conf["auth"], region_name=conf.get("region_name"),
                             load_yaml_config=False, load_envvars=False, api_timeout=TIMEOUT)


def identity(conn, tag):
    conn.session.invalidate()
    conn.session.get_token()
    yield "token"
    list(conn.identity.user_projects(conn.current_user_id))
    yield "list own projects"
    conn.identity.get_project(conn.current_project_id)
    yield "show own project"


def image(conn, tag):
    list(conn.image.images(limit=25))
    yield "list images"
    img = conn.image.create_image(name="load-%s" % tag, disk_format="raw", container_format="bare",
                                  visibility="private", allow_duplicates=True)
    yield "create image"
    try:
        conn.image.get_image(img.id)
        yield "show image"
    finally:
        conn.image.delete_image(img.id, ignore_missing=False)
    yield "delete image"


def placement(conn, tag):
    providers = list(conn.placement.resource_providers())
    yield "list providers"
    if providers:
        conn.placement.get("/resource_providers/%s/usages" % providers[0].id, microversion="1.9").raise_for_status()
        yield "provider usages"


def compute(conn, tag):
    list(conn.compute.servers())
    yield "list servers"
    list(conn.compute.flavors())
    yield "list flavors"
    key = conn.compute.create_keypair(name="load-%s" % tag)
    yield "create keypair"
    conn.compute.delete_keypair(key, ignore_missing=False)
    yield "delete keypair"


def network(conn, tag):
    for what in ("networks", "ports", "routers", "security_groups"):
        list(getattr(conn.network, what)())
        yield "list " + what
    net = conn.network.create_network(name="load-%s" % tag)
    yield "create network"
    try:
        # Each client's network is its own, so the same small range does for all of them.
        subnet = conn.network.create_subnet(network_id=net.id, name="load-%s" % tag, ip_version=4,
                                            cidr="10.254.0.0/28", enable_dhcp=True)
        yield "create subnet"
        port = conn.network.create_port(network_id=net.id, name="load-%s" % tag)
        yield "create port"
        conn.network.delete_port(port, ignore_missing=False)
        yield "delete port"
        conn.network.delete_subnet(subnet, ignore_missing=False)
        yield "delete subnet"
    finally:
        conn.network.delete_network(net, ignore_missing=True)
    yield "delete network"


def object_store(conn, tag):
    list(conn.object_store.containers())
    yield "list containers"
    container, data = "load-%s" % tag, os.urandom(64 * 1024)
    conn.object_store.create_container(name=container)
    yield "create container"
    try:
        conn.object_store.upload_object(container=container, name="blob", data=data)
        yield "put object"
        if conn.object_store.download_object("blob", container=container) != data:
            raise AssertionError("object %s/blob came back different" % container)
        yield "get object"
        conn.object_store.delete_object("blob", container=container, ignore_missing=False)
        yield "delete object"
    finally:
        conn.object_store.delete_object("blob", container=container, ignore_missing=True)
        delete_container(conn, container)
    yield "delete container"


def delete_container(conn, container):
    """Delete an emptied container. A container server that was busy takes an object's delete
    a moment later (an async update): the container is "not empty" (409) until then, so try
    for up to 10 s; the last try's error is raised."""
    for _ in range(20):
        try:
            conn.object_store.delete_container(container, ignore_missing=True)
            return
        except openstack.exceptions.ConflictException:
            time.sleep(0.5)
    conn.object_store.delete_container(container, ignore_missing=True)


def orchestration(conn, tag):
    list(conn.orchestration.stacks())
    yield "list stacks"
    stack = conn.orchestration.create_stack(name="load-%s" % tag, template=STACK_TEMPLATE, timeout_mins=5)
    yield "create stack"
    try:
        conn.orchestration.wait_for_status(stack, status="CREATE_COMPLETE", failures=["CREATE_FAILED"],
                                           interval=1, wait=TIMEOUT)
        yield "stack complete"
    finally:
        conn.orchestration.delete_stack(stack, ignore_missing=True)
    conn.orchestration.wait_for_delete(stack, interval=1, wait=TIMEOUT)
    yield "stack deleted"


def block_storage(conn, tag):
    list(conn.block_storage.volumes())
    yield "list volumes"
    volume = conn.block_storage.create_volume(name="load-%s" % tag, size=1)
    yield "create volume"
    try:
        conn.block_storage.wait_for_status(volume, status="available", failures=["error"], interval=1, wait=TIMEOUT)
        yield "volume available"
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)
    conn.block_storage.wait_for_delete(volume, interval=1, wait=TIMEOUT)
    yield "volume deleted"


def _rest(conn, service_type, method, path, **kwargs):
    """A request to a service the SDK has no proxy for, through its keystoneauth session (raises on an error)."""
    return conn.session.request(path, method, endpoint_filter={"service_type": service_type, "interface": "public"},
                                timeout=TIMEOUT, **kwargs)


def metric(conn, tag):
    _rest(conn, "metric", "GET", "/v1/resource/generic?limit=10")
    yield "list resources"
    made = _rest(conn, "metric", "POST", "/v1/metric", json={"name": "load-%s" % tag, "archive_policy_name": "low"}).json()
    yield "create metric"
    try:
        now = time.time()
        points = [{"timestamp": now - 60 * i, "value": float(i)} for i in range(10)]
        _rest(conn, "metric", "POST", "/v1/metric/%s/measures" % made["id"], json=points)
        yield "post measures"
        read = _rest(conn, "metric", "GET", "/v1/metric/%s/measures?refresh=true" % made["id"]).json()
        if not read:
            raise AssertionError("metric %s has no measures after 10 were posted" % made["id"])
        yield "read measures"
    finally:
        _rest(conn, "metric", "DELETE", "/v1/metric/%s" % made["id"])
    yield "metric deleted"


def alarming(conn, tag):
    _rest(conn, "alarming", "GET", "/v2/alarms")
    yield "list alarms"
    made = _rest(conn, "alarming", "POST", "/v2/alarms",
                 json={"name": "load-%s" % tag, "type": "event", "event_rule": {"event_type": "compute.instance.update"}}).json()
    yield "create alarm"
    try:
        _rest(conn, "alarming", "GET", "/v2/alarms/%s" % made["alarm_id"])
        yield "show alarm"
    finally:
        _rest(conn, "alarming", "DELETE", "/v2/alarms/%s" % made["alarm_id"])
    yield "alarm deleted"


def database(conn, tag):
    stores = _rest(conn, "database", "GET", "/datastores").json()["datastores"]
    yield "list datastores"
    if not stores:
        raise AssertionError("Trove lists no datastore")
    _rest(conn, "database", "GET", "/datastores/%s/versions" % stores[0]["id"])
    yield "list versions"
    _rest(conn, "database", "GET", "/instances")
    yield "list instances"
    _rest(conn, "database", "GET", "/flavors")
    yield "list flavors"


MIXES = {"identity": (identity, "ostack-demo"), "image": (image, "ostack-demo"),
         "placement": (placement, "ostack-admin"), "compute": (compute, "ostack-demo"),
         "network": (network, "ostack-demo"), "object-store": (object_store, "ostack-demo"),
         "orchestration": (orchestration, "ostack-demo"), "block-storage": (block_storage, "ostack-demo"),
         "metric": (metric, "ostack-demo"), "alarming": (alarming, "ostack-demo"),
         "database": (database, "ostack-demo")}


def run(clients=4, rounds=6, deadline=300.0, apis=None):
    """{api: {"latencies": [s], "errors": [str], "timeouts": int, "requests": int}}"""
    run_id = uuid.uuid4().hex[:8]
    retries = RetryCounter()
    logging.getLogger("keystoneauth").addHandler(retries)
    logging.getLogger("keystoneauth").propagate = False
    stop_at = time.monotonic() + deadline
    results = {api: {"latencies": [], "errors": [], "timeouts": 0, "requests": 0} for api in (apis or MIXES)}
    lock = threading.Lock()

    def client(api, number):
        mix, cloud = MIXES[api]
        try:
            conn = connect(cloud)
        except Exception as err:  # noqa: BLE001 - every failure is a finding
            with lock:
                results[api]["errors"].append("connect: %s" % err)
            return
        for r in range(rounds):
            if time.monotonic() > stop_at:
                with lock:
                    results[api]["errors"].append("client %d: deadline reached at round %d" % (number, r))
                return
            tag = "%s-%s-%d-%d" % (run_id, api, number, r)
            steps = mix(conn, tag)
            while True:
                start = time.monotonic()
                try:
                    step = next(steps)
                except StopIteration:
                    break
                except Exception as err:  # noqa: BLE001
                    took = time.monotonic() - start
                    text = "%s: %s" % (type(err).__name__, str(err).splitlines()[0][:200] if str(err) else "")
                    with lock:
                        results[api]["requests"] += 1
                        if took >= TIMEOUT or "timed out" in text.lower() or "Timeout" in type(err).__name__:
                            results[api]["timeouts"] += 1
                        results[api]["errors"].append(text)
                    break
                with lock:
                    results[api]["requests"] += 1
                    results[api]["latencies"].append(time.monotonic() - start)
        conn.close()

    threads = [threading.Thread(target=client, args=(api, n), daemon=True)
               for api in results for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, stop_at - time.monotonic()) + TIMEOUT)
    for api in results:
        if any(t.is_alive() for t in threads):
            results[api]["errors"].append("a client was still running after the deadline")
            break
    logging.getLogger("keystoneauth").removeHandler(retries)
    for api in results:
        results[api]["retried"] = retries.counts.get(api, 0)
    return results


def report(results, clients, rounds):
    lines = ["%-13s %8s %7s %8s %8s %8s %8s %8s" % ("api", "requests", "errors", "timeouts", "retried", "p50 s",
                                                   "p95 s", "max s")]
    for api, res in results.items():
        lat = sorted(res["latencies"]) or [0.0]
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        lines.append("%-13s %8d %7d %8d %8d %8.2f %8.2f %8.2f" % (
            api, res["requests"], len(res["errors"]), res["timeouts"], res.get("retried", 0),
            statistics.median(lat), p95, lat[-1]))
    lines.append("(%d concurrent clients per API, %d rounds each, all APIs at once; retried: requests that"
                 " went through only on the client's automatic reconnect)" % (clients, rounds))
    for api, res in results.items():
        for err in res["errors"][:5]:
            lines.append("error %s: %s" % (api, err))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--out", help="append the report to this file")
    args = parser.parse_args()
    if not 1 <= args.clients <= 16 or not 1 <= args.rounds <= 50:
        sys.exit("bench_api_load: --clients must be 1-16 and --rounds 1-50 (a bounded load, not a flood)")
    start = time.monotonic()
    results = run(args.clients, args.rounds, args.deadline)
    lines = ["# %s, %d s, command: .venv/bin/python bench/bench_api_load.py --clients %d --rounds %d"
             % (time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic() - start, args.clients, args.rounds)]
    lines += report(results, args.clients, args.rounds)
    print("\n".join(lines))
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")
    sys.exit(1 if any(r["errors"] or r["timeouts"] for r in results.values()) else 0)


if __name__ == "__main__":
    main()
