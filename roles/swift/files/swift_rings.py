#!/usr/bin/python3
"""Build or update Swift's account, container and object rings to match a wanted device list.

Run on the ring host with Debian's python3-swift:
    swift_rings.py [--check] '<json>'
where json is {"dir", "part_power", "replicas", "min_part_hours",
               "rings": {"account": port, ...},
               "devices": [{"region", "zone", "ip", "device", "weight"}]}.
Each ring gets every wanted device at the ring's port. A builder that does not exist is
created; devices are added, re-weighted or removed only when the list differs from the
builder, and the ring is rebalanced only then. A ring file that is missing or older than
its builder is written again. The part power of an existing ring never changes (Swift
cannot do that in place): a different one is an error. With --check nothing is written.
Prints one JSON line: {"changed": bool, "rings": {name: [what was done, ...]}}; exit 2 on
an error, with the reason on stderr.
"""
import json
import os
import sys


def plan(current, wanted):
    """Devices to add, re-weight and remove, from the builder's devices and the wanted ones.

    current: the builder's devs list (None for removed slots), dicts with id, ip, port,
    device, weight, region, zone; wanted: dicts with ip, port, device, weight, region, zone.
    Devices are the same when ip, port and device are. Returns (add, reweight, remove):
    add: wanted dicts; reweight: [(id, weight)]; remove: [id]. A device whose region or
    zone changed is removed and added again (Swift has no in-place move).
    """
    def key(dev):
        return (dev["ip"], int(dev["port"]), dev["device"])

    have = {key(d): d for d in current if d is not None}
    want = {}
    for dev in wanted:
        if key(dev) in want:
            raise ValueError("device %s:%s/%s is listed twice" % key(dev))
        want[key(dev)] = dev
    add, reweight, remove = [], [], []
    for k, dev in sorted(want.items()):
        old = have.get(k)
        if old is None:
            add.append(dev)
        elif (int(old["region"]), int(old["zone"])) != (int(dev["region"]), int(dev["zone"])):
            remove.append(old["id"])
            add.append(dev)
        elif float(old["weight"]) != float(dev["weight"]):
            reweight.append((old["id"], float(dev["weight"])))
    for k, old in sorted(have.items()):
        if k not in want:
            remove.append(old["id"])
    return add, reweight, sorted(remove)


def update_ring(name, port, spec, check):
    from swift.common.ring import RingBuilder, RingData

    builder_path = os.path.join(spec["dir"], name + ".builder")
    ring_path = os.path.join(spec["dir"], name + ".ring.gz")
    done = []
    if os.path.exists(builder_path):
        builder = RingBuilder.load(builder_path)
        if builder.part_power != int(spec["part_power"]):
            raise ValueError("%s has part power %d, the inventory asks for %d; Swift cannot change it in place. "
                             "Set swift_part_power back to %d." % (builder_path, builder.part_power,
                                                                   int(spec["part_power"]), builder.part_power))
    else:
        builder = RingBuilder(int(spec["part_power"]), float(spec["replicas"]), int(spec["min_part_hours"]))
        done.append("created")
    if float(builder.replicas) != float(spec["replicas"]):
        builder.set_replicas(float(spec["replicas"]))
        done.append("replicas %s" % spec["replicas"])
    if builder.min_part_hours != int(spec["min_part_hours"]):
        builder.change_min_part_hours(int(spec["min_part_hours"]))
        done.append("min_part_hours %s" % spec["min_part_hours"])
    wanted = [dict(d, port=port) for d in spec["devices"]]
    add, reweight, remove = plan(builder.devs, wanted)
    for dev_id in remove:
        builder.remove_dev(dev_id)
        done.append("removed device %d" % dev_id)
    for dev_id, weight in reweight:
        builder.set_dev_weight(dev_id, weight)
        done.append("weight of device %d: %s" % (dev_id, weight))
    for dev in add:
        builder.add_dev({"region": int(dev["region"]), "zone": int(dev["zone"]), "ip": dev["ip"],
                         "port": int(dev["port"]), "device": dev["device"], "weight": float(dev["weight"]),
                         "replication_ip": dev["ip"], "replication_port": int(dev["port"]), "meta": ""})
        done.append("added %s:%s/%s" % (dev["ip"], dev["port"], dev["device"]))
    if done:
        if len([d for d in builder.devs if d is not None]) < builder.replicas:
            raise ValueError("%s: %d device(s) for %s replicas; add devices or lower swift_replicas."
                             % (name, len([d for d in builder.devs if d is not None]), spec["replicas"]))
        moved, _balance, _removed = builder.rebalance()
        done.append("rebalanced (%d partitions moved)" % moved)
    ring_fresh = (not done and os.path.exists(ring_path)
                  and builder.get_ring().to_dict() == RingData.load(ring_path).to_dict())
    if not ring_fresh and not done:
        done.append("ring file written again")
    if done and not check:
        builder.save(builder_path)
        builder.get_ring().save(ring_path)
    return done


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    spec = json.loads(args[0])
    result = {"changed": False, "rings": {}}
    try:
        for name, port in sorted(spec["rings"].items()):
            done = update_ring(name, int(port), spec, check)
            result["rings"][name] = done
            result["changed"] = result["changed"] or bool(done)
    except ValueError as err:
        sys.stderr.write("%s\n" % err)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
