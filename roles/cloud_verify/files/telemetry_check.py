#!/usr/bin/env python3
"""Telemetry, end to end, through Gnocchi's and Aodh's REST APIs (keystoneauth session of
the OpenStack SDK, no CLI), as the demo user.

    telemetry_check.py measures SERVER_ID TIMEOUT
    telemetry_check.py alarm    SERVER_ID ALARM_NAME POLL_INTERVAL TIMEOUT
    telemetry_check.py ended    SERVER_ID ALARM_NAME TIMEOUT
    telemetry_check.py clean    ALARM_NAME

Credentials come from the environment, never the command line: OSTACK_DEMO_AUTH, a JSON
dict in the form of openstack.cloud's auth.

measures  waits until the server is a Gnocchi resource of type instance whose cpu metric
          and memory metric (memory.resident, else memory.usage) have measures; prints
          JSON {resource_after_s, first_measure_after_s, seen_after_s, metrics: {name:
          measures}}: when Gnocchi got the resource (its first revision), the time of its
          first measure (at the finest granularity) and when this check saw them, counted
          from the server's launch (Nova's launched_at).
alarm     creates a Gnocchi threshold alarm on the server's cpu metric (mean above 0 ns,
          one period of the smallest archive granularity that is at least POLL_INTERVAL
          and 60 s), and waits until it leaves "insufficient data"; prints {alarm_id, state,
          granularity, state_after_s}.
ended     deletes the alarm (and proves it gone), then waits until the server's resource
          has an ended_at (the instance's delete event); prints {ended_at, ended_after_s}.
clean     deletes alarms named ALARM_NAME that a failed run left; quiet when there are none.
Exit 1 with the reason on stderr when a step fails or a wait runs out.
"""
import datetime
import json
import os
import re
import sys
import time

import openstack

METRIC = {"service_type": "metric", "interface": "public"}
ALARMING = {"service_type": "alarming", "interface": "public"}
MEMORY_METRICS = ("memory.resident", "memory.usage")


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def connect():
    return openstack.connect(auth=json.loads(os.environ["OSTACK_DEMO_AUTH"]), auth_type="password")


def call(conn, method, path, where, ok=(200,), **kwargs):
    response = conn.session.request(path, method, endpoint_filter=where, raise_exc=False, **kwargs)
    if response.status_code not in ok:
        fail("%s %s answered %s: %s" % (method, path, response.status_code, response.text[:500]))
    return response


def timestamp(text):
    """Seconds since the epoch of an ISO 8601 time (Nova's and Gnocchi's, with or without a zone)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def seconds(span):
    """Seconds of a Gnocchi granularity: a number, or a timedelta text such as 0:01:00 or 1 day, 0:00:00."""
    if isinstance(span, (int, float)):
        return float(span)
    match = re.fullmatch(r"(?:(\d+) days?, )?(\d+):(\d+):(\d+(?:\.\d+)?)", str(span).strip())
    if not match:
        fail("cannot read the granularity %r" % (span,))
    days, hours, minutes, secs = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs)


def launched_at(conn, server_id):
    server = conn.compute.get_server(server_id)
    return timestamp(server.launched_at or server.created_at)


def resource(conn, server_id, ok=(200,)):
    return call(conn, "GET", "/v1/resource/instance/%s" % server_id, METRIC, ok=ok)


def measures(conn, metric_id):
    return call(conn, "GET", "/v1/metric/%s/measures?refresh=true" % metric_id, METRIC).json()


def wait_measures(conn, server_id, timeout):
    launched = launched_at(conn, server_id)
    deadline = time.monotonic() + timeout
    seen = False
    found = {}
    while time.monotonic() < deadline:
        answer = resource(conn, server_id, ok=(200, 404))
        if answer.status_code == 200:
            seen = True
            metrics = answer.json().get("metrics", {})
            for name in ("cpu",) + MEMORY_METRICS:
                if name in metrics and name not in found:
                    points = measures(conn, metrics[name])
                    if points:
                        found[name] = points
            if "cpu" in found and any(name in found for name in MEMORY_METRICS):
                first = min(timestamp(point[0]) for points in found.values() for point in points
                            if point[1] == min(p[1] for p in points))
                history = call(conn, "GET", "/v1/resource/instance/%s/history" % server_id, METRIC).json()
                return {"resource_after_s": round(timestamp(history[0]["revision_start"]) - launched, 1),
                        "first_measure_after_s": round(first - launched, 1),
                        "seen_after_s": round(time.time() - launched, 1),
                        "metrics": {name: len(points) for name, points in found.items()}}
        time.sleep(3)
    fail("after %ss, instance %s is %s in Gnocchi, with measures of %s (cpu and one of %s wanted)"
         % (timeout, server_id, "a resource" if seen else "no resource",
            sorted(found) or "no metric", ", ".join(MEMORY_METRICS)))


def granularity(conn, server_id, poll_interval):
    metric_id = resource(conn, server_id).json()["metrics"]["cpu"]
    policy = call(conn, "GET", "/v1/metric/%s" % metric_id, METRIC).json()["archive_policy"]
    spans = sorted(seconds(item["granularity"]) for item in policy["definition"])
    usable = [span for span in spans if span >= max(poll_interval, 60)]
    if not usable:
        fail("archive policy %s has no granularity of at least %s s: %s" % (policy["name"], max(poll_interval, 60), spans))
    return int(usable[0])


def clean(conn, name):
    alarms = call(conn, "GET", "/v2/alarms?q.field=name&q.op=eq&q.value=%s" % name, ALARMING).json()
    for alarm in alarms:
        call(conn, "DELETE", "/v2/alarms/%s" % alarm["alarm_id"], ALARMING, ok=(204, 404))
    return len(alarms)


def alarm(conn, server_id, name, poll_interval, timeout):
    clean(conn, name)
    span = granularity(conn, server_id, poll_interval)
    body = {"name": name, "type": "gnocchi_resources_threshold", "severity": "low",
            "gnocchi_resources_threshold_rule": {
                "metric": "cpu", "resource_type": "instance", "resource_id": server_id,
                "aggregation_method": "mean", "granularity": span, "evaluation_periods": 1,
                "comparison_operator": "gt", "threshold": 0}}
    created = call(conn, "POST", "/v2/alarms", ALARMING, ok=(201,), json=body).json()
    start = time.monotonic()
    state = created["state"]
    while time.monotonic() - start < timeout:
        state = call(conn, "GET", "/v2/alarms/%s" % created["alarm_id"], ALARMING).json()["state"]
        if state != "insufficient data":
            return {"alarm_id": created["alarm_id"], "state": state, "granularity": span,
                    "state_after_s": round(time.monotonic() - start, 1)}
        time.sleep(3)
    fail("alarm %s (cpu of %s, granularity %s s) is still %r after %ss"
         % (created["alarm_id"], server_id, span, state, timeout))


def ended(conn, server_id, name, timeout):
    if not clean(conn, name):
        fail("there is no alarm %s to delete" % name)
    left = call(conn, "GET", "/v2/alarms?q.field=name&q.op=eq&q.value=%s" % name, ALARMING).json()
    if left:
        fail("alarm %s is still there after its delete: %s" % (name, left))
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        end = resource(conn, server_id).json().get("ended_at")
        if end:
            return {"ended_at": end, "ended_after_s": round(time.monotonic() - start, 1)}
        time.sleep(3)
    fail("instance %s's Gnocchi resource has no ended_at %ss after the delete" % (server_id, timeout))


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    command, args = argv[1], argv[2:]
    conn = connect()
    if command == "measures" and len(args) == 2:
        print(json.dumps(wait_measures(conn, args[0], int(args[1]))))
    elif command == "alarm" and len(args) == 4:
        print(json.dumps(alarm(conn, args[0], args[1], int(args[2]), int(args[3]))))
    elif command == "ended" and len(args) == 3:
        print(json.dumps(ended(conn, args[0], args[1], int(args[2]))))
    elif command == "clean" and len(args) == 1:
        clean(conn, args[0])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
